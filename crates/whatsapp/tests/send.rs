//! Outbound side: request bodies against Meta's own examples, error
//! classification, template placeholders, and the HTTP client against a
//! loopback fake of the Graph API.
//!
//! The fake is a hand-written HTTP/1.1 responder on `tokio::net::TcpListener`
//! (no mock-server crate): it records each request's method, target, headers
//! and body, and answers from a queue of canned replies.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_whatsapp::errors::{ErrorClass, Failure, GraphError, classify, classify_code};
use switchboard_whatsapp::send::{
    BuildError, Interactive, InteractiveHeader, ListRow, ListSection, MarkRead, MarkReadResponse,
    Media, MessageStatus, OutboundMessage, Parameter, Reaction, Recipient, ReplyButton,
    SendResponse, TemplateMessage, Text,
};
use switchboard_whatsapp::templates::{
    ComponentPlaceholders, TemplatePage, placeholders, scan_placeholders,
};
use switchboard_whatsapp::{CloudApiClient, SendError};
use tokio::net::{TcpListener, TcpStream};

const PHONE: &str = "16505551234";
const WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUYzMjEzNDM2RTZGQ0MzMDJBRgA=";
const PHONE_NUMBER_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";
const TOKEN: &str = "EAAG-secret-test-token";

// ---------------------------------------------------------------------------
// Fixture helpers

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meta-openapi")
}

fn load(relative: &str) -> Value {
    let bytes = std::fs::read(fixtures_dir().join(relative)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn request_fixture(name: &str) -> Value {
    load(&format!("send_message_requests/{name}.json"))
}

/// Replaces Postman placeholders with real values: `(JSON pointer, value)`.
/// The pointed-at key must exist, so a typo cannot silently pass.
fn substitute(mut value: Value, replacements: &[(&str, Value)]) -> Value {
    for (pointer, new) in replacements {
        let slot = value
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("no {pointer} in fixture"));
        *slot = new.clone();
    }
    value
}

/// Adds a key Meta's example leaves out but the spec requires.
fn insert(mut value: Value, key: &str, new: Value) -> Value {
    let previous = value.as_object_mut().unwrap().insert(key.to_owned(), new);
    assert!(previous.is_none(), "{key} already in fixture");
    value
}

fn to_value(body: &impl serde::Serialize) -> Value {
    serde_json::to_value(body).unwrap()
}

fn phone() -> Recipient {
    Recipient::phone(PHONE).unwrap()
}

// ---------------------------------------------------------------------------
// Request bodies against Meta's examples

#[test]
fn text_matches_send_text_message() {
    let expected = substitute(
        request_fixture("send_text_message"),
        &[("/to", json!(PHONE))],
    );
    let message = OutboundMessage::text(phone(), "text-message-content").unwrap();
    assert_eq!(to_value(&message), expected);
}

#[test]
fn reply_matches_send_reply_to_text_message() {
    let expected = substitute(
        request_fixture("send_reply_to_text_message"),
        &[("/to", json!(PHONE)), ("/context/message_id", json!(WAMID))],
    );
    let message = OutboundMessage::text(phone(), "<TEXT_MSG_CONTENT>")
        .unwrap()
        .in_reply_to(WAMID)
        .unwrap();
    assert_eq!(message.reply_to(), Some(WAMID));
    assert_eq!(to_value(&message), expected);
}

#[test]
fn preview_url_matches_example_plus_the_required_envelope_keys() {
    // Meta's example leaves out `recipient_type` and `type`, which the spec
    // marks required (`BaseMessageProperties`) and every other example has.
    let expected = substitute(
        request_fixture("send_text_message_with_preview_url"),
        &[("/to", json!(PHONE))],
    );
    let expected = insert(expected, "recipient_type", json!("individual"));
    let expected = insert(expected, "type", json!("text"));
    let text = Text::new("Please visit https://youtu.be/hpltvTEiRrY.")
        .unwrap()
        .with_preview_url(true);
    assert_eq!(to_value(&OutboundMessage::new(phone(), text)), expected);
}

fn template_placeholders_substituted(name: &str) -> Value {
    substitute(
        request_fixture(name),
        &[
            ("/to", json!(PHONE)),
            ("/template/name", json!("order_update")),
            ("/template/language/code", json!("en_US")),
        ],
    )
}

fn example_body_parameters() -> Vec<Parameter> {
    let at = jiff::civil::date(1977, 2, 25).at(15, 33, 0, 0);
    vec![
        Parameter::text("text-string").unwrap(),
        Parameter::currency("$100.99", "USD", 100_990).unwrap(),
        Parameter::date_time_at("February 25, 1977", at).unwrap(),
    ]
}

#[test]
fn template_text_matches_send_message_template_text() {
    let expected = template_placeholders_substituted("send_message_template_text");
    let template = TemplateMessage::new("order_update", "en_US")
        .unwrap()
        .with_body(example_body_parameters())
        .unwrap();
    assert_eq!(to_value(&OutboundMessage::new(phone(), template)), expected);
}

#[test]
fn template_media_matches_send_message_template_media() {
    let link = "https://example.com/header.jpg";
    let expected = substitute(
        template_placeholders_substituted("send_message_template_media"),
        &[(
            "/template/components/0/parameters/0/image/link",
            json!(link),
        )],
    );
    // Body first, header second: components still come out header-first.
    let template = TemplateMessage::new("order_update", "en_US")
        .unwrap()
        .with_body(example_body_parameters())
        .unwrap()
        .with_header(Parameter::image(Media::link(link).unwrap()))
        .unwrap();
    assert_eq!(to_value(&OutboundMessage::new(phone(), template)), expected);
}

#[test]
fn template_buttons_match_send_message_template_interactive() {
    let link = "https://example.com/header.jpg";
    let expected = substitute(
        template_placeholders_substituted("send_message_template_interactive"),
        &[(
            "/template/components/0/parameters/0/image/link",
            json!(link),
        )],
    );
    // Buttons added out of order come out sorted by index, as in the example.
    let template = TemplateMessage::new("order_update", "en_US")
        .unwrap()
        .with_quick_reply(1, "9rwnB8RbYmPF5t2Mn09x4h")
        .unwrap()
        .with_header(Parameter::image(Media::link(link).unwrap()))
        .unwrap()
        .with_quick_reply(0, "aGlzIHRoaXMgaXMgY29v")
        .unwrap()
        .with_body(example_body_parameters())
        .unwrap();
    assert_eq!(to_value(&OutboundMessage::new(phone(), template)), expected);
}

#[test]
fn template_without_parameters_matches_send_test_message() {
    // hello_world has no components; the example omits recipient_type.
    let expected = substitute(
        request_fixture("send_test_message"),
        &[("/to", json!(PHONE))],
    );
    let expected = insert(expected, "recipient_type", json!("individual"));
    let template = TemplateMessage::new("hello_world", "en_US").unwrap();
    assert_eq!(to_value(&OutboundMessage::new(phone(), template)), expected);
}

#[test]
fn url_button_document_header_and_named_parameters_serialise_as_documented() {
    let template = TemplateMessage::new("order_confirmation", "en_US")
        .unwrap()
        .with_header(Parameter::document(Media::id("1013859600285441").unwrap()))
        .unwrap()
        .with_body(vec![
            Parameter::text("Ana").unwrap().named("first_name").unwrap(),
            Parameter::currency("€12.50", "EUR", 12_500)
                .unwrap()
                .named("total")
                .unwrap(),
        ])
        .unwrap()
        .with_url_button(1, "orders/860198")
        .unwrap();
    assert_eq!(
        to_value(&template)["components"],
        json!([
            {"type": "header", "parameters": [
                {"type": "document", "document": {"id": "1013859600285441"}}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Ana", "parameter_name": "first_name"},
                {"type": "currency", "parameter_name": "total",
                 "currency": {"fallback_value": "€12.50", "code": "EUR", "amount_1000": 12500}}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [
                {"type": "text", "text": "orders/860198"}]}
        ])
    );
    let video = Parameter::video(Media::link("https://example.com/v.mp4").unwrap());
    assert_eq!(
        to_value(&video),
        json!({"type": "video", "video": {"link": "https://example.com/v.mp4"}})
    );
    assert_eq!(
        to_value(&Parameter::date_time("tomorrow").unwrap()),
        json!({"type": "date_time", "date_time": {"fallback_value": "tomorrow"}})
    );
}

#[test]
fn reply_buttons_match_send_reply_button() {
    let expected = substitute(
        request_fixture("send_reply_button"),
        &[("/to", json!(PHONE))],
    );
    let interactive = Interactive::buttons(
        "<BUTTON_TEXT>",
        vec![
            ReplyButton::new("<UNIQUE_BUTTON_ID_1>", "<BUTTON_TITLE_1>").unwrap(),
            ReplyButton::new("<UNIQUE_BUTTON_ID_2>", "<BUTTON_TITLE_2>").unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(
        to_value(&OutboundMessage::new(phone(), interactive)),
        expected
    );
}

fn example_list() -> Interactive {
    let section = |n: u8| {
        let rows = (1..=2)
            .map(|r| {
                ListRow::new(
                    format!("<LIST_SECTION_{n}_ROW_{r}_ID>"),
                    format!("<SECTION_{n}_ROW_{r}_TITLE>"),
                )
                .unwrap()
                .with_description(format!("<SECTION_{n}_ROW_{r}_DESC>"))
                .unwrap()
            })
            .collect();
        ListSection::new(Some(format!("<LIST_SECTION_{n}_TITLE>")), rows).unwrap()
    };
    Interactive::list("<BODY_TEXT>", "<BUTTON_TEXT>", vec![section(1), section(2)])
        .unwrap()
        .with_header(InteractiveHeader::text("<HEADER_TEXT>").unwrap())
        .unwrap()
        .with_footer("<FOOTER_TEXT>")
        .unwrap()
}

#[test]
fn list_matches_send_list_message() {
    let expected = substitute(
        request_fixture("send_list_message"),
        &[("/to", json!(PHONE))],
    );
    assert_eq!(
        to_value(&OutboundMessage::new(phone(), example_list())),
        expected
    );
}

#[test]
fn list_reply_matches_send_reply_to_list_message_plus_type() {
    // The example has `context` but no `"type": "interactive"`.
    let expected = substitute(
        request_fixture("send_reply_to_list_message"),
        &[("/to", json!(PHONE)), ("/context/message_id", json!(WAMID))],
    );
    let expected = insert(expected, "type", json!("interactive"));
    let message = OutboundMessage::new(phone(), example_list())
        .in_reply_to(WAMID)
        .unwrap();
    assert_eq!(to_value(&message), expected);
}

#[test]
fn reaction_matches_send_reply_with_reaction_message() {
    let expected = substitute(
        request_fixture("send_reply_with_reaction_message"),
        &[("/to", json!(PHONE))],
    );
    let reaction = Reaction::new("wamid.HBgLM...", "😀").unwrap();
    assert_eq!(to_value(&OutboundMessage::new(phone(), reaction)), expected);
    let removal = Reaction::remove(WAMID).unwrap();
    assert_eq!(
        to_value(&removal),
        json!({"message_id": WAMID, "emoji": ""})
    );
    assert_eq!(
        to_value(&Reaction::new(WAMID, "1️⃣").unwrap())["emoji"],
        "1️⃣"
    );
}

#[test]
fn mark_read_matches_send_typing_indicator_and_read_receipt() {
    let expected = request_fixture("send_typing_indicator_and_read_receipt");
    let with_typing = MarkRead::new(WAMID).unwrap().with_typing_indicator();
    assert_eq!(to_value(&with_typing), expected);
    let mut plain = expected.clone();
    plain.as_object_mut().unwrap().remove("typing_indicator");
    assert_eq!(to_value(&MarkRead::new(WAMID).unwrap()), plain);
}

#[test]
fn bsuid_recipient_uses_the_recipient_key_and_callback_data_is_kept() {
    let to = Recipient::user_id("US.13491208655302741918").unwrap();
    assert!(to.is_user_id());
    let message = OutboundMessage::text(to, "Hi")
        .unwrap()
        .with_callback_data("outbox-42")
        .unwrap();
    assert_eq!(
        to_value(&message),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "recipient": "US.13491208655302741918",
            "biz_opaque_callback_data": "outbox-42",
            "type": "text",
            "text": {"body": "Hi", "preview_url": false}
        })
    );
    assert!(Recipient::user_id("US.ENT.9a8b7c").is_ok());
    assert!(Recipient::phone("+1 (650) 555-1234").is_ok());
}

// ---------------------------------------------------------------------------
// Validation

fn button(id: &str, title: &str) -> ReplyButton {
    ReplyButton::new(id, title).unwrap()
}

fn row(id: &str) -> ListRow {
    ListRow::new(id, "Row").unwrap()
}

#[test]
fn interactive_limits_are_enforced() {
    // Button title ≤ 20 characters (counted as chars, not bytes).
    assert!(ReplyButton::new("a", "é".repeat(20)).is_ok());
    assert_eq!(
        ReplyButton::new("a", "x".repeat(21)),
        Err(BuildError::TooLong {
            field: "action.buttons.reply.title",
            max: 20,
            actual: 21
        })
    );
    assert!(matches!(
        ReplyButton::new(" a", "A"),
        Err(BuildError::Invalid { .. })
    ));
    // ≤ 3 buttons, ≥ 1, unique ids and titles.
    let four = vec![
        button("a", "A"),
        button("b", "B"),
        button("c", "C"),
        button("d", "D"),
    ];
    assert_eq!(
        Interactive::buttons("Pick", four),
        Err(BuildError::TooMany {
            field: "interactive.action.buttons",
            max: 3,
            actual: 4
        })
    );
    assert!(matches!(
        Interactive::buttons("Pick", vec![]),
        Err(BuildError::Empty { .. })
    ));
    assert!(matches!(
        Interactive::buttons("Pick", vec![button("a", "A"), button("a", "B")]),
        Err(BuildError::Duplicate { .. })
    ));
    assert!(matches!(
        Interactive::buttons("Pick", vec![button("a", "Same"), button("b", "Same")]),
        Err(BuildError::Duplicate { .. })
    ));
    // Body ≤ 1024.
    assert!(Interactive::buttons("x".repeat(1024), vec![button("a", "A")]).is_ok());
    assert!(matches!(
        Interactive::buttons("x".repeat(1025), vec![button("a", "A")]),
        Err(BuildError::TooLong { max: 1024, .. })
    ));
    // Row title ≤ 24, description ≤ 72, section title ≤ 24.
    assert!(matches!(
        ListRow::new("r", "x".repeat(25)),
        Err(BuildError::TooLong { max: 24, .. })
    ));
    assert!(matches!(
        row("r").with_description("x".repeat(73)),
        Err(BuildError::TooLong { max: 72, .. })
    ));
    assert!(matches!(
        ListSection::new(Some("x".repeat(25)), vec![row("r")]),
        Err(BuildError::TooLong { max: 24, .. })
    ));
    // ≤ 10 rows in total across sections.
    let rows = |prefix: &str, n: usize| -> Vec<ListRow> {
        (0..n).map(|i| row(&format!("{prefix}{i}"))).collect()
    };
    let ten = vec![
        ListSection::new(Some("A".into()), rows("a", 5)).unwrap(),
        ListSection::new(Some("B".into()), rows("b", 5)).unwrap(),
    ];
    assert!(Interactive::list("Choose", "Options", ten).is_ok());
    let eleven = vec![
        ListSection::new(Some("A".into()), rows("a", 5)).unwrap(),
        ListSection::new(Some("B".into()), rows("b", 6)).unwrap(),
    ];
    assert_eq!(
        Interactive::list("Choose", "Options", eleven),
        Err(BuildError::TooMany {
            field: "interactive.action.sections.rows",
            max: 10,
            actual: 11
        })
    );
    // Titles required with several sections; row ids unique across them.
    let untitled = vec![
        ListSection::new(None, rows("a", 1)).unwrap(),
        ListSection::new(Some("B".into()), rows("b", 1)).unwrap(),
    ];
    assert!(matches!(
        Interactive::list("Choose", "Options", untitled),
        Err(BuildError::Invalid { .. })
    ));
    assert!(
        Interactive::list(
            "Choose",
            "Options",
            vec![ListSection::new(None, rows("a", 1)).unwrap()]
        )
        .is_ok()
    );
    let clash = vec![
        ListSection::new(Some("A".into()), rows("x", 1)).unwrap(),
        ListSection::new(Some("B".into()), rows("x", 1)).unwrap(),
    ];
    assert!(matches!(
        Interactive::list("Choose", "Options", clash),
        Err(BuildError::Duplicate { .. })
    ));
    // List button label ≤ 20; list headers are text only; footer ≤ 60.
    let one = || vec![ListSection::new(None, rows("a", 1)).unwrap()];
    assert!(matches!(
        Interactive::list("Choose", "x".repeat(21), one()),
        Err(BuildError::TooLong { max: 20, .. })
    ));
    let image = InteractiveHeader::Image {
        image: Media::link("https://example.com/a.png").unwrap(),
    };
    assert!(matches!(
        Interactive::list("Choose", "Options", one())
            .unwrap()
            .with_header(image.clone()),
        Err(BuildError::Invalid { .. })
    ));
    let with_image = Interactive::buttons("Pick", vec![button("a", "A")])
        .unwrap()
        .with_header(image)
        .unwrap();
    assert_eq!(
        to_value(&with_image)["header"],
        json!({"type": "image", "image": {"link": "https://example.com/a.png"}})
    );
    assert!(matches!(
        with_image.with_footer("x".repeat(61)),
        Err(BuildError::TooLong { max: 60, .. })
    ));
    assert!(matches!(
        InteractiveHeader::text("x".repeat(61)),
        Err(BuildError::TooLong { max: 60, .. })
    ));
}

#[test]
fn other_builders_refuse_what_meta_would_refuse() {
    assert!(matches!(Text::new(""), Err(BuildError::Empty { .. })));
    assert!(Text::new("x".repeat(4096)).is_ok());
    assert!(matches!(
        Text::new("x".repeat(4097)),
        Err(BuildError::TooLong { max: 4096, .. })
    ));
    for bad in ["", "abc", "+", "1+2", "1234567890123456"] {
        assert!(Recipient::phone(bad).is_err(), "{bad:?}");
    }
    for bad in [
        "",
        "13491208655302741918",
        "us.123",
        "USA.1",
        "US.",
        "US.12 3",
    ] {
        assert!(Recipient::user_id(bad).is_err(), "{bad:?}");
    }
    assert!(matches!(
        OutboundMessage::text(phone(), "hi")
            .unwrap()
            .in_reply_to("wamid. x"),
        Err(BuildError::Invalid { .. })
    ));
    let reaction = OutboundMessage::new(phone(), Reaction::new(WAMID, "👍").unwrap());
    assert!(matches!(
        reaction.in_reply_to(WAMID),
        Err(BuildError::Invalid {
            field: "context",
            ..
        })
    ));
    assert!(Reaction::new(WAMID, "").is_err());
    assert!(Reaction::new(WAMID, ":thumbsup:").is_err());
    assert!(MarkRead::new("").is_err());
    assert!(
        OutboundMessage::text(phone(), "hi")
            .unwrap()
            .with_callback_data("x".repeat(513))
            .is_err()
    );
    // Templates.
    assert!(TemplateMessage::new("Order-Update", "en_US").is_err());
    assert!(TemplateMessage::new("order_update", "en-US").is_err());
    assert!(TemplateMessage::new("", "en").is_err());
    let t = || TemplateMessage::new("order_update", "en").unwrap();
    assert!(t().with_body(vec![]).is_err());
    assert!(
        t().with_body(vec![Parameter::image(Media::id("1").unwrap())])
            .is_err()
    );
    assert!(
        t().with_header(Parameter::currency("$1", "USD", 1000).unwrap())
            .is_err()
    );
    let text = |s: &str| Parameter::text(s).unwrap();
    assert!(
        t().with_header(text("a"))
            .unwrap()
            .with_header(text("b"))
            .is_err()
    );
    let mixed = vec![text("a").named("first").unwrap(), text("b")];
    assert!(t().with_body(mixed).is_err());
    let twice = vec![text("a").named("n").unwrap(), text("b").named("n").unwrap()];
    assert!(matches!(
        t().with_body(twice),
        Err(BuildError::Duplicate { .. })
    ));
    assert!(text("a").named("1st").is_err());
    assert!(text("a").named("First").is_err());
    assert!(
        Parameter::image(Media::id("1").unwrap())
            .named("img")
            .is_err()
    );
    assert!(Parameter::text("").is_err());
    assert!(Parameter::currency("$1", "usd", 1000).is_err());
    assert!(t().with_quick_reply(10, "p").is_err());
    assert!(t().with_quick_reply(0, "").is_err());
    assert!(matches!(
        t().with_quick_reply(0, "p")
            .unwrap()
            .with_url_button(0, "x"),
        Err(BuildError::Duplicate { .. })
    ));
    // Media.
    assert!(Media::link("ftp://example.com/a.pdf").is_err());
    assert!(Media::link("https://").is_err());
    assert!(Media::link("https://example.com/a b.pdf").is_err());
    assert!(Media::id("").is_err());
}

// ---------------------------------------------------------------------------
// Success responses

#[test]
fn send_responses_parse() {
    let response: SendResponse =
        serde_json::from_value(load("send_message_responses/example_response.json")).unwrap();
    assert_eq!(
        response.wamid(),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA")
    );
    assert_eq!(response.contacts[0].input.as_deref(), Some("+16505551234"));
    assert_eq!(response.contacts[0].wa_id.as_deref(), Some("16505551234"));
    assert_eq!(response.messages[0].message_status, None);

    let response: SendResponse =
        serde_json::from_value(load("send_message_responses/send_reply_button.json")).unwrap();
    assert_eq!(response.wamid(), Some("wamid.ID"));

    let with_status: SendResponse = serde_json::from_value(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "x", "wa_id": "1"}],
        "messages": [
            {"id": "a", "message_status": "held_for_quality_assessment"},
            {"id": "b", "message_status": "accepted"},
            {"id": "c", "message_status": "something_new"}
        ]
    }))
    .unwrap();
    let statuses: Vec<_> = with_status
        .messages
        .iter()
        .map(|m| m.message_status)
        .collect();
    assert_eq!(
        statuses,
        [
            Some(MessageStatus::HeldForQualityAssessment),
            Some(MessageStatus::Accepted),
            Some(MessageStatus::Other)
        ]
    );

    let read: MarkReadResponse = serde_json::from_value(load(
        "send_message_responses/send_typing_indicator_and_read_receipt.json",
    ))
    .unwrap();
    assert!(read.success);
}

// ---------------------------------------------------------------------------
// Error classification

#[test]
fn codes_classify_as_documented() {
    for code in [4, 80007, 130_429, 131_056, 131_000, 131_016] {
        assert_eq!(classify(400, Some(code)), ErrorClass::Retry, "{code}");
    }
    assert_eq!(classify(400, Some(131_047)), ErrorClass::WindowClosed);
    for code in [
        131_026, 131_050, 131_049, 130_472, 100, 132_000, 132_001, 132_015, 132_016,
    ] {
        assert_eq!(
            classify(400, Some(code)),
            ErrorClass::Terminal { code: Some(code) },
            "{code}"
        );
    }
    for code in [190, 368, 131_031] {
        assert_eq!(
            classify(400, Some(code)),
            ErrorClass::TerminalAlert { code: Some(code) },
            "{code}"
        );
    }
    // A known code wins over the status, either way.
    assert!(!classify(500, Some(131_026)).is_retryable());
    assert_eq!(
        classify(401, Some(190)),
        ErrorClass::TerminalAlert { code: Some(190) }
    );
    assert_eq!(classify(400, Some(130_429)), ErrorClass::Retry);
    // Unknown codes and bare statuses: 5xx/408/429 retry, the rest is terminal.
    assert_eq!(classify(503, Some(999_999)), ErrorClass::Retry);
    assert_eq!(classify(502, None), ErrorClass::Retry);
    assert_eq!(classify(429, None), ErrorClass::Retry);
    assert_eq!(classify(408, None), ErrorClass::Retry);
    assert_eq!(
        classify(400, Some(131_051)),
        ErrorClass::Terminal {
            code: Some(131_051)
        }
    );
    assert_eq!(classify(404, None), ErrorClass::Terminal { code: None });
    assert_eq!(classify_code(132_017), None);
    assert_eq!(classify_code(131_999), None);
}

#[test]
fn graph_error_body_is_read_without_looking_at_text() {
    let body = json!({"error": {
        "message": "(#131047) Re-engagement message",
        "type": "OAuthException",
        "code": 131047,
        "error_subcode": 2494010,
        "error_data": {"messaging_product": "whatsapp",
                       "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
        "error_user_title": "Re-engagement message",
        "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn",
        "is_transient": false
    }});
    let bytes = serde_json::to_vec(&body).unwrap();
    let error = GraphError::from_body(&bytes).unwrap();
    assert_eq!(error.code, 131_047);
    assert_eq!(error.subcode, Some(2_494_010));
    assert_eq!(error.title.as_deref(), Some("Re-engagement message"));
    assert_eq!(error.error_type.as_deref(), Some("OAuthException"));
    assert!(error.details.as_deref().unwrap().contains("24 hours"));
    assert_eq!(error.is_transient, Some(false));
    let send_error = SendError::from_response(400, &bytes);
    assert_eq!(send_error.class, ErrorClass::WindowClosed);
    assert_eq!(send_error.code(), Some(131_047));
    let shown = send_error.to_string();
    for part in [
        "131047",
        "Re-engagement message",
        "24 hours",
        "AXsgnV2Cm3ZMGF3dF_cfYIn",
    ] {
        assert!(shown.contains(part), "{shown}");
    }

    // A misleading message never changes the class; a string code is read.
    let odd = br#"{"error":{"message":"rate limit hit, please retry","code":"131026"}}"#;
    assert_eq!(
        SendError::from_response(400, odd).class,
        ErrorClass::Terminal {
            code: Some(131_026)
        }
    );
    // Not a Graph body: the status decides and the body start is kept.
    let html = SendError::from_response(502, b"<html>Bad Gateway</html>");
    assert_eq!(html.class, ErrorClass::Retry);
    assert!(
        matches!(html.failure, Failure::Status { status: 502, ref body } if body.contains("Bad Gateway"))
    );
    assert!(GraphError::from_body(br#"{"error":{"message":"no code"}}"#).is_none());
}

// ---------------------------------------------------------------------------
// Template placeholders

#[test]
fn placeholders_are_counted_per_component() {
    assert_eq!(
        scan_placeholders("Hi {{1}}, code {{2}}, again {{1}}"),
        (2, vec![])
    );
    assert_eq!(
        scan_placeholders("Hi {{first_name}}, order {{order_id}} for {{first_name}}"),
        (0, vec!["first_name".to_owned(), "order_id".to_owned()])
    );
    assert_eq!(
        scan_placeholders("{{ 1 }} {{Name}} {{}} {{{1}} {{2"),
        (1, vec![])
    );

    // The listing example from the spec, plus a media header, a named body
    // and a URL button.
    let spec = json!([
        {"format": "TEXT", "text": "Fall Sale", "type": "HEADER"},
        {"example": {"body_text": [["Mark", "FALL25"]]},
         "text": "Hi {{1}}, our Fall Sale is on! Use promo code {{2}} Get an extra 25% off every order above $350!",
         "type": "BODY"},
        {"text": "Not interested in any of our sales? Tap Stop Promotions", "type": "FOOTER"},
        {"buttons": [{"text": "Stop promotions", "type": "QUICK_REPLY"}], "type": "BUTTONS"}
    ]);
    assert_eq!(
        placeholders(&spec),
        vec![ComponentPlaceholders {
            component: "BODY".into(),
            button_index: None,
            media_format: None,
            positional: 2,
            named: vec![],
        }]
    );
    let rich = json!([
        {"format": "IMAGE", "type": "HEADER"},
        {"text": "Hello {{first_name}}, your order {{order_id}} shipped", "type": "body"},
        {"buttons": [
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "16467043595"},
            {"type": "URL", "text": "Track", "url": "https://example.com/track/{{1}}"}
        ], "type": "BUTTONS"}
    ]);
    let found = placeholders(&rich);
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].media_format.as_deref(), Some("IMAGE"));
    assert_eq!(found[1].component, "BODY");
    assert_eq!(found[1].named, ["first_name", "order_id"]);
    assert_eq!(found[2].component, "BUTTON");
    assert_eq!(found[2].button_index, Some(1));
    assert_eq!(found[2].positional, 1);
    assert!(placeholders(&Value::Null).is_empty());
}

#[test]
fn template_page_reads_next_only_when_graph_says_there_is_one() {
    let last = br#"{"data":[],"paging":{"cursors":{"before":"MAZDZD","after":"MjQZD"}}}"#;
    assert_eq!(TemplatePage::from_body(last).unwrap().next, None);
    let more = br#"{"data":[{"id":1192339204654487,"name":"hello_world"}],
        "paging":{"next":"https://graph.facebook.com/v23.0/1/message_templates?after=XYZ%3D"}}"#;
    let page = TemplatePage::from_body(more).unwrap();
    assert_eq!(page.next.as_deref(), Some("XYZ="));
    assert_eq!(page.templates[0].id, "1192339204654487");
    assert_eq!(page.templates[0].status, "");
    assert!(TemplatePage::from_body(b"{}").is_err());
}

// ---------------------------------------------------------------------------
// Loopback fake Graph API

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Lowercased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

enum Reply {
    Json(u16, Value),
    Raw(u16, &'static str),
    /// Read the request, then never answer.
    Hang,
}

struct FakeGraph {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGraph {
    async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut connections = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let recorded = Arc::clone(&recorded);
                let replies = Arc::clone(&replies);
                // Keep handles so aborting the server also ends hanging
                // connections.
                connections.push(AbortOnDrop(tokio::spawn(async move {
                    serve(stream, &recorded, &replies).await;
                })));
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}/v23.0", self.addr)
    }

    fn client(&self, timeout: Duration) -> CloudApiClient {
        CloudApiClient::new(self.base_url(), TOKEN.to_owned(), timeout).unwrap()
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One request per connection: read the head and a Content-Length body,
/// record them, answer with the next canned reply and `Connection: close`.
async fn serve(
    stream: TcpStream,
    recorded: &Mutex<Vec<Recorded>>,
    replies: &Mutex<VecDeque<Reply>>,
) {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if read_some(&stream, &mut buffer).await == 0 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    while buffer.len() < head_end + length {
        if read_some(&stream, &mut buffer).await == 0 {
            return;
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    recorded.lock().unwrap().push(Recorded {
        method,
        target,
        headers,
        body,
    });
    let reply = replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Raw(599, "no canned reply left"));
    let (status, body) = match reply {
        Reply::Json(status, value) => (status, value.to_string()),
        Reply::Raw(status, text) => (status, text.to_owned()),
        Reply::Hang => std::future::pending().await,
    };
    let response = format!(
        "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    write_all(&stream, response.as_bytes()).await;
}

/// Reads what is available; 0 at end of stream. Uses `try_read` because
/// the workspace's tokio has no `io-util` feature.
async fn read_some(stream: &TcpStream, buffer: &mut Vec<u8>) -> usize {
    let mut chunk = [0_u8; 8192];
    loop {
        stream.readable().await.unwrap();
        match stream.try_read(&mut chunk) {
            Ok(n) => {
                buffer.extend_from_slice(&chunk[..n]);
                return n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return 0,
        }
    }
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) {
    while !data.is_empty() {
        stream.writable().await.unwrap();
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

fn graph_error(code: i64, title: &str, details: &str) -> Value {
    json!({"error": {
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "error_user_title": title,
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
    }})
}

fn accepted() -> Value {
    load("send_message_responses/example_response.json")
}

const TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Client against the fake

#[tokio::test]
async fn text_reply_is_posted_with_path_auth_and_body() {
    let server = FakeGraph::start(vec![Reply::Json(200, accepted())]).await;
    let client = server.client(TIMEOUT);
    let message = OutboundMessage::text(phone(), "Sure, one moment")
        .unwrap()
        .in_reply_to(WAMID)
        .unwrap();
    let accepted = client
        .send(PHONE_NUMBER_ID, &message, "outbox-7f3a")
        .await
        .unwrap();
    assert_eq!(
        accepted.wamid,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA"
    );
    assert_eq!(accepted.wa_id.as_deref(), Some("16505551234"));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, format!("/v23.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-idempotency-key"), Some("outbox-7f3a"));
    assert_eq!(
        request.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": PHONE,
            "context": {"message_id": WAMID},
            "type": "text",
            "text": {"body": "Sure, one moment", "preview_url": false}
        })
    );
}

#[tokio::test]
async fn server_error_then_success_is_retry_then_accepted_with_no_internal_retry() {
    let server = FakeGraph::start(vec![
        Reply::Json(500, graph_error(1, "An unknown error occurred", "")),
        Reply::Json(200, accepted()),
    ])
    .await;
    let client = server.client(TIMEOUT);
    let message = OutboundMessage::text(phone(), "hi").unwrap();

    let first = client
        .send(PHONE_NUMBER_ID, &message, "k1")
        .await
        .unwrap_err();
    assert_eq!(first.class, ErrorClass::Retry);
    assert_eq!(first.code(), Some(1));
    // One request so far: `send` itself did not retry.
    assert_eq!(server.requests().len(), 1);

    let second = client.send(PHONE_NUMBER_ID, &message, "k1").await.unwrap();
    assert!(second.wamid.starts_with("wamid."));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn graph_error_codes_map_to_classes() {
    let cases = [
        (400, 130_429, ErrorClass::Retry),
        (400, 131_056, ErrorClass::Retry),
        (400, 131_047, ErrorClass::WindowClosed),
        (
            400,
            131_026,
            ErrorClass::Terminal {
                code: Some(131_026),
            },
        ),
        (401, 190, ErrorClass::TerminalAlert { code: Some(190) }),
    ];
    let replies = cases
        .iter()
        .map(|(status, code, _)| {
            Reply::Json(*status, graph_error(*code, "Some title", "Some details"))
        })
        .collect();
    let server = FakeGraph::start(replies).await;
    let client = server.client(TIMEOUT);
    let message = OutboundMessage::text(phone(), "hi").unwrap();
    for (status, code, class) in cases {
        let error = client
            .send(PHONE_NUMBER_ID, &message, "k")
            .await
            .unwrap_err();
        assert_eq!(error.class, class, "{code}");
        let Failure::Graph {
            status: got_status,
            error: graph,
        } = &error.failure
        else {
            panic!("{error:?}");
        };
        assert_eq!(*got_status, status);
        assert_eq!(graph.code, code);
        assert_eq!(graph.title.as_deref(), Some("Some title"));
        assert_eq!(graph.details.as_deref(), Some("Some details"));
        assert!(graph.message.contains(&code.to_string()));
        // The token never leaks into errors.
        assert!(!format!("{error} {error:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_retryable_timeout() {
    let server = FakeGraph::start(vec![Reply::Hang]).await;
    let client = server.client(Duration::from_millis(200));
    let message = OutboundMessage::text(phone(), "hi").unwrap();
    let started = std::time::Instant::now();
    let error = client
        .send(PHONE_NUMBER_ID, &message, "k")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Retry);
    assert_eq!(error.failure, Failure::Timeout);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client =
        CloudApiClient::new(format!("http://{addr}/v23.0/"), TOKEN.into(), TIMEOUT).unwrap();
    let message = OutboundMessage::text(phone(), "hi").unwrap();
    let error = client
        .send(PHONE_NUMBER_ID, &message, "k")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Retry);
    assert!(matches!(error.failure, Failure::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn odd_success_bodies_are_terminal_not_retried() {
    let server = FakeGraph::start(vec![
        Reply::Raw(200, "not json"),
        Reply::Json(
            200,
            json!({"messaging_product": "whatsapp", "messages": []}),
        ),
        Reply::Json(200, json!({"success": false})),
    ])
    .await;
    let client = server.client(TIMEOUT);
    let message = OutboundMessage::text(phone(), "hi").unwrap();
    for _ in 0..2 {
        let error = client
            .send(PHONE_NUMBER_ID, &message, "k")
            .await
            .unwrap_err();
        assert_eq!(error.class, ErrorClass::Terminal { code: None });
        assert!(matches!(error.failure, Failure::Decode { status: 200, .. }));
    }
    let read = MarkRead::new(WAMID).unwrap();
    let error = client.mark_read(PHONE_NUMBER_ID, &read).await.unwrap_err();
    assert!(matches!(error.failure, Failure::Decode { .. }));
}

#[tokio::test]
async fn mark_read_posts_the_receipt_and_reads_success() {
    let server = FakeGraph::start(vec![Reply::Json(
        200,
        load("send_message_responses/send_typing_indicator_and_read_receipt.json"),
    )])
    .await;
    let client = server.client(TIMEOUT);
    let read = MarkRead::new(WAMID).unwrap().with_typing_indicator();
    client.mark_read(PHONE_NUMBER_ID, &read).await.unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.target, format!("/v23.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(request.header("x-idempotency-key"), None);
    assert_eq!(
        request.json(),
        request_fixture("send_typing_indicator_and_read_receipt")
    );
}

#[tokio::test]
async fn bad_ids_and_keys_are_refused_before_any_request() {
    let server = FakeGraph::start(vec![]).await;
    let client = server.client(TIMEOUT);
    let message = OutboundMessage::text(phone(), "hi").unwrap();
    for id in ["", "12/../34", "123?x=1", "１２３", "abc"] {
        let error = client.send(id, &message, "k").await.unwrap_err();
        assert_eq!(error.class, ErrorClass::Terminal { code: None }, "{id:?}");
        assert!(matches!(error.failure, Failure::InvalidRequest(_)));
    }
    for key in ["", "has space", "line\nbreak"] {
        let error = client
            .send(PHONE_NUMBER_ID, &message, key)
            .await
            .unwrap_err();
        assert!(
            matches!(error.failure, Failure::InvalidRequest(_)),
            "{key:?}"
        );
    }
    let error = client.list_templates("1/2", None).await.unwrap_err();
    assert!(matches!(error.failure, Failure::InvalidRequest(_)));
    assert!(server.requests().is_empty());
}

#[test]
fn client_config_is_validated_and_the_token_is_never_printed() {
    let client = CloudApiClient::new(
        "https://graph.facebook.com/v23.0/".into(),
        TOKEN.into(),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(client.base_url(), "https://graph.facebook.com/v23.0");
    let debug = format!("{client:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("<redacted>"));

    let new =
        |url: &str, token: &str, timeout| CloudApiClient::new(url.into(), token.into(), timeout);
    assert!(new("graph.facebook.com", TOKEN, TIMEOUT).is_err());
    assert!(new("ftp://graph.facebook.com", TOKEN, TIMEOUT).is_err());
    assert!(new("https://graph.facebook.com/v23.0?x=1", TOKEN, TIMEOUT).is_err());
    assert!(new("https://graph.facebook.com", "", TIMEOUT).is_err());
    assert!(new("https://graph.facebook.com", "bad\ntoken", TIMEOUT).is_err());
    assert!(new("https://graph.facebook.com", TOKEN, Duration::ZERO).is_err());
    let error = new("https://graph.facebook.com", "bad\ntoken", TIMEOUT).unwrap_err();
    assert!(!error.to_string().contains("bad"));
}

#[tokio::test]
async fn templates_are_listed_across_two_pages() {
    let page_one = json!({
        "data": [
            {"id": "1192339204654487", "name": "hello_world", "language": "en_US",
             "status": "APPROVED", "category": "UTILITY",
             "components": [
                {"format": "TEXT", "text": "Hello World", "type": "HEADER"},
                {"text": "Welcome and congratulations!!", "type": "BODY"},
                {"text": "WhatsApp Business API Team", "type": "FOOTER"}]},
            {"id": "920070352646140", "name": "2023_april_promo", "language": "en_US",
             "status": "REJECTED", "category": "MARKETING",
             "components": [
                {"format": "TEXT", "text": "Fall Sale", "type": "HEADER"},
                {"text": "Hi {{1}}, our Fall Sale is on! Use promo code {{2}}", "type": "BODY"},
                {"buttons": [{"text": "Stop promotions", "type": "QUICK_REPLY"}], "type": "BUTTONS"}]}
        ],
        "paging": {
            "cursors": {"before": "MAZDZD", "after": "QVFIUj+/="},
            "next": "https://graph.facebook.com/v23.0/102290129340398/message_templates?after=QVFIUj%2B%2F%3D"
        }
    });
    let page_two = json!({
        "data": [
            {"id": "77", "name": "order_update", "language": "pt_BR", "status": "APPROVED",
             "category": "UTILITY", "parameter_format": "NAMED",
             "components": [
                {"format": "DOCUMENT", "type": "HEADER"},
                {"text": "Olá {{first_name}}, pedido {{order_id}}", "type": "BODY"}]}
        ],
        "paging": {"cursors": {"before": "QVFIUj", "after": "MjQZD"}}
    });
    let server =
        FakeGraph::start(vec![Reply::Json(200, page_one), Reply::Json(200, page_two)]).await;
    let client = server.client(TIMEOUT);

    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_templates(WABA_ID, cursor.as_deref())
            .await
            .unwrap();
        pages += 1;
        all.extend(page.templates);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    let names: Vec<_> = all.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["hello_world", "2023_april_promo", "order_update"]);
    assert!(all[0].is_approved() && !all[1].is_approved());
    assert!(all[0].placeholders.is_empty());
    assert_eq!(all[1].placeholders[0].positional, 2);
    assert_eq!(all[2].parameter_format.as_deref(), Some("NAMED"));
    assert_eq!(
        all[2].placeholders[0].media_format.as_deref(),
        Some("DOCUMENT")
    );
    assert_eq!(all[2].placeholders[1].named, ["first_name", "order_id"]);
    assert_eq!(all[2].components[1]["type"], "BODY");

    let requests = server.requests();
    let base = format!(
        "/v23.0/{WABA_ID}/message_templates?fields=id%2Cname%2Clanguage%2Cstatus%2Ccategory%2Cparameter_format%2Ccomponents&limit=100"
    );
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, base);
    assert_eq!(requests[1].target, format!("{base}&after=QVFIUj%2B%2F%3D"));
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn https_without_a_tls_backend_alerts_instead_of_retrying_forever() {
    // The workspace's reqwest has no TLS feature (yet), so reqwest refuses
    // an https URL before connecting. Once a TLS feature is added, the
    // handshake with this plain listener fails or times out instead, which
    // must stay retryable.
    let server = FakeGraph::start(vec![]).await;
    let url = format!("https://{}/v23.0", server.addr);
    let client = CloudApiClient::new(url, TOKEN.into(), Duration::from_millis(500)).unwrap();
    let message = OutboundMessage::text(phone(), "hi").unwrap();
    let error = client
        .send(PHONE_NUMBER_ID, &message, "k")
        .await
        .unwrap_err();
    if error.to_string().contains("scheme is not http") {
        assert_eq!(
            error.class,
            ErrorClass::TerminalAlert { code: None },
            "{error}"
        );
        assert!(error.to_string().contains("TLS feature"));
    } else {
        assert_eq!(error.class, ErrorClass::Retry, "{error}");
    }
    assert!(server.requests().is_empty());
}
