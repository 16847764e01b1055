import json, collections, re, sys, hashlib
import pathlib
P=str(pathlib.Path(__file__).with_name('in_domain.jsonl'))
REASONS=['complaint','refund','cancellation','human_requested','legal_regulatory','security_fraud','negative_sentiment','price_negotiation']
INTENTS='purchase pricing price_negotiation product_info availability order_status booking payment problem complaint refund cancellation human_agent legal_regulatory security_fraud feedback greeting acknowledgement opt_out out_of_scope'.split()
DOMAINS='coaching real_estate clinic retail lending insurance banking travel'.split()
CATS='fresh_high_intent information_request passive_engagement'.split()
LANGS=['en','hinglish','hi']
raw=open(P,encoding='utf-8').read()
assert '\\u' not in raw, 'found \\u escapes'
rows=[json.loads(l) for l in raw.splitlines() if l.strip()]
def split_for(i):
    v=int.from_bytes(hashlib.sha256(('switchboard-triage-v1:'+i).encode()).digest()[:8],'big')%100
    return 'train' if v<70 else 'dev' if v<85 else 'test'
errs=[]
ids=set()
for r in rows:
    keys=set(r)-{'hard'}
    if keys!={'id','text','language','domain','intent','category','escalation_reasons','split'}: errs.append((r['id'],'keys',keys))
    if r['id'] in ids: errs.append((r['id'],'dup id'))
    ids.add(r['id'])
    pre={'en':'en','hinglish':'hg','hi':'hi'}[r['language']]
    if not re.fullmatch(pre+r'-\d{4,5}',r['id']): errs.append((r['id'],'id format'))
    if r['domain'] not in DOMAINS or r['intent'] not in INTENTS or r['category'] not in CATS: errs.append((r['id'],'enum'))
    if any(x not in REASONS for x in r['escalation_reasons']) or len(set(r['escalation_reasons']))!=len(r['escalation_reasons']): errs.append((r['id'],'reasons'))
    h=r.get('hard')
    if h not in (None,'negative','positive'): errs.append((r['id'],'hard'))
    if h=='negative' and r['escalation_reasons']: errs.append((r['id'],'hard neg with reasons'))
    if h=='positive' and not r['escalation_reasons']: errs.append((r['id'],'hard pos w/o reasons'))
    if r['split']!=split_for(r['id']): errs.append((r['id'],'split'))
    if r['language']=='hi' and not re.search('[\u0900-\u097F]',r['text']): errs.append((r['id'],'hi without devanagari'))
    if r['language']!='hi' and re.search('[\u0900-\u097F]',r['text']): errs.append((r['id'],'devanagari in non-hi'))
print('schema errors:',len(errs)); [print('  ',e) for e in errs[:20]]
def table(title,rowkeys,colkeys,get):
    print(f'\n{title}')
    w=max(len(k) for k in rowkeys+['total'])
    print(' '*w+' | '+' | '.join(f'{c:>8}' for c in colkeys)+' |    total')
    tot=collections.Counter()
    for rk in rowkeys:
        vals=[get(rk,c) for c in colkeys]
        for c,v in zip(colkeys,vals): tot[c]+=v
        print(f'{rk:<{w}} | '+' | '.join(f'{v:>8}' for v in vals)+f' | {sum(vals):>8}')
    print(f'{"total":<{w}} | '+' | '.join(f'{tot[c]:>8}' for c in colkeys)+f' | {sum(tot.values()):>8}')
c=collections.Counter()
for r in rows:
    L=r['language']
    for x in r['escalation_reasons']: c[('reason',x,L)]+=1
    c[('intent',r['intent'],L)]+=1
    c[('domain',r['domain'],L)]+=1
    c[('cat',r['category'],L)]+=1
    c[('split',r['split'],L)]+=1
    esc='escalation' if r['escalation_reasons'] else 'non-escalation'
    c[('esc',esc,L)]+=1
    c[('hard',str(r.get('hard')),L)]+=1
    c[('nreasons',str(len(r['escalation_reasons'])),L)]+=1
table('Messages per reason (a message can carry several reasons)',REASONS,LANGS,lambda k,L:c[('reason',k,L)])
table('Escalation vs non-escalation messages',['escalation','non-escalation'],LANGS,lambda k,L:c[('esc',k,L)])
table('Hard examples',['negative','positive'],LANGS,lambda k,L:c[('hard',k,L)])
table('Number of reasons per message',['0','1','2','3'],LANGS,lambda k,L:c[('nreasons',k,L)])
table('Intent',INTENTS,LANGS,lambda k,L:c[('intent',k,L)])
table('Domain',DOMAINS,LANGS,lambda k,L:c[('domain',k,L)])
table('Category',CATS,LANGS,lambda k,L:c[('cat',k,L)])
table('Split',['train','dev','test'],LANGS,lambda k,L:c[('split',k,L)])
# split x reason
cs=collections.Counter()
for r in rows:
    for x in r['escalation_reasons']: cs[(x,r['split'])]+=1
    if not r['escalation_reasons']: cs[('(none)',r['split'])]+=1
table('Reason per split (all languages)',REASONS+['(none)'],['train','dev','test'],lambda k,s:cs[(k,s)])
def norm(t): return ' '.join(re.sub(r'[!-/:-@\[-`{-~।॥…]+',' ',t.lower()).split())
exact=collections.Counter(r['text'] for r in rows)
normd=collections.Counter(norm(r['text']) for r in rows)
print('\nduplicate texts (exact):',sum(v-1 for v in exact.values() if v>1))
print('duplicate texts (case/punctuation-normalised):',sum(v-1 for v in normd.values() if v>1))
ok=not errs and all(c[('reason',x,L)]>=45 for x in REASONS for L in LANGS) and all(c[('esc','non-escalation',L)]>=max(360,c[('esc','escalation',L)]) for L in LANGS) and all(c[('hard','negative',L)]>=40 for L in LANGS) and sum(v-1 for v in normd.values() if v>1)==0
print('requirements met:',ok)
