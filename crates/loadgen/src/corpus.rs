//! The deliveries the harness sends: realistic Meta webhook bodies, built and
//! signed up front so that generating them is never part of the measurement.
//!
//! Shape follows Meta's own examples
//! (`crates/whatsapp/tests/fixtures/meta-openapi/webhooks/text_message.json`,
//! `image_message.json`, pywa's `message_status.json`): one business number,
//! Indian customers (`wa_id` 91XXXXXXXXXX) with profile names, unique
//! wamids, current unix timestamps as strings. Non-ASCII text is written as
//! `\uXXXX` escapes, as Meta sends it, so the server's "verify the exact
//! bytes" path is exercised with the same byte shapes as production.

use std::collections::HashSet;
use std::fmt::Write as _;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// The business number every delivery is addressed to.
const PHONE_NUMBER_ID: &str = "106540352242922";
/// Its display number.
const DISPLAY_PHONE_NUMBER: &str = "15550783881";
/// The WhatsApp Business Account id (Meta's `entry[].id`).
const WABA_ID: &str = "102290129340398";

/// Share of deliveries that carry delivery/read statuses instead of
/// customer messages (about 3 %, the brief's mix).
const STATUS_SHARE: f64 = 0.03;
/// Share of customer messages that are images with a caption (about 5 %).
const IMAGE_SHARE: f64 = 0.05;
/// Chance that a multi-message delivery puts every message into one
/// `value.messages` array; otherwise each message gets its own `entry`.
/// Meta does both, so the harness does both.
const SAME_VALUE_SHARE: f64 = 0.5;

/// Customer texts, a mix of English, Hinglish and Hindi in the situations
/// the triage rules are written for, as `(weight, texts)` groups. Weights are
/// percentages of text messages and follow a typical sales/support inbox:
/// mostly greetings, pricing questions and acknowledgements, a smaller share
/// of complaints, refunds and requests for a person (the messages that
/// escalate). `{n}` is replaced by a number so bodies are not byte-identical.
const TEXT_GROUPS: &[(u32, &[&str])] = &[
    (
        18,
        &[
            "Hi",
            "Hello! 👋",
            "namaste 🙏",
            "Good morning, is anyone there?",
            "नमस्ते",
        ],
    ),
    (
        24,
        &[
            "Hi, what is the price of the 3 month plan?",
            "price kya hai 3 month batch ka?",
            "How much for the 2BHK on the 4th floor?",
            "₹{n} wala plan hai kya? Thoda discount milega?",
            "thoda discount do toh aaj hi le lunga",
            "Is the ₹{n} price inclusive of GST?",
            "कीमत क्या है? पूरी जानकारी भेजिए",
            "kya EMI option hai?",
        ],
    ),
    (
        10,
        &[
            "When can we sign? We are ready to proceed.",
            "We want to book today, please send the payment link",
            "kal visit kar sakte hain kya? 11 baje?",
            "Is the slot on Saturday still available?",
        ],
    ),
    (
        20,
        &[
            "ok thanks",
            "Ok 👍",
            "thank you so much 🙏",
            "धन्यवाद 🙏",
            "theek hai, baad mein baat karte hain",
        ],
    ),
    (
        13,
        &[
            "Where is my order #{n}? Tracking shows nothing",
            "I want to cancel my subscription",
            "Can you share the brochure?",
            "Do you deliver to Pune?",
        ],
    ),
    (
        6,
        &[
            "I have been waiting for 3 days, this is very bad service 😡",
            "order #{n} abhi tak nahi aaya, bahut ghatiya service",
            "Worst experience. Nobody replies here.",
            "मेरा ऑर्डर अभी तक नहीं आया, बहुत देर हो गई",
        ],
    ),
    (
        5,
        &[
            "I want a refund for order #{n}",
            "paisa kat gaya par order nahi hua, refund chahiye",
            "₹{n} debit ho gaya do baar, refund kab milega?",
            "मुझे रिफंड चाहिए, पैसे कट गए हैं",
            "My card was charged but payment failed, please check",
        ],
    ),
    (
        4,
        &[
            "agent se baat karao",
            "I want to talk to a person, not a bot",
            "kisi insaan se baat karni hai please",
            "इंसान से बात कराओ",
            "Someone called me asking for my OTP, is this you?",
        ],
    ),
];

/// Captions of the image messages (customers sending screenshots and
/// photos of what they mean).
const CAPTIONS: &[&str] = &[
    "payment screenshot",
    "yeh dekho, damaged aaya hai 😡",
    "Is this the model you have in stock?",
    "₹{n} debit hua, screenshot bhej raha hoon",
    "भुगतान का स्क्रीनशॉट",
    "this one please",
    "wrong item delivered",
];

/// First names of the made-up customers.
const FIRST_NAMES: &[&str] = &[
    "Priya", "Rahul", "Anjali", "Karan", "Meera", "Rohit", "Sana", "Vikram", "Aisha", "Arjun",
    "Neha", "Suresh", "Pooja", "Imran", "Kavya", "Deepak", "Fatima", "Manish", "Ritu", "Sandeep",
    "Divya", "Aditya", "Lakshmi", "Harpreet", "Nisha",
];

/// Last names of the made-up customers.
const LAST_NAMES: &[&str] = &[
    "Sharma",
    "Verma",
    "Patel",
    "Iyer",
    "Khan",
    "Singh",
    "Reddy",
    "Nair",
    "Gupta",
    "Mehta",
    "Das",
    "Joshi",
    "Kulkarni",
    "Bose",
    "Chatterjee",
];

/// What to build.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Distinct customer messages.
    pub messages: u64,
    /// Distinct customers.
    pub contacts: u64,
    /// Most messages in one delivery.
    pub batch_max: u32,
    /// Seed of every random choice, and part of every wamid.
    pub seed: u64,
    /// The app secret the bodies are signed with.
    pub secret: String,
    /// The unix time written into every `timestamp`.
    pub now: i64,
}

/// One signed delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The exact bytes sent (and signed).
    pub body: Vec<u8>,
    /// `X-Hub-Signature-256`.
    pub signature: String,
    /// Customer messages inside.
    pub messages: u32,
    /// Status items inside.
    pub statuses: u32,
}

/// Everything the run needs, built before the clock starts.
#[derive(Debug, Default)]
pub struct Corpus {
    /// The original deliveries, in generation order.
    pub deliveries: Vec<Delivery>,
    /// Every customer message's wamid (for the database check).
    pub wamids: Vec<String>,
    /// Distinct customers that sent at least one message.
    pub contacts_used: u64,
    /// Image messages among the customer messages.
    pub images: u64,
    /// Status items (each a distinct `(wamid, status)` pair).
    pub status_items: u64,
    /// Deliveries that carry statuses only.
    pub status_deliveries: u64,
    /// Customer messages whose text or caption has non-ASCII characters.
    pub non_ascii_messages: u64,
}

/// A made-up customer.
#[derive(Debug)]
struct Customer {
    wa_id: String,
    name: String,
}

/// An outbound message whose statuses are still to come.
#[derive(Debug)]
struct Outbound {
    wamid: String,
    recipient: usize,
    conversation_id: String,
    next: usize,
}

/// Meta's status sequence for a delivered message.
const STATUS_SEQUENCE: [&str; 3] = ["sent", "delivered", "read"];

/// Builds and signs the corpus.
pub fn build(spec: &Spec) -> Corpus {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let customers = customers(&mut rng, spec.contacts.max(1));
    let mut used = vec![false; customers.len()];
    let mut corpus = Corpus::default();
    let mut outbound: Vec<Outbound> = Vec::new();
    let mut outbound_seq = 0u64;
    let timestamp = spec.now.to_string();
    let sign = |body: Vec<u8>, messages: u32, statuses: u32| Delivery {
        signature: switchboard_whatsapp::sign(spec.secret.as_bytes(), &body),
        body,
        messages,
        statuses,
    };

    while (corpus.wamids.len() as u64) < spec.messages {
        if rng.random_bool(STATUS_SHARE) {
            let value = status_value(
                &mut rng,
                &customers,
                &mut outbound,
                &mut outbound_seq,
                spec.seed,
                &timestamp,
            );
            corpus.status_items += 1;
            corpus.status_deliveries += 1;
            let body = envelope(vec![entry(vec![value])]);
            corpus.deliveries.push(sign(body, 0, 1));
            continue;
        }
        let left = spec.messages - corpus.wamids.len() as u64;
        let size = u64::from(rng.random_range(1..=spec.batch_max.max(1))).min(left);
        let mut items: Vec<(usize, Value)> = Vec::new();
        for _ in 0..size {
            let who = rng.random_range(0..customers.len());
            used[who] = true;
            let wamid = format!("wamid.load-{}-{}", spec.seed, corpus.wamids.len());
            let (message, image, non_ascii) =
                customer_message(&mut rng, &customers[who], &wamid, &timestamp);
            corpus.images += u64::from(image);
            corpus.non_ascii_messages += u64::from(non_ascii);
            corpus.wamids.push(wamid);
            items.push((who, message));
        }
        let count = items.len() as u32;
        let entries = if items.len() == 1 || rng.random_bool(SAME_VALUE_SHARE) {
            vec![entry(vec![messages_value(&customers, items)])]
        } else {
            items
                .into_iter()
                .map(|item| entry(vec![messages_value(&customers, vec![item])]))
                .collect()
        };
        corpus.deliveries.push(sign(envelope(entries), count, 0));
    }
    corpus.contacts_used = used.iter().filter(|u| **u).count() as u64;
    corpus
}

/// `count` customers with distinct Indian mobile numbers.
fn customers(rng: &mut StdRng, count: u64) -> Vec<Customer> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while (out.len() as u64) < count {
        // Indian mobile numbers start with 6-9 after the country code.
        let number = format!(
            "91{}{:09}",
            rng.random_range(6..=9),
            rng.random_range(0..1_000_000_000u64)
        );
        if !seen.insert(number.clone()) {
            continue;
        }
        let name = format!(
            "{} {}",
            FIRST_NAMES.choose(rng).copied().unwrap_or("Customer"),
            LAST_NAMES.choose(rng).copied().unwrap_or("Load")
        );
        out.push(Customer {
            wa_id: number,
            name,
        });
    }
    out
}

/// Fills `{n}` with a plausible amount or order number.
fn fill(rng: &mut StdRng, template: &str) -> String {
    template.replace("{n}", &rng.random_range(499..99_999u32).to_string())
}

/// One customer message (text, or an image with caption). Returns the
/// message, whether it is an image, and whether it has non-ASCII text.
fn customer_message(
    rng: &mut StdRng,
    from: &Customer,
    wamid: &str,
    timestamp: &str,
) -> (Value, bool, bool) {
    if rng.random_bool(IMAGE_SHARE) {
        let template = CAPTIONS.choose(rng).copied().unwrap_or("photo");
        let caption = fill(rng, template);
        let non_ascii = !caption.is_ascii();
        let sha: [u8; 32] = rng.random();
        let message = json!({
            "from": from.wa_id,
            "id": wamid,
            "timestamp": timestamp,
            "type": "image",
            "image": {
                "caption": caption,
                "mime_type": "image/jpeg",
                "sha256": base64(&sha),
                "id": rng.random_range(1_000_000_000_000_000u64..9_999_999_999_999_999).to_string(),
            }
        });
        return (message, true, non_ascii);
    }
    let group = TEXT_GROUPS
        .choose_weighted(rng, |(weight, _)| *weight)
        .map_or(&[][..], |(_, texts)| *texts);
    let template = group.choose(rng).copied().unwrap_or("hi");
    let text = fill(rng, template);
    let non_ascii = !text.is_ascii();
    let message = json!({
        "from": from.wa_id,
        "id": wamid,
        "timestamp": timestamp,
        "type": "text",
        "text": {"body": text}
    });
    (message, false, non_ascii)
}

/// A `messages` change value carrying `items`, with one `contacts` entry
/// per distinct sender (in order of first appearance, as Meta lists them).
fn messages_value(customers: &[Customer], items: Vec<(usize, Value)>) -> Value {
    let mut senders: Vec<usize> = Vec::new();
    for (who, _) in &items {
        if !senders.contains(who) {
            senders.push(*who);
        }
    }
    let contacts: Vec<Value> = senders
        .iter()
        .filter_map(|i| customers.get(*i))
        .map(|c| json!({"profile": {"name": c.name}, "wa_id": c.wa_id}))
        .collect();
    let messages: Vec<Value> = items.into_iter().map(|(_, m)| m).collect();
    json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": DISPLAY_PHONE_NUMBER,
            "phone_number_id": PHONE_NUMBER_ID
        },
        "contacts": contacts,
        "messages": messages
    })
}

/// A `messages` change value with one status for a made-up outbound
/// message: either a new message's `sent`, or the next step (`delivered`,
/// `read`) of one already sent, so every `(wamid, status)` pair is new.
fn status_value(
    rng: &mut StdRng,
    customers: &[Customer],
    outbound: &mut Vec<Outbound>,
    seq: &mut u64,
    seed: u64,
    timestamp: &str,
) -> Value {
    let index = if outbound.is_empty() || rng.random_bool(0.4) {
        let conversation: [u8; 16] = rng.random();
        outbound.push(Outbound {
            wamid: format!("wamid.load-{seed}-out-{seq}"),
            recipient: rng.random_range(0..customers.len()),
            conversation_id: hex(&conversation),
            next: 0,
        });
        *seq += 1;
        outbound.len() - 1
    } else {
        rng.random_range(0..outbound.len())
    };
    let out = &mut outbound[index];
    let status = STATUS_SEQUENCE[out.next];
    let recipient = customers
        .get(out.recipient)
        .map_or("919800000000", |c| c.wa_id.as_str());
    let mut item = json!({
        "id": out.wamid,
        "status": status,
        "timestamp": timestamp,
        "recipient_id": recipient,
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}
    });
    if status != "read" {
        // Meta drops the conversation object from `read` statuses.
        item["conversation"] = json!({"id": out.conversation_id, "origin": {"type": "service"}});
    }
    out.next += 1;
    if out.next == STATUS_SEQUENCE.len() {
        outbound.swap_remove(index);
    }
    json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": DISPLAY_PHONE_NUMBER,
            "phone_number_id": PHONE_NUMBER_ID
        },
        "statuses": [item]
    })
}

/// One `entry` of the WABA with a `messages` change per value.
fn entry(values: Vec<Value>) -> Value {
    let changes: Vec<Value> = values
        .into_iter()
        .map(|v| json!({"value": v, "field": "messages"}))
        .collect();
    json!({"id": WABA_ID, "changes": changes})
}

/// The top-level body, serialised the way Meta does it: compact JSON with
/// every non-ASCII character as a `\uXXXX` escape (surrogate pairs for
/// emoji).
fn envelope(entries: Vec<Value>) -> Vec<u8> {
    let body = json!({"object": "whatsapp_business_account", "entry": entries});
    escape_non_ascii(&body.to_string()).into_bytes()
}

/// Rewrites non-ASCII characters as JSON `\u` escapes. Valid on serialised
/// JSON because non-ASCII can only occur inside string literals there.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 4);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Standard base64 with padding (Meta's `sha256` field of media).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(messages: u64, batch_max: u32) -> Spec {
        Spec {
            messages,
            contacts: messages / 5,
            batch_max,
            seed: 7,
            secret: "s".into(),
            now: 1_750_000_000,
        }
    }

    #[test]
    fn bodies_parse_into_the_promised_messages() {
        let corpus = build(&spec(2_000, 4));
        assert_eq!(corpus.wamids.len(), 2_000);
        let unique: HashSet<_> = corpus.wamids.iter().collect();
        assert_eq!(unique.len(), 2_000);
        let mut messages = 0;
        let mut statuses = 0;
        for d in &corpus.deliveries {
            assert!(d.body.is_ascii(), "non-ASCII must be escaped");
            assert!(
                switchboard_whatsapp::verify_signature(b"s", &d.body, Some(&d.signature)).is_ok()
            );
            let payload = switchboard_whatsapp::parse(&d.body).unwrap();
            let events = switchboard_whatsapp::events(&payload);
            let (m, s) = events.iter().fold((0, 0), |(m, s), e| match e {
                switchboard_whatsapp::event::Event::Message(_) => (m + 1, s),
                switchboard_whatsapp::event::Event::Status(_) => (m, s + 1),
                other => panic!("unexpected event {other:?}"),
            });
            assert_eq!(m, d.messages);
            assert_eq!(s, d.statuses);
            messages += m;
            statuses += s;
        }
        assert_eq!(u64::from(messages), 2_000);
        assert_eq!(u64::from(statuses), corpus.status_items);
        assert!(corpus.non_ascii_messages > 0);
        assert!(corpus.images > 0);
    }

    #[test]
    fn escapes_like_meta() {
        assert_eq!(escape_non_ascii("₹ 🙏"), "\\u20b9 \\ud83d\\ude4f");
        let back: String =
            serde_json::from_str(&format!("\"{}\"", escape_non_ascii("नमस्ते 🙏"))).unwrap();
        assert_eq!(back, "नमस्ते 🙏");
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
