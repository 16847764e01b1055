#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The three replay input formats on realistic input, and the example
//! corpus in `data/replay/`. One test binary for the crate.
//!
//! Chat-export fixtures are written here by hand (invented businesses and
//! customers; +91 98765 43210 is India's customary placeholder number).
//! Webhook fixtures are Meta's and other MIT-licensed sets, read from
//! `crates/whatsapp/tests/fixtures/` (see its README for attribution).

use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use switchboard_core::model::{Category, Direction, EscalationReason};
use switchboard_replay::chat_export::{self, DateOrder, ExportOptions};
use switchboard_replay::{
    FormatError, InputFormat, MEDIA_OMITTED, Transcript, detect_format, jsonl, webhook_log,
};

fn ts(text: &str) -> Timestamp {
    Timestamp::from_str(text).unwrap()
}

// ------------------------------------------------------------------ JSON Lines

const JSONL_EXAMPLE: &str = r#"// two conversations from a coaching institute's inbox
{"id": "c1", "contact": "+91 98765 43210", "source_id": "120226305854810726", "source_type": "ad", "messages": [{"direction": "outbound", "at": "2026-05-04T10:02:10+05:30", "text": "Hi! Fees are Rs 4,500 a month.", "automated": true, "acceptable": true}, {"direction": "inbound", "at": "2026-05-04T10:00:00+05:30", "text": "NEET batch ki fees kitni hai?", "author": "Ravi", "expected": {"intent": "pricing", "category": "information_request", "escalate": false}}, {"direction": "inbound", "at": "2026-05-04T10:05:00+05:30", "text": "discount milega kya? warna consumer court jaunga", "expected": {"intent": "price_negotiation", "escalation_reasons": ["price_negotiation", "legal_regulatory"]}}], "outcome": {"disposition": "won", "first_response_at": "2026-05-04T10:02:10+05:30", "resolved_at": "2026-05-04T12:00:00Z"}}

{"contact": "Meera", "messages": [{"direction": "inbound", "at": "2026-05-04T04:30:00Z", "text": "<media omitted>"}]}
"#;

#[test]
fn jsonl_reads_a_full_example() {
    let transcripts = jsonl::parse(JSONL_EXAMPLE).unwrap();
    assert_eq!(transcripts.len(), 2);
    let c1 = &transcripts[0];
    assert_eq!(c1.id, "c1");
    assert_eq!(c1.contact, "+91 98765 43210");
    assert_eq!(c1.source_id.as_deref(), Some("120226305854810726"));
    assert_eq!(c1.source_type.as_deref(), Some("ad"));
    // Sorted by time; offsets converted to UTC.
    let times: Vec<Timestamp> = c1.messages.iter().map(|m| m.at).collect();
    assert_eq!(
        times,
        [
            ts("2026-05-04T04:30:00Z"),
            ts("2026-05-04T04:32:10Z"),
            ts("2026-05-04T04:35:00Z")
        ]
    );
    let first = &c1.messages[0];
    assert_eq!(first.direction, Direction::Inbound);
    assert_eq!(first.author.as_deref(), Some("Ravi"));
    let labels = first.expected.as_ref().unwrap();
    assert_eq!(labels.intent.as_deref(), Some("pricing"));
    assert_eq!(labels.category, Some(Category::InformationRequest));
    assert_eq!(labels.escalate, Some(false));
    let reply = &c1.messages[1];
    assert_eq!(reply.direction, Direction::Outbound);
    assert!(reply.automated);
    assert_eq!(reply.acceptable, Some(true));
    let third = c1.messages[2].expected.as_ref().unwrap();
    assert_eq!(
        third.escalation_reasons,
        [
            EscalationReason::PriceNegotiation,
            EscalationReason::LegalRegulatory
        ]
    );
    // Reasons imply escalate.
    assert_eq!(third.escalate, Some(true));
    let outcome = c1.outcome.as_ref().unwrap();
    assert_eq!(outcome.disposition.as_deref(), Some("won"));
    assert_eq!(outcome.resolved_at, Some(ts("2026-05-04T12:00:00Z")));
    assert_eq!(outcome.first_response_at, Some(ts("2026-05-04T04:32:10Z")));
    // The id defaults to the line number.
    assert_eq!(transcripts[1].id, "line-4");
    assert_eq!(transcripts[1].messages[0].text, MEDIA_OMITTED);
    assert_eq!(transcripts[1].outcome, None);
}

#[test]
fn jsonl_round_trips_through_to_line() {
    let transcripts = jsonl::parse(JSONL_EXAMPLE).unwrap();
    let text: String = transcripts
        .iter()
        .map(|t| jsonl::to_line(t).unwrap() + "\n")
        .collect();
    assert_eq!(jsonl::parse(&text).unwrap(), transcripts);
    assert!(!text.contains("null"), "{text}");
}

#[test]
fn jsonl_sort_is_stable_for_equal_times() {
    let line = r#"{"contact": "a", "messages": [
        {"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "second"},
        {"direction": "inbound", "at": "2026-05-04T09:00:00Z", "text": "first"},
        {"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "third"}]}"#
        .replace('\n', " ");
    let t = &jsonl::parse(&line).unwrap()[0];
    let texts: Vec<&str> = t.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first", "second", "third"]);
}

fn jsonl_error(line_2: &str) -> String {
    let input = format!(
        "{}\n{line_2}\n",
        r#"{"contact": "ok", "messages": [{"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "hi"}]}"#
    );
    jsonl::parse(&input).unwrap_err().to_string()
}

fn message_line(message: &Value) -> String {
    json!({"contact": "x", "messages": [message]}).to_string()
}

#[test]
fn jsonl_errors_name_the_line_and_the_field() {
    let inbound = |extra: Value| {
        let mut m =
            json!({"direction": "inbound", "at": "2026-05-04T10:00:00+05:30", "text": "hi"});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        message_line(&m)
    };
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"contact": "x", "messages": [], "agent": "y"}"#.to_owned(),
            "line 2: agent: unknown field; allowed here: id, contact, business_phone, source_id, source_type, messages, outcome",
        ),
        (
            inbound(json!({"lables": {}})),
            "line 2: messages[0].lables: unknown field; allowed here:",
        ),
        (
            message_line(&json!({"direction": "inbound", "text": "hi"})),
            "line 2: messages[0].at: missing (an RFC 3339 time",
        ),
        (
            message_line(&json!({"direction": "inbound", "at": "2026-05-04 10:00:00", "text": "hi"})),
            "line 2: messages[0].at: \"2026-05-04 10:00:00\" is not an RFC 3339 time with a UTC offset",
        ),
        (
            message_line(&json!({"direction": "in", "at": "2026-05-04T10:00:00Z", "text": "hi"})),
            "line 2: messages[0].direction: unknown direction \"in\"; expected one of: inbound, outbound, note",
        ),
        (
            message_line(&json!({"direction": "note", "at": "2026-05-04T10:00:00Z", "text": "hi"})),
            "line 2: messages[0].direction: notes are internal",
        ),
        (
            message_line(&json!({"direction": "inbound", "at": "2026-05-04T10:00:00Z"})),
            "line 2: messages[0].text: missing",
        ),
        (
            inbound(json!({"expected": {"category": "hot_lead"}})),
            "line 2: messages[0].expected.category: unknown category \"hot_lead\"; expected one of: high_intent_return, fresh_high_intent, information_request, passive_engagement",
        ),
        (
            inbound(json!({"expected": {"category": "high_intent"}})),
            "line 2: messages[0].expected.category: \"high_intent\" is a rules-file intent class",
        ),
        (
            inbound(json!({"expected": {"escalation_reasons": ["complaint", "angry"]}})),
            "line 2: messages[0].expected.escalation_reasons[1]: unknown escalation reason \"angry\"",
        ),
        (
            inbound(json!({"expected": {"escalate": false, "escalation_reasons": ["refund"]}})),
            "line 2: messages[0].expected.escalate: false, but escalation_reasons lists reasons",
        ),
        (
            inbound(json!({"expected": {"intent": "pricing", "confidence": 1}})),
            "line 2: messages[0].expected.confidence: unknown field; allowed here: intent, category, escalate, escalation_reasons",
        ),
        (
            inbound(json!({"acceptable": true})),
            "line 2: messages[0].acceptable: labels a business reply; this message is inbound",
        ),
        (
            inbound(json!({"automated": true})),
            "line 2: messages[0].automated: only outbound messages are sent by a bot",
        ),
        (
            message_line(&json!({"direction": "outbound", "at": "2026-05-04T10:00:00Z", "text": "hi",
                                 "expected": {"intent": "pricing"}})),
            "line 2: messages[0].expected: labels what triage should decide for a customer message",
        ),
        (
            r#"{"messages": [{"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "hi"}]}"#.to_owned(),
            "line 2: contact: missing",
        ),
        (
            r#"{"contact": "x", "messages": []}"#.to_owned(),
            "line 2: messages: empty",
        ),
        (
            r#"{"contact": "x", "messages": [{"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "hi"}], "outcome": {"resolved_at": "yesterday"}}"#.to_owned(),
            "line 2: outcome.resolved_at: \"yesterday\" is not an RFC 3339 time",
        ),
        (
            r#"{"contact": "x", "messages": [{"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "hi"}], "outcome": {"result": "won"}}"#.to_owned(),
            "line 2: outcome.result: unknown field; allowed here: disposition, resolved_at, first_response_at",
        ),
        ("{\"contact\": \"x\",".to_owned(), "line 2: invalid JSON at column 16: EOF while parsing a value"),
    ];
    for (line, expected) in cases {
        let error = jsonl_error(&line);
        assert!(
            error.starts_with(expected),
            "for {line}\n  got: {error}\n want: {expected}…"
        );
    }
}

#[test]
fn jsonl_refuses_duplicate_ids_and_empty_input() {
    let line = r#"{"id": "c1", "contact": "x", "messages": [{"direction": "inbound", "at": "2026-05-04T10:00:00Z", "text": "hi"}]}"#;
    let e = jsonl::parse(&format!("{line}\n\n{line}\n")).unwrap_err();
    assert_eq!(e.to_string(), "line 3: id \"c1\" is already used on line 1");
    let e = jsonl::parse("\n// nothing here\n   \n").unwrap_err();
    assert!(matches!(e, FormatError::Empty(_)), "{e}");
    // A byte-order mark and CRLF line ends are fine.
    let t = jsonl::parse(&format!("\u{feff}{line}\r\n")).unwrap();
    assert_eq!(t[0].id, "c1");
}

// --------------------------------------------------------------- chat exports

fn export(text: &str, business: Option<&str>) -> chat_export::Export {
    let opts = ExportOptions {
        business: business.map(str::to_owned),
        ..ExportOptions::new("test-export")
    };
    chat_export::parse(text, &opts).unwrap()
}

fn texts(t: &Transcript) -> Vec<(Direction, &str)> {
    t.messages
        .iter()
        .map(|m| (m.direction, m.text.as_str()))
        .collect()
}

/// Asia/Kolkata is UTC+05:30 all year.
fn ist(local: &str) -> Timestamp {
    ts(&format!("{local}+05:30"))
}

#[test]
fn android_us_12h_two_digit_year() {
    let text = "\
12/31/23, 9:41 PM - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.
12/31/23, 9:41 PM - +1 415 555 0123: Hi, is the blue sofa still for sale?
12/31/23, 9:45 PM - Oak & Pine Furniture: Yes! It is $640 with free delivery.
1/2/24, 10:03 AM - +1 415 555 0123: Great, I'll take it";
    let e = export(text, None);
    assert_eq!(e.system_lines, 1);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    let t = &e.transcript;
    assert_eq!(t.id, "test-export");
    assert_eq!(t.contact, "+1 415 555 0123");
    assert_eq!(
        texts(t),
        [
            (Direction::Inbound, "Hi, is the blue sofa still for sale?"),
            (Direction::Outbound, "Yes! It is $640 with free delivery."),
            (Direction::Inbound, "Great, I'll take it"),
        ]
    );
    assert_eq!(t.messages[0].at, ist("2023-12-31T21:41:00"));
    assert_eq!(t.messages[2].at, ist("2024-01-02T10:03:00"));
    assert_eq!(
        t.messages[1].author.as_deref(),
        Some("Oak & Pine Furniture")
    );
}

#[test]
fn android_dmy_24h_four_digit_year() {
    let text = "\
31/12/2023, 21:41 - +91 98765 43210: Namaste, 2 BHK Wakad mein available hai?
31/12/2023, 21:52 - Sharma Realty: Ji haan, 2 flats available hain. Site visit kab karna chahenge?
01/01/2024, 09:05 - +91 98765 43210: Kal 11 baje";
    let e = export(text, None);
    let t = &e.transcript;
    assert_eq!(t.contact, "+91 98765 43210");
    assert_eq!(t.messages[0].at, ist("2023-12-31T21:41:00"));
    assert_eq!(t.messages[1].direction, Direction::Outbound);
    assert_eq!(t.messages[2].at, ist("2024-01-01T09:05:00"));
    assert!(e.warnings.is_empty());
}

#[test]
fn android_dotted_dates() {
    let text = "\
31.12.23, 21:41 - +49 151 23456789: Haben Sie morgen geöffnet?
31.12.23, 21:50 - Bäckerei Nord: Ja, ab 7 Uhr.";
    let t = export(text, None).transcript;
    assert_eq!(t.messages[0].at, ist("2023-12-31T21:41:00"));
    assert_eq!(texts(&t)[1], (Direction::Outbound, "Ja, ab 7 Uhr."));
}

#[test]
fn android_narrow_no_break_space_before_pm() {
    let text = "\
12/31/23, 9:41\u{202f}PM - +1 415 555 0123: Do you deliver on Sundays?
12/31/23, 11:58\u{202f}PM - Oak & Pine Furniture: We do, 10 AM to 6 PM.
1/1/24, 12:05\u{202f}AM - +1 415 555 0123: 👍";
    let t = export(text, None).transcript;
    assert_eq!(t.messages[0].at, ist("2023-12-31T21:41:00"));
    assert_eq!(t.messages[1].at, ist("2023-12-31T23:58:00"));
    // 12 AM is midnight.
    assert_eq!(t.messages[2].at, ist("2024-01-01T00:05:00"));
}

#[test]
fn android_lowercase_am_pm() {
    let text = "\
31/12/23, 9:41 pm - Dr. Mehta Dental Clinic: Your appointment is confirmed for tomorrow 12:30 pm.
31/12/23, 9:43 pm - +91 98765 43210: ok thank you
01/01/24, 12:30 pm - +91 98765 43210: I'm at the reception
01/01/24, 7:02 am - +91 98765 43210: running 10 min late";
    let e = export(text, None);
    let t = &e.transcript;
    assert_eq!(t.messages[0].direction, Direction::Outbound);
    // Sorted by time: 7:02 am comes before 12:30 pm on 1 Jan.
    assert_eq!(t.messages[2].at, ist("2024-01-01T07:02:00"));
    assert_eq!(t.messages[3].at, ist("2024-01-01T12:30:00"));
    assert_eq!(t.messages[3].text, "I'm at the reception");
}

#[test]
fn ios_12h_with_seconds() {
    let text = "\
[31/12/23, 9:41:05 PM] Asha Tutorials: \u{200e}Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.
[31/12/23, 9:41:05 PM] Asha Tutorials: Hello! Admissions for the 2024 batch are open.
[31/12/23, 9:47:33 PM] \u{202a}+91 98765 43210\u{202c}: What are the fees for class 10 maths?";
    let e = export(text, None);
    assert_eq!(e.system_lines, 1);
    let t = &e.transcript;
    // Direction marks around the number are not part of the name.
    assert_eq!(t.contact, "+91 98765 43210");
    assert_eq!(t.messages[0].direction, Direction::Outbound);
    assert_eq!(t.messages[1].at, ist("2023-12-31T21:47:33"));
    assert_eq!(t.messages[1].author.as_deref(), Some("+91 98765 43210"));
}

#[test]
fn ios_year_first_24h() {
    let text = "\
[2023-12-31, 21:41:05] Priya Nair: Is the lehenga available in size M?
[2023-12-31, 21:44:50] Zari Boutique: Yes, in maroon and teal.
[2024-01-01, 08:02:00] Priya Nair: Teal please";
    let e = export(text, Some("Zari Boutique"));
    assert!(e.warnings.is_empty());
    let t = &e.transcript;
    assert_eq!(t.contact, "Priya Nair");
    assert_eq!(t.messages[0].at, ist("2023-12-31T21:41:05"));
    assert_eq!(t.messages[2].at, ist("2024-01-01T08:02:00"));
}

#[test]
fn ios_direction_marks_and_attachments() {
    let text = "\
\u{200e}[31/12/23, 9:41:05 PM] Priya Nair: \u{200e}<attached: 00000012-PHOTO-2023-12-31-21-41-05.jpg>
[31/12/23, 9:41:20 PM] Priya Nair: do you have this in blue?
\u{200e}[31/12/23, 9:42:00 PM] Priya Nair: \u{200e}image omitted
\u{200e}[31/12/23, 9:43:00 PM] Zari Boutique: \u{200e}This message was deleted.
[31/12/23, 9:44:00 PM] Zari Boutique: Yes, blue is in stock.
\u{200e}[31/12/23, 9:45:00 PM] Zari Boutique: \u{200e}Missed voice call
\u{200e}[31/12/23, 9:46:00 PM] Priya Nair: \u{200e}Catalogue.pdf • \u{200e}3 pages \u{200e}<attached: 00000015-Catalogue.pdf>";
    let e = export(text, Some("Zari Boutique"));
    assert_eq!(e.system_lines, 2);
    assert_eq!(
        texts(&e.transcript),
        [
            (Direction::Inbound, MEDIA_OMITTED),
            (Direction::Inbound, "do you have this in blue?"),
            (Direction::Inbound, MEDIA_OMITTED),
            (Direction::Outbound, "Yes, blue is in stock."),
            (Direction::Inbound, MEDIA_OMITTED),
        ]
    );
}

#[test]
fn date_order_is_detected_from_the_whole_file() {
    // Only the last line shows the order: 13 cannot be a month.
    let mdy = "\
01/02/24, 10:00 - +91 98765 43210: hello
01/02/24, 10:05 - Sharma Realty: hi
01/13/24, 10:10 - +91 98765 43210: still there?";
    let e = export(mdy, None);
    assert!(e.warnings.is_empty());
    assert_eq!(e.transcript.messages[0].at, ist("2024-01-02T10:00:00"));
    assert_eq!(e.transcript.messages[2].at, ist("2024-01-13T10:10:00"));

    let dmy = mdy.replace("01/13/24", "13/02/24");
    let e = export(&dmy, None);
    assert_eq!(e.transcript.messages[0].at, ist("2024-02-01T10:00:00"));
    assert_eq!(e.transcript.messages[2].at, ist("2024-02-13T10:10:00"));

    // Nothing above 12 anywhere: day first, with a warning.
    let ambiguous = "\
01/02/24, 10:00 - +91 98765 43210: hello
03/02/24, 10:05 - Sharma Realty: hi";
    let e = export(ambiguous, None);
    assert_eq!(e.transcript.messages[0].at, ist("2024-02-01T10:00:00"));
    assert_eq!(e.warnings.len(), 1);
    assert!(e.warnings[0].contains("day/month/year"), "{:?}", e.warnings);

    // The caller's order wins, and is checked.
    let opts = ExportOptions {
        date_order: Some(DateOrder::Mdy),
        ..ExportOptions::default()
    };
    let e = chat_export::parse(ambiguous, &opts).unwrap();
    assert!(e.warnings.is_empty());
    assert_eq!(e.transcript.messages[0].at, ist("2024-01-02T10:00:00"));
    let e = chat_export::parse(&dmy, &opts).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: date 13/02/24 10:10 does not exist when read as month/day/year (year 2024, month 13, day 2)"
    );

    // Day-first and month-first evidence in one file.
    let mixed = "\
13/01/24, 10:00 - +91 98765 43210: hello
01/14/24, 10:05 - Sharma Realty: hi";
    let e = chat_export::parse(mixed, &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("line 2: dates contradict each other: line 1 can only be day/month/year, line 2 only month/day/year"), "{e}");
    assert_eq!(DateOrder::from_str("MDY"), Ok(DateOrder::Mdy));
    assert!(DateOrder::from_str("dd/mm").is_err());
}

#[test]
fn impossible_dates_and_times_are_line_errors() {
    let e = chat_export::parse(
        "30/02/24, 10:00 - +91 98765 43210: hello\n01/03/24, 10:00 - Shop: hi",
        &ExportOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("line 1: date 30/02/24 10:00 does not exist"),
        "{e}"
    );
    let e = chat_export::parse(
        "01/03/24, 0:15 PM - +91 98765 43210: hello\n01/03/24, 1:00 PM - Shop: hi",
        &ExportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "line 1: time 0:15 PM does not exist");
}

#[test]
fn multi_line_messages_and_edits() {
    let text = "\
31/12/23, 9:41 pm - +91 98765 43210: Hi, I need:
- 2 kg basmati
- 1 L mustard oil

Deliver by 7?
31/12/23, 9:50 pm - Gupta General Store: Done, total Rs 460 <This message was edited>
31/12/23, 9:51 pm - +91 98765 43210:
thanks
bhaiya";
    let t = export(text, None).transcript;
    assert_eq!(
        t.messages[0].text,
        "Hi, I need:\n- 2 kg basmati\n- 1 L mustard oil\n\nDeliver by 7?"
    );
    assert_eq!(t.messages[1].text, "Done, total Rs 460");
    assert_eq!(t.messages[2].text, "thanks\nbhaiya");
}

#[test]
fn system_lines_are_skipped_and_counted() {
    let text = "\
31/12/23, 9:00 pm - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.
31/12/23, 9:00 pm - This business uses a secure service from Meta to manage this chat. Tap to learn more.
31/12/23, 9:01 pm - Sharma Realty created group \"Wakad site visit: Sunday\"
31/12/23, 9:01 pm - Sharma Realty added +91 98765 43210
31/12/23, 9:02 pm - Your security code with +91 98765 43210 changed. Tap to learn more.
31/12/23, 9:03 pm - +91 98765 43210: This message was deleted
31/12/23, 9:04 pm - Sharma Realty: You deleted this message
31/12/23, 9:05 pm - +91 98765 43210: Missed voice call
31/12/23, 9:06 pm - +91 98765 43210: What time on Sunday?
31/12/23, 9:07 pm - Sharma Realty: 11 am at the site office";
    let e = export(text, None);
    assert_eq!(e.system_lines, 8);
    assert_eq!(e.transcript.messages.len(), 2);
    assert_eq!(e.transcript.messages[0].text, "What time on Sunday?");
}

#[test]
fn media_placeholders_are_normalised() {
    let text = "\
31/12/23, 9:41 pm - +91 98765 43210: <Media omitted>
31/12/23, 9:42 pm - +91 98765 43210: IMG-20231231-WA0007.jpg (file attached)
is this model in stock?
31/12/23, 9:43 pm - +91 98765 43210: PTT-20231231-WA0008.opus (file attached)
31/12/23, 9:44 pm - Mobile Point: image omitted
31/12/23, 9:45 pm - Mobile Point: Yes, Rs 18,999";
    let t = export(text, None).transcript;
    assert_eq!(
        texts(&t),
        [
            (Direction::Inbound, MEDIA_OMITTED),
            (
                Direction::Inbound,
                "<media omitted>\nis this model in stock?"
            ),
            (Direction::Inbound, MEDIA_OMITTED),
            (Direction::Outbound, MEDIA_OMITTED),
            (Direction::Outbound, "Yes, Rs 18,999"),
        ]
    );
}

const TWO_NAMES: &str = "\
31/12/23, 9:41 pm - Rohit Verma: Is the gym open on 1 Jan?
31/12/23, 9:45 pm - FitZone Gym: Yes, 6 am to 10 pm.";

#[test]
fn business_given_by_name() {
    let e = export(TWO_NAMES, Some("FitZone Gym"));
    assert_eq!(e.transcript.contact, "Rohit Verma");
    assert_eq!(e.transcript.messages[1].direction, Direction::Outbound);
    // Case and surrounding spaces do not matter when the match is unique.
    let e = export(TWO_NAMES, Some("  fitzone gym "));
    assert_eq!(e.transcript.messages[1].direction, Direction::Outbound);
}

#[test]
fn business_named_but_absent_is_an_error() {
    let opts = ExportOptions {
        business: Some("FitZone".to_owned()),
        ..ExportOptions::default()
    };
    let e = chat_export::parse(TWO_NAMES, &opts).unwrap_err();
    assert_eq!(
        e,
        FormatError::BusinessNotFound {
            name: "FitZone".to_owned(),
            senders: vec!["Rohit Verma".to_owned(), "FitZone Gym".to_owned()],
        }
    );
    assert_eq!(
        e.to_string(),
        "the business \"FitZone\" never sends a message in this chat; senders are: Rohit Verma, FitZone Gym"
    );
}

#[test]
fn business_detection_refuses_to_guess() {
    let e = chat_export::parse(TWO_NAMES, &ExportOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot tell which sender is the business (neither sender is a phone number, so either could be the customer); \
         pass --business NAME with one of: Rohit Verma, FitZone Gym"
    );
    let two_numbers = "\
31/12/23, 9:41 pm - +91 98765 43210: hi
31/12/23, 9:45 pm - +91 91234 56789: hello";
    let e = chat_export::parse(two_numbers, &ExportOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("both senders are phone numbers"),
        "{e}"
    );
    let alone = "31/12/23, 9:41 pm - +91 98765 43210: hi";
    let e = chat_export::parse(alone, &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("only one sender"), "{e}");
}

#[test]
fn group_chats_need_the_business_name() {
    let text = "\
31/12/23, 9:00 pm - Sharma Realty created group \"Wakad 2BHK\"
31/12/23, 9:41 pm - Anil Kapoor: Is parking included?
31/12/23, 9:42 pm - Sunita Kapoor: And is it east facing?
31/12/23, 9:50 pm - Sharma Realty: Yes to both.";
    let e = chat_export::parse(text, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(&e, FormatError::BusinessAmbiguous { reason, senders }
            if reason == "a group chat with 3 senders" && senders.len() == 3),
        "{e}"
    );
    let e = export(text, Some("Sharma Realty"));
    assert_eq!(e.transcript.contact, "Anil Kapoor, Sunita Kapoor");
    assert_eq!(e.system_lines, 1);
    assert_eq!(e.warnings.len(), 1);
    assert!(
        e.warnings[0].starts_with("group chat: 2 senders"),
        "{:?}",
        e.warnings
    );
    assert_eq!(e.transcript.inbound_count(), 2);
}

#[test]
fn only_the_business_writing_is_an_error() {
    let text = "31/12/23, 9:41 pm - Sharma Realty: New project launch this Sunday!";
    let opts = ExportOptions {
        business: Some("Sharma Realty".to_owned()),
        ..ExportOptions::default()
    };
    let e = chat_export::parse(text, &opts).unwrap_err();
    assert!(matches!(e, FormatError::Empty(_)), "{e}");
}

#[test]
fn local_times_use_the_given_time_zone() {
    let opts = ExportOptions {
        timezone: TimeZone::get("America/New_York").unwrap(),
        ..ExportOptions::default()
    };
    let t = chat_export::parse(
        "\
07/04/24, 9:41 PM - +1 415 555 0123: Open on the 4th?
07/04/24, 9:45 PM - Oak & Pine Furniture: Closed, sorry!
12/13/24, 9:41 PM - +1 415 555 0123: And now?",
        &opts,
    )
    .unwrap()
    .transcript;
    // EDT in July, EST in December.
    assert_eq!(t.messages[0].at, ts("2024-07-05T01:41:00Z"));
    assert_eq!(t.messages[2].at, ts("2024-12-14T02:41:00Z"));
}

#[test]
fn text_that_is_not_an_export_is_refused() {
    let e = chat_export::parse("hello\nworld\n", &ExportOptions::default()).unwrap_err();
    assert!(matches!(e, FormatError::Empty(_)));
    assert!(
        e.to_string().contains("no WhatsApp message lines found"),
        "{e}"
    );
    let e = chat_export::parse(
        "31/12/23, 9:00 pm - Messages and calls are end-to-end encrypted.",
        &ExportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the export has 1 system line(s) and no messages"
    );
}

#[test]
fn text_before_the_first_message_is_a_warning() {
    let text = "\u{feff}Chat with Rohit\r\n31/12/23, 9:41 pm - Rohit Verma: hi\r\n31/12/23, 9:45 pm - FitZone Gym: hello\r\n";
    let e = export(text, Some("FitZone Gym"));
    assert_eq!(e.transcript.messages.len(), 2);
    assert_eq!(e.transcript.messages[1].text, "hello");
    assert_eq!(
        e.warnings,
        ["1 line(s) before the first message were ignored"]
    );
}

// ----------------------------------------------------------------- webhook logs

fn fixture(relative: &str) -> Value {
    let path = format!(
        "{}/../whatsapp/tests/fixtures/{relative}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn webhook_log_from_upstream_fixtures() {
    let bodies = [
        fixture("meta-openapi/webhooks/image_message.json"),
        fixture("meta-openapi/webhooks/text_message_from_click_to_whatsapp_ad.json"),
        fixture("meta-openapi/webhooks/interactive_button_reply_message.json"),
        // Meta's examples reuse one wamid for the image, reaction and text
        // examples, so these two read as redeliveries of the image.
        fixture("meta-openapi/webhooks/reaction_message.json"),
        fixture("meta-openapi/webhooks/text_message.json"),
        fixture("meta-openapi/webhooks/system_message.json"),
        fixture("whatsapp-api-js/v25/sent.json"),
        fixture("pywa/updates/outgoing_message.json")["text"].clone(),
        fixture("pywa/updates/message.json")["reaction"].clone(),
        fixture("pywa/updates/template_status_update.json")
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .clone(),
    ];
    let input: String = bodies.iter().map(|b| format!("{b}\n")).collect();
    assert_eq!(detect_format(&input), Some(InputFormat::WebhookLog));
    let log = webhook_log::parse(&input).unwrap();
    assert_eq!(log.errors, []);
    assert_eq!(log.deliveries, 10);
    assert_eq!(log.duplicates, 2);
    assert_eq!(log.skipped_by_kind["status"], 1);
    assert_eq!(log.skipped_by_kind["system"], 1);
    assert_eq!(log.skipped_by_kind["reaction"], 1);
    assert_eq!(log.skipped_by_kind["template"], 1);
    assert_eq!(log.skipped_events, 4);
    assert_eq!(log.transcripts.len(), 2, "{:#?}", log.transcripts);

    // The echo's transcript (2023) sorts before Sheena's (2025).
    let echo = &log.transcripts[0];
    assert_eq!(echo.business_phone.as_deref(), Some("1122334455667"));
    assert_eq!(echo.contact, "<WHATSAPP_USER_PHONE_NUMBER>");
    assert_eq!(texts(echo), [(Direction::Outbound, "Test message")]);
    assert_eq!(
        echo.messages[0].at,
        Timestamp::from_second(1_697_043_223).unwrap()
    );

    let sheena = &log.transcripts[1];
    assert_eq!(sheena.id, "106540352242922:16505551234");
    assert_eq!(sheena.contact, "16505551234");
    assert_eq!(sheena.business_phone.as_deref(), Some("106540352242922"));
    assert_eq!(sheena.source_id.as_deref(), Some("120226305854810726"));
    assert_eq!(sheena.source_type.as_deref(), Some("ad"));
    assert_eq!(
        texts(sheena),
        [
            (Direction::Inbound, "<media omitted>\nTaj Mahal"),
            (Direction::Inbound, "Cancel"),
            (Direction::Inbound, "Hello! Can I get more info on this?"),
        ]
    );
    assert_eq!(sheena.messages[0].author.as_deref(), Some("Sheena Nelson"));
    assert_eq!(
        sheena.messages[2].at,
        Timestamp::from_second(1_750_275_992).unwrap()
    );
}

/// A delivery in the shape Meta sends, with the given messages or echoes.
fn delivery(field: &str, key: &str, items: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1029", "changes": [{
        "field": field,
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "919800000001", "phone_number_id": "500100"},
            "contacts": [{"profile": {"name": "Ravi"}, "wa_id": "919876543210", "user_id": "IN.8812"}],
            key: items,
        }
    }]}]})
}

fn text_message(id: &str, at: i64, body: &str) -> Value {
    json!({"from": "919876543210", "id": id, "timestamp": at.to_string(), "type": "text", "text": {"body": body}})
}

#[test]
fn webhook_log_with_a_redelivery() {
    let first = text_message("wamid.A1", 1_777_870_800, "NEET batch ki fees kitni hai?");
    let mut first_with_ad = first.clone();
    first_with_ad["referral"] =
        json!({"source_id": "120226", "source_type": "ad", "source_url": "https://fb.me/x"});
    let reply = json!({"from": "919800000001", "to": "919876543210", "id": "wamid.B1",
        "timestamp": "1777870930", "type": "text", "text": {"body": "Rs 4,500 per month"}});
    let status = json!({"id": "wamid.B1", "status": "delivered", "timestamp": "1777870931",
        "recipient_id": "919876543210"});
    let lines = [
        // Delivery 1, wrapped with its arrival time.
        json!({"received_at": "2026-05-04T10:00:01+05:30",
               "body": delivery("messages", "messages", json!([first_with_ad]))}),
        // Delivery 2: Meta redelivers the first message together with a new
        // one (out of order) and the status of our reply.
        {
            let mut body = delivery(
                "messages",
                "messages",
                json!([
                    text_message("wamid.A2", 1_777_871_100, "discount milega?"),
                    first_with_ad,
                ]),
            );
            body["entry"][0]["changes"][0]["value"]["statuses"] = json!([status]);
            body
        },
        delivery("smb_message_echoes", "message_echoes", json!([reply])),
        // The business app's echo redelivered, as a string body.
        json!({"received_at": "2026-05-04T10:02:11Z",
               "body": delivery("smb_message_echoes", "message_echoes", json!([reply])).to_string()}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let log = webhook_log::parse(&input).unwrap();
    assert_eq!(log.errors, []);
    assert_eq!(log.deliveries, 4);
    assert_eq!(log.duplicates, 2);
    assert_eq!(log.skipped_events, 1);
    assert_eq!(log.transcripts.len(), 1);
    let t = &log.transcripts[0];
    assert_eq!(t.id, "500100:919876543210");
    assert_eq!(t.source_id.as_deref(), Some("120226"));
    assert_eq!(
        texts(t),
        [
            (Direction::Inbound, "NEET batch ki fees kitni hai?"),
            (Direction::Outbound, "Rs 4,500 per month"),
            (Direction::Inbound, "discount milega?"),
        ]
    );
    assert_eq!(t.messages[0].at, ts("2026-05-04T05:00:00Z"));
    assert!(!t.messages[1].automated);
}

#[test]
fn webhook_log_reports_bad_lines_and_goes_on() {
    let good = delivery(
        "messages",
        "messages",
        json!([text_message("wamid.C1", 1_777_870_800, "hello")]),
    );
    let input = format!(
        "// exported from the dead-letter table\n{good}\nnot json\n{{\"hello\": 1}}\n{}\n{}\n",
        json!({"object": "page", "entry": []}),
        json!({"received_at": "10am", "body": good}),
    );
    let log = webhook_log::parse(&input).unwrap();
    assert_eq!(log.deliveries, 1);
    assert_eq!(log.transcripts.len(), 1);
    let errors: Vec<(usize, &str)> = log.errors.iter().map(|(l, e)| (*l, e.as_str())).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(errors[0].0, 3);
    assert!(
        errors[0].1.starts_with("invalid JSON at column 2"),
        "{errors:?}"
    );
    assert_eq!(
        errors[1],
        (
            4,
            "neither a webhook body (with `object` and `entry`) nor {received_at, body}"
        )
    );
    assert_eq!(
        errors[2],
        (5, "object is \"page\", not \"whatsapp_business_account\"")
    );
    assert_eq!(errors[3].0, 6);
    assert!(
        errors[3]
            .1
            .starts_with("received_at: \"10am\" is not an RFC 3339 time"),
        "{errors:?}"
    );
    assert!(matches!(
        webhook_log::parse("\n\n"),
        Err(FormatError::Empty(_))
    ));
}

#[test]
fn webhook_log_joins_bsuid_only_messages_to_the_wa_id() {
    let mut with_both = text_message("wamid.D1", 1_777_870_800, "hi");
    with_both["from_user_id"] = json!("IN.8812");
    let bsuid_only = json!({"from_user_id": "IN.8812", "id": "wamid.D2", "timestamp": "1777870900",
        "type": "image", "image": {"id": "m1", "mime_type": "image/jpeg"}});
    let mut body = delivery("messages", "messages", json!([with_both, bsuid_only]));
    // A username user's contact card carries only the BSUID.
    body["entry"][0]["changes"][0]["value"]["contacts"] =
        json!([{"profile": {"name": "Ravi"}, "user_id": "IN.8812"}]);
    let log = webhook_log::parse(&format!("{body}\n")).unwrap();
    assert_eq!(log.transcripts.len(), 1, "{:#?}", log.transcripts);
    assert_eq!(log.transcripts[0].contact, "919876543210");
    assert_eq!(
        texts(&log.transcripts[0]),
        [
            (Direction::Inbound, "hi"),
            (Direction::Inbound, MEDIA_OMITTED)
        ]
    );
}

// ---------------------------------------------------------- format detection

#[test]
fn formats_are_detected_from_the_first_line() {
    assert_eq!(detect_format(JSONL_EXAMPLE), Some(InputFormat::Jsonl));
    assert_eq!(detect_format(TWO_NAMES), Some(InputFormat::ChatExport));
    assert_eq!(
        detect_format("\u{200e}[31/12/23, 9:41:05 PM] Priya: hi"),
        Some(InputFormat::ChatExport)
    );
    assert_eq!(
        detect_format(r#"{"received_at": "2026-05-04T10:00:00Z", "body": {}}"#),
        Some(InputFormat::WebhookLog)
    );
    // A broken first line still goes to the parser that can say what is wrong.
    assert_eq!(detect_format("{\"contact\": "), Some(InputFormat::Jsonl));
    assert_eq!(
        detect_format("{\"object\": \"whatsapp_business_account\", "),
        Some(InputFormat::WebhookLog)
    );
    assert_eq!(detect_format("hello"), None);
    assert_eq!(detect_format(""), None);
}

#[test]
fn format_md_example_parses() {
    let doc = include_str!("../FORMAT.md");
    let start = doc.find("```json\n").unwrap() + "```json\n".len();
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    // The document wraps the first conversation for reading: lines that
    // start with a space continue the line above.
    let mut file = String::new();
    for line in block.lines() {
        if !line.starts_with(' ') && !file.is_empty() {
            file.push('\n');
        }
        file.push_str(line);
    }
    let transcripts = jsonl::parse(&file).unwrap();
    assert_eq!(transcripts.len(), 2);
    assert_eq!(transcripts[0].messages.len(), 5);
    assert_eq!(
        transcripts[0].messages[4].text,
        "<media omitted>\nfee receipt of last year"
    );
    assert_eq!(transcripts[1].id, "line-3");
    assert_eq!(
        transcripts[1].messages[0]
            .expected
            .as_ref()
            .unwrap()
            .escalate,
        Some(true)
    );
}

// ------------------------------------------------------------ example corpus

#[test]
fn example_corpus_parses_with_counts_and_nothing_personal() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/replay/example.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(detect_format(&text), Some(InputFormat::Jsonl));
    let transcripts = jsonl::parse(&text).unwrap();
    // The numbers data/replay/build.py printed (see data/replay/README.md).
    // Shipped without the tweets (`--without-twitter`): see data/replay/README.md.
    assert_eq!(transcripts.len(), 700);
    let messages: usize = transcripts.iter().map(|t| t.messages.len()).sum();
    assert_eq!(messages, 820);
    assert!(
        transcripts.iter().all(|t| !t.id.starts_with("twcc-dev-")),
        "tweets must not ship"
    );

    let mut per_intent = std::collections::BTreeMap::<&str, usize>::new();
    for t in &transcripts {
        let mut intents: Vec<&str> = t
            .messages
            .iter()
            .filter_map(|m| m.expected.as_ref()?.intent.as_deref())
            .collect();
        intents.sort_unstable();
        intents.dedup();
        for intent in intents {
            *per_intent.entry(intent).or_default() += 1;
        }
    }
    for intent in [
        "product_info",
        "order_status",
        "pricing",
        "problem",
        "complaint",
        "refund",
        "cancellation",
        "security_fraud",
        "purchase",
        "human_agent",
        "booking",
        "payment",
        "out_of_scope",
        "greeting",
        "acknowledgement",
    ] {
        assert!(
            per_intent.get(intent).copied().unwrap_or(0) >= 50,
            "{intent}: {per_intent:?}"
        );
    }

    // Two weeks from Monday 4 May 2026, IST.
    let first = transcripts.iter().map(|t| t.messages[0].at).min().unwrap();
    let last = transcripts.iter().map(|t| t.messages[0].at).max().unwrap();
    assert!(first >= ist("2026-05-04T00:00:00"), "{first}");
    assert!(last < ist("2026-05-18T00:00:00"), "{last}");

    // Nothing that identifies a person or links out survives. A handle is
    // an @ that does not follow a letter or digit ("1080@30fps" is not one);
    // "@user" is the placeholder for a mention inside a sentence.
    let handle = regex::Regex::new(r"(?:^|[^\w])[@＠](\w+)").unwrap();
    let url =
        regex::Regex::new(r"(?i)https?:|www\.|\b[a-z0-9-]+\.(?:com|net|org|io|ly)\b").unwrap();
    let email = regex::Regex::new(r"[\w.+-]+@[\w-]+\.[\w.-]+").unwrap();
    let phone =
        regex::Regex::new(r"(?:^|[^\w])(?:\+?\(?\d(?:[\s.()-]{0,2}\d){9,}|\d{8,})").unwrap();
    for t in &transcripts {
        for m in &t.messages {
            let text = &m.text;
            for caps in handle.captures_iter(text) {
                assert_eq!(&caps[1], "user", "{}: {text}", t.id);
            }
            assert!(!url.is_match(text), "{}: {text}", t.id);
            assert!(!email.is_match(text), "{}: {text}", t.id);
            assert!(!phone.is_match(text), "{}: {text}", t.id);
        }
    }
}
