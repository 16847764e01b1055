//! Message templates as listed by `GET /{Version}/{WABA-ID}/message_templates`,
//! with the variables each component expects.
//!
//! Response shape (openapi `getTemplateByNameDefaultFields`, "Example
//! response"):
//! `{"data":[{"id","name","language","status","category","components":[…]}],
//! "paging":{"cursors":{"before","after"},"next"?}}`. Components are kept as
//! raw JSON (their shapes vary by type and grow over time) and
//! [`placeholders`] derives what a sender must fill in: `{{1}}`-style
//! positional variables, `{{first_name}}`-style named variables, and media
//! headers.

use serde_json::Value;

use crate::send::is_named_placeholder;

/// One page of templates and the cursor for the next.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePage {
    /// The templates on this page, in Meta's order.
    pub templates: Vec<Template>,
    /// The cursor to pass as `after` for the next page, or `None` on the
    /// last page. Graph API paging includes `paging.next` only when another
    /// page exists (Graph API pagination docs; openapi paging schema), so
    /// `cursors.after` alone, which the last page also carries, does not
    /// mean more data.
    pub next: Option<String>,
}

/// One template in one language (Meta lists each language of a name as its
/// own entry; notes §5.8).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Template ID (a decimal string; a JSON number is converted).
    pub id: String,
    /// Template name, e.g. `order_update`.
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// Review status as sent: `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`,
    /// `DISABLED`, … (notes §5.8). Only `APPROVED` can be sent.
    pub status: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION` (notes §5.8).
    pub category: String,
    /// `POSITIONAL` or `NAMED` when Meta reports it; `None` otherwise
    /// (older templates are positional).
    pub parameter_format: Option<String>,
    /// The `components` array as Meta sent it (`Value::Null` if absent).
    pub components: Value,
    /// What each component needs when sending; see [`placeholders`].
    pub placeholders: Vec<ComponentPlaceholders>,
}

impl Template {
    /// `true` when `status` is `APPROVED`, the only sendable status.
    #[must_use]
    pub fn is_approved(&self) -> bool {
        self.status == "APPROVED"
    }
}

/// The variables of one template component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentPlaceholders {
    /// `HEADER`, `BODY`, `FOOTER` or `BUTTON` (one entry per URL button;
    /// Meta's component type is `BUTTONS` for the group).
    pub component: String,
    /// For `BUTTON`: the button's 0-based position, the `index` to send.
    pub button_index: Option<usize>,
    /// For a media header: its `format` (`IMAGE`, `VIDEO`, `DOCUMENT`,
    /// `LOCATION`), which needs one media parameter.
    pub media_format: Option<String>,
    /// Number of distinct positional variables (`{{1}}`, `{{2}}`, …); the
    /// number of parameters to send.
    pub positional: usize,
    /// Named variables (`{{first_name}}`) in order of first appearance,
    /// without repeats.
    pub named: Vec<String>,
}

/// Variables found in one text: distinct positional indices and named
/// variables.
///
/// A variable is `{{` + digits + `}}` (positional) or `{{` + a name of
/// lowercase letters, digits and underscores not starting with a digit +
/// `}}` (named). Anything else between braces, such as `{{ 1 }}` or
/// `{{Name}}`, is not a variable Meta would substitute and is ignored.
#[must_use]
pub fn scan_placeholders(text: &str) -> (usize, Vec<String>) {
    let mut positional: Vec<&str> = Vec::new();
    let mut named: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = &after[..end];
        if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            let index = inner.trim_start_matches('0');
            if !positional.contains(&index) {
                positional.push(index);
            }
            rest = &after[end + 2..];
        } else if is_named_placeholder(inner) {
            if !named.iter().any(|n| n == inner) {
                named.push(inner.to_owned());
            }
            rest = &after[end + 2..];
        } else {
            // Resume just after this "{{" so "{{{1}}" still finds "{{1}}".
            rest = &rest[start + 1..];
        }
    }
    (positional.len(), named)
}

/// Derives the variables of each component of a template's `components`
/// array.
///
/// Reads `HEADER` (`text` when `format` is `TEXT` or absent; a media
/// `format` is reported in `media_format`), `BODY` and `FOOTER` (`text`),
/// and `BUTTONS` (each `URL` button's `url`). Component types are matched
/// case-insensitively because Meta's create examples use lowercase `body`
/// while listings use `BODY`. Components without variables are left out;
/// unknown component types are ignored.
#[must_use]
pub fn placeholders(components: &Value) -> Vec<ComponentPlaceholders> {
    let mut out = Vec::new();
    let Some(components) = components.as_array() else {
        return out;
    };
    for component in components {
        let kind = str_field(component, "type").to_ascii_uppercase();
        match kind.as_str() {
            "HEADER" | "BODY" | "FOOTER" => {
                let format = str_field(component, "format").to_ascii_uppercase();
                let media_format =
                    (kind == "HEADER" && !format.is_empty() && format != "TEXT").then_some(format);
                let (positional, named) = scan_placeholders(str_field(component, "text"));
                push_if_any(
                    &mut out,
                    kind.clone(),
                    None,
                    media_format,
                    positional,
                    named,
                );
            }
            "BUTTONS" => {
                let buttons = component.get("buttons").and_then(Value::as_array);
                for (index, button) in buttons.into_iter().flatten().enumerate() {
                    if str_field(button, "type").eq_ignore_ascii_case("URL") {
                        let (positional, named) = scan_placeholders(str_field(button, "url"));
                        push_if_any(
                            &mut out,
                            "BUTTON".to_owned(),
                            Some(index),
                            None,
                            positional,
                            named,
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn push_if_any(
    out: &mut Vec<ComponentPlaceholders>,
    component: String,
    button_index: Option<usize>,
    media_format: Option<String>,
    positional: usize,
    named: Vec<String>,
) {
    if positional > 0 || !named.is_empty() || media_format.is_some() {
        out.push(ComponentPlaceholders {
            component,
            button_index,
            media_format,
            positional,
            named,
        });
    }
}

fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An ID that Meta may send as a string or a number, as a string.
fn id_field(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl Template {
    /// Reads one `data[]` item. Missing text fields read as empty strings
    /// so one odd entry does not hide the rest of the page.
    #[must_use]
    pub fn from_value(item: &Value) -> Self {
        let components = item.get("components").cloned().unwrap_or(Value::Null);
        Self {
            id: id_field(item, "id"),
            name: str_field(item, "name").to_owned(),
            language: str_field(item, "language").to_owned(),
            status: str_field(item, "status").to_owned(),
            category: str_field(item, "category").to_owned(),
            parameter_format: item
                .get("parameter_format")
                .and_then(Value::as_str)
                .map(str::to_owned),
            placeholders: placeholders(&components),
            components,
        }
    }
}

impl TemplatePage {
    /// Reads a listing body.
    ///
    /// # Errors
    /// A description when the body is not JSON or has no `data` array.
    pub fn from_body(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let data = value
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| "no `data` array".to_owned())?;
        let paging = value.get("paging");
        let has_next = paging
            .and_then(|p| p.get("next"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let next = if has_next {
            paging
                .and_then(|p| p.get("cursors"))
                .and_then(|c| c.get("after"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .or_else(|| {
                    // `next` is a full URL; its `after` query parameter is
                    // the same cursor when `cursors` is missing.
                    let url = paging?.get("next")?.as_str()?;
                    let url = reqwest::Url::parse(url).ok()?;
                    url.query_pairs()
                        .find(|(k, _)| k == "after")
                        .map(|(_, v)| v.into_owned())
                })
        } else {
            None
        };
        Ok(Self {
            templates: data.iter().map(Template::from_value).collect(),
            next,
        })
    }
}
