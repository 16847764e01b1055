//! WhatsApp's "Export chat" `.txt` files, from Android and iOS.
//!
//! One export is one conversation. Message lines start with the phone's
//! local date and time, in the phone's own date order and clock, with no
//! time zone:
//!
//! ```text
//! Android:  31/12/23, 9:41 pm - Priya: is the 2 BHK still available?
//!           12/31/23, 9:41 PM - Priya: …        (US; newer phones put U+202F before PM)
//!           31.12.23, 21:41 - Priya: …          (24 h, dotted dates)
//! iOS:      [31/12/23, 9:41:05 PM] Priya: …
//!           [2023-12-31, 21:41:05] Priya: …
//!           [31/12/23, 9:41:05 PM] Priya: <attached: 00000012-PHOTO-2023-12-31-21-41-05.jpg>
//!                                            (iOS puts U+200E before attachments and notices)
//! ```
//!
//! Lines without a leading time continue the previous message. Lines
//! without a `Name:` part, and notices that WhatsApp writes under a name
//! (iOS marks them with U+200E; "This message was deleted", missed calls,
//! security-code changes, "created group"), are system lines: skipped and
//! counted. Media placeholders in every spelling become
//! [`crate::MEDIA_OMITTED`].
//!
//! Which sender is the business is given by the caller, or detected only
//! when it is certain: two senders, exactly one of whom is saved as a phone
//! number (the customer; the business saved its customers' numbers or not,
//! but its own name is never a number in its own export). Anything else is
//! an error asking for the name, because guessing wrong would swap every
//! direction and make the whole replay meaningless.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use regex::Regex;
use switchboard_core::model::Direction;

use crate::{FormatError, MEDIA_OMITTED, Transcript, TranscriptMessage, sort_messages};

/// The order of day, month and year in an export's dates. Phones write the
/// date in the user's locale: DMY in India and most of the world, MDY in
/// the US, YMD (with a four-digit year) on some iOS locales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateOrder {
    /// `31/12/23`, `31.12.2023`.
    Dmy,
    /// `12/31/23`.
    Mdy,
    /// `2023-12-31`.
    Ymd,
}

impl DateOrder {
    /// The lowercase name: `dmy`, `mdy` or `ymd`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dmy => "dmy",
            Self::Mdy => "mdy",
            Self::Ymd => "ymd",
        }
    }
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DateOrder {
    type Err = String;

    /// Accepts `dmy`, `mdy`, `ymd` in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "dmy" => Ok(Self::Dmy),
            "mdy" => Ok(Self::Mdy),
            "ymd" => Ok(Self::Ymd),
            _ => Err(format!(
                "unknown date order {s:?}; expected one of: dmy, mdy, ymd"
            )),
        }
    }
}

/// How to read one export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The business side's sender name exactly as it appears in the export
    /// (surrounding spaces and direction marks are ignored; a unique
    /// case-insensitive match is accepted). `None`: detect, see the module
    /// docs.
    pub business: Option<String>,
    /// The time zone of the phone that exported the chat; exports carry
    /// local wall times only. Default `Asia/Kolkata`.
    pub timezone: TimeZone,
    /// The date order; `None` detects it from the whole file.
    pub date_order: Option<DateOrder>,
    /// The transcript's id, e.g. the file name (`"export-1"` by default).
    pub id: String,
}

impl ExportOptions {
    /// Defaults (detect business and date order, `Asia/Kolkata`) with the
    /// given transcript id.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            business: None,
            timezone: india(),
            date_order: None,
            id: "export-1".to_owned(),
        }
    }
}

/// `Asia/Kolkata`. The tz database is bundled into the binary, so the
/// lookup cannot fail in practice; the fixed +05:30 fallback is the same
/// zone anyway (India has had no DST since 1945).
fn india() -> TimeZone {
    TimeZone::get("Asia/Kolkata")
        .unwrap_or_else(|_| Offset::from_seconds(19_800).map_or(TimeZone::UTC, TimeZone::fixed))
}

/// One parsed export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The conversation: customer messages inbound, business messages
    /// outbound, `author` = the sender name as exported. `contact` is the
    /// customer's sender name (several names joined by `", "` in a group).
    pub transcript: Transcript,
    /// Things the reader assumed and the user should know, e.g. that an
    /// ambiguous date order was read as day/month/year.
    pub warnings: Vec<String>,
    /// How many system lines (encryption notice, deleted messages, missed
    /// calls, group changes, …) were skipped.
    pub system_lines: usize,
}

/// Reads one WhatsApp chat export.
///
/// `text` is the whole `.txt` file (a byte-order mark and `\r\n` line ends
/// are fine). Local times are converted to UTC with `opts.timezone`; a
/// 2-digit year `yy` is `20yy`.
///
/// # Errors
/// - [`FormatError::Empty`] if no line looks like an exported message, or
///   only system lines do;
/// - [`FormatError::Line`] for a date or time that does not exist (month 13,
///   31 February, 25:00, 0 PM) under the date order in use, or when some
///   dates can only be day-first and others only month-first;
/// - [`FormatError::BusinessNotFound`] if `opts.business` never sends a
///   message;
/// - [`FormatError::BusinessAmbiguous`] if the business side is not given
///   and cannot be detected (one sender, two senders that are both or
///   neither phone numbers, a group chat).
pub fn parse(text: &str, opts: &ExportOptions) -> Result<Export, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut warnings = Vec::new();
    let mut entries: Vec<Entry<'_>> = Vec::new();
    let mut ignored_before_first = 0usize;
    for (index, raw_line) in text.lines().enumerate() {
        let number = index + 1;
        match header(raw_line) {
            Some(head) => entries.push(Entry {
                line: number,
                head,
                more: Vec::new(),
            }),
            None => match entries.last_mut() {
                Some(entry) => entry.more.push(raw_line),
                None if raw_line.trim().is_empty() => {}
                None => ignored_before_first += 1,
            },
        }
    }
    if entries.is_empty() {
        return Err(FormatError::Empty(
            "no WhatsApp message lines found: expected lines like \
             `31/12/23, 21:41 - Name: text` (Android) or `[31/12/23, 21:41:05] Name: text` (iOS)"
                .to_owned(),
        ));
    }
    if ignored_before_first > 0 {
        warnings.push(format!(
            "{ignored_before_first} line(s) before the first message were ignored"
        ));
    }

    let order = match opts.date_order {
        Some(order) => order,
        None => detect_order(&entries, &mut warnings)?,
    };

    let mut system_lines = 0usize;
    let mut parsed: Vec<(String, TranscriptMessage)> = Vec::new();
    for entry in &entries {
        let at = timestamp(&entry.head, order, &opts.timezone)
            .map_err(|m| FormatError::line(entry.line, m))?;
        let Some((sender, first)) = split_sender(entry.head.rest) else {
            system_lines += 1;
            continue;
        };
        if is_notice(first) {
            system_lines += 1;
            continue;
        }
        let sender = clean_name(sender);
        let text = message_text(first, &entry.more);
        parsed.push((
            sender.clone(),
            TranscriptMessage {
                // Set once the business side is known.
                direction: Direction::Inbound,
                at,
                text,
                author: Some(sender),
                expected: None,
                acceptable: None,
                automated: false,
            },
        ));
    }
    if parsed.is_empty() {
        return Err(FormatError::Empty(format!(
            "the export has {system_lines} system line(s) and no messages"
        )));
    }

    let mut senders: Vec<String> = Vec::new();
    for (sender, _) in &parsed {
        if !senders.contains(sender) {
            senders.push(sender.clone());
        }
    }
    let business = business_side(&senders, opts.business.as_deref())?;
    let customers: Vec<&String> = senders.iter().filter(|s| **s != business).collect();
    if customers.is_empty() {
        return Err(FormatError::Empty(format!(
            "only the business {business:?} sends messages in this chat; there is no customer side"
        )));
    }
    if customers.len() > 1 {
        warnings.push(format!(
            "group chat: {} senders are treated as one customer ({})",
            customers.len(),
            customers
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let contact = customers
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut messages: Vec<TranscriptMessage> = parsed
        .into_iter()
        .map(|(sender, mut message)| {
            if sender == business {
                message.direction = Direction::Outbound;
            }
            message
        })
        .collect();
    sort_messages(&mut messages);
    Ok(Export {
        transcript: Transcript {
            id: opts.id.clone(),
            contact,
            business_phone: None,
            source_id: None,
            source_type: None,
            messages,
            outcome: None,
        },
        warnings,
        system_lines,
    })
}

/// A line that starts with an export timestamp, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head<'a> {
    /// The three date fields as written (`31`, `12`, `23`).
    date: [&'a str; 3],
    hour: u32,
    minute: u32,
    second: u32,
    /// `Some(true)` for PM, `Some(false)` for AM, `None` on a 24 h clock.
    pm: Option<bool>,
    /// What follows the timestamp: `Name: text` or a system notice.
    rest: &'a str,
}

struct Entry<'a> {
    line: usize,
    head: Head<'a>,
    /// Continuation lines, verbatim.
    more: Vec<&'a str>,
}

const DATE: &str = r"(\d{1,4})([./-])(\d{1,2})([./-])(\d{1,4})";
// Newer Android and iOS put U+202F (narrow no-break space) before AM/PM;
// `\s` covers it and U+00A0. Some locales write `a.m.` or `p. m.`.
const TIME: &str = r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:\s*([AaPp])\.?\s?[Mm]\.?)?";

static ANDROID: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^{DATE},?\s+{TIME}\s+[-\x{{2013}}]\s(.*)$")));
static IOS: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^\[{DATE},?\s+{TIME}\]\s?(.*)$")));
// System notices written without a sender can still contain ": " (a group
// subject, a description); catch them before splitting on the colon. The
// actor part may not contain a colon, so "Name: I created group…" is a message.
static ACTOR_NOTICE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"^[^:]{1,80}? (created group|created this group|changed the subject|changed the group description|changed this group's|changed the group)",
    )
});
static ATTACHED_FILE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"^\S.*\s\(file attached\)$"));
static OMITTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"^(?i:image|video|audio|sticker|GIF|document|Contact card|video note|voice message|View once (?:photo|video|voice message)) omitted$",
    )
});

/// The patterns are constants that a unit test compiles; `None` (never in
/// practice) would make the pattern match nothing rather than panic.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

fn is_match(re: &LazyLock<Option<Regex>>, text: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(text))
}

/// Direction and formatting marks that exports put around lines and names
/// (LRM before iOS attachment lines, LRE/PDF around phone numbers).
fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

/// True when `line` starts with an export timestamp (Android or iOS).
pub(crate) fn is_message_line(line: &str) -> bool {
    header(line).is_some()
}

fn header(line: &str) -> Option<Head<'_>> {
    let line = line.trim_start_matches(is_mark);
    let ios = IOS.as_ref().and_then(|re| re.captures(line));
    let caps = ios.or_else(|| ANDROID.as_ref().and_then(|re| re.captures(line)))?;
    let get = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    // Both separators must agree: "12/31-23" is not a date.
    if get(2) != get(4) {
        return None;
    }
    let number = |i: usize| get(i).parse::<u32>().ok();
    let rest = caps.get(10).map_or("", |m| m.as_str());
    Some(Head {
        date: [get(1), get(3), get(5)],
        hour: number(6)?,
        minute: number(7)?,
        second: if get(8).is_empty() { 0 } else { number(8)? },
        pm: match get(9) {
            "" => None,
            ap => Some(ap.eq_ignore_ascii_case("p")),
        },
        rest,
    })
}

/// Reads the date order from every date in the file: a first field above
/// 12 can only be a day, a second field above 12 only a day too. A
/// four-digit first field is a year (YMD) and says nothing about the others.
fn detect_order(
    entries: &[Entry<'_>],
    warnings: &mut Vec<String>,
) -> Result<DateOrder, FormatError> {
    let mut day_first: Option<usize> = None;
    let mut month_first: Option<usize> = None;
    let mut any_short = false;
    for entry in entries {
        let [a, b, _] = entry.head.date;
        if a.len() == 4 {
            continue;
        }
        any_short = true;
        let (a, b) = (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0));
        if a > 12 && day_first.is_none() {
            day_first = Some(entry.line);
        }
        if b > 12 && month_first.is_none() {
            month_first = Some(entry.line);
        }
    }
    match (day_first, month_first) {
        (Some(d), Some(m)) => Err(FormatError::line(
            d.max(m),
            format!(
                "dates contradict each other: line {d} can only be day/month/year, \
                 line {m} only month/day/year; pass the date order explicitly"
            ),
        )),
        (Some(_), None) => Ok(DateOrder::Dmy),
        (None, Some(_)) => Ok(DateOrder::Mdy),
        (None, None) if !any_short => Ok(DateOrder::Ymd),
        (None, None) => {
            warnings.push(
                "date order is ambiguous (no day above 12 in any date): read as day/month/year, \
                 as phones in India write it; pass the date order (mdy) if this phone wrote month first"
                    .to_owned(),
            );
            Ok(DateOrder::Dmy)
        }
    }
}

fn timestamp(head: &Head<'_>, order: DateOrder, tz: &TimeZone) -> Result<jiff::Timestamp, String> {
    let [a, b, c] = head.date;
    let num = |s: &str| s.parse::<i32>().unwrap_or(-1);
    // A four-digit first field is always a year, whatever the order says.
    let (year, month, day) = if a.len() == 4 {
        (num(a), num(b), num(c))
    } else {
        match order {
            DateOrder::Dmy => (num(c), num(b), num(a)),
            DateOrder::Mdy => (num(c), num(a), num(b)),
            DateOrder::Ymd => (num(a), num(b), num(c)),
        }
    };
    // WhatsApp did not exist before 2009, so a two-digit year is 20yy.
    let year = if year < 100 { 2000 + year } else { year };
    let date_text = format!("{a}/{b}/{c}");
    let hour = match head.pm {
        None if head.hour <= 23 => head.hour,
        Some(pm) if (1..=12).contains(&head.hour) => (head.hour % 12) + if pm { 12 } else { 0 },
        _ => {
            return Err(format!(
                "time {}:{:02} {}does not exist",
                head.hour,
                head.minute,
                match head.pm {
                    Some(true) => "PM ",
                    Some(false) => "AM ",
                    None => "",
                }
            ));
        }
    };
    let (Ok(year16), Ok(month8), Ok(day8), Ok(hour8), Ok(minute8), Ok(second8)) = (
        i16::try_from(year),
        i8::try_from(month),
        i8::try_from(day),
        i8::try_from(hour),
        i8::try_from(head.minute),
        i8::try_from(head.second),
    ) else {
        return Err(format!("date {date_text} is out of range"));
    };
    let civil = DateTime::new(year16, month8, day8, hour8, minute8, second8, 0).map_err(|_| {
        format!(
            "date {date_text} {:02}:{:02} does not exist when read as {} \
             (year {year}, month {month}, day {day})",
            head.hour,
            head.minute,
            name_of(order, a.len() == 4)
        )
    })?;
    tz.to_timestamp(civil)
        .map_err(|e| format!("{date_text}: cannot convert to UTC: {e}"))
}

fn name_of(order: DateOrder, year_first: bool) -> &'static str {
    match (order, year_first) {
        (_, true) | (DateOrder::Ymd, _) => "year/month/day",
        (DateOrder::Dmy, false) => "day/month/year",
        (DateOrder::Mdy, false) => "month/day/year",
    }
}

/// `Name: text` → (`Name`, `text`); `None` for a system line (no sender).
fn split_sender(rest: &str) -> Option<(&str, &str)> {
    if is_match(&ACTOR_NOTICE, rest.trim_start_matches(is_mark)) {
        return None;
    }
    if let Some((name, text)) = rest.split_once(": ") {
        return (!name.trim_matches(is_mark).trim().is_empty()).then_some((name, text));
    }
    // A message whose first line is empty ("Name:" then continuation lines).
    rest.strip_suffix(':')
        .filter(|name| !name.trim().is_empty())
        .map(|name| (name, ""))
}

fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| !is_mark(*c))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Notices WhatsApp writes under a sender's name. iOS marks every such
/// notice with a leading U+200E; attachments carry the same mark, so those
/// are told apart first.
fn is_notice(first_line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Messages and calls are end-to-end encrypted",
        "Messages to this group are now secured",
        "Messages to this chat and calls are now secured",
        "This message was deleted",
        "You deleted this message",
        "Missed voice call",
        "Missed video call",
        "Missed group voice call",
        "Missed group video call",
        "Waiting for this message",
        "This chat is with a business account",
        "This business uses a secure service",
        "This business works with other companies",
        "Your security code with",
        "Disappearing messages",
        "You blocked this contact",
        "You unblocked this contact",
    ];
    let marked = first_line.starts_with(is_mark);
    let text = first_line.trim_matches(is_mark).trim();
    if media_marker(text) {
        return false;
    }
    marked || PREFIXES.iter().any(|p| text.starts_with(p))
}

fn media_marker(text: &str) -> bool {
    let text = text.trim_matches(is_mark).trim();
    text.eq_ignore_ascii_case("<Media omitted>")
        || (text.contains("<attached: ") && text.ends_with('>'))
        || is_match(&ATTACHED_FILE, text)
        || is_match(&OMITTED, text)
}

fn message_text(first: &str, more: &[&str]) -> String {
    let mut lines: Vec<&str> = Vec::with_capacity(1 + more.len());
    let media = media_marker(first);
    if media {
        lines.push(MEDIA_OMITTED);
    } else {
        lines.push(first);
    }
    lines.extend_from_slice(more);
    // "Name:" alone on its line starts a message on the next line.
    let blank = lines.iter().take_while(|l| l.trim().is_empty()).count();
    let mut text = lines.get(blank..).unwrap_or_default().join("\n");
    // Android appends "<This message was edited>" to the last line; iOS puts
    // a direction mark before it. The edit itself is not a message.
    let trimmed = text.trim_end().trim_end_matches(is_mark);
    if let Some(stripped) = trimmed.strip_suffix("<This message was edited>") {
        text = stripped.trim_end_matches(is_mark).trim_end().to_owned();
    }
    let text = text.trim_end();
    if media || !text.trim().is_empty() {
        text.to_owned()
    } else {
        String::new()
    }
}

/// A sender saved as a phone number (`+91 98765 43210`, `098765-43210`):
/// digits with spaces, dashes, dots or brackets, at least seven digits.
fn looks_like_phone(name: &str) -> bool {
    let digits = name.chars().filter(char::is_ascii_digit).count();
    digits >= 7
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || " -.()\u{a0}".contains(c) || (i == 0 && c == '+'))
}

fn business_side(senders: &[String], given: Option<&str>) -> Result<String, FormatError> {
    if let Some(given) = given {
        let wanted = clean_name(given);
        if let Some(found) = senders.iter().find(|s| **s == wanted) {
            return Ok(found.clone());
        }
        let folded: Vec<&String> = senders
            .iter()
            .filter(|s| s.to_lowercase() == wanted.to_lowercase())
            .collect();
        if let [only] = folded.as_slice() {
            return Ok((*only).clone());
        }
        return Err(FormatError::BusinessNotFound {
            name: given.to_owned(),
            senders: senders.to_vec(),
        });
    }
    let ambiguous = |reason: String| FormatError::BusinessAmbiguous {
        reason,
        senders: senders.to_vec(),
    };
    match senders {
        [_] => Err(ambiguous("only one sender".to_owned())),
        [a, b] => match (looks_like_phone(a), looks_like_phone(b)) {
            (true, false) => Ok(b.clone()),
            (false, true) => Ok(a.clone()),
            (true, true) => Err(ambiguous("both senders are phone numbers".to_owned())),
            (false, false) => Err(ambiguous(
                "neither sender is a phone number, so either could be the customer".to_owned(),
            )),
        },
        _ => Err(ambiguous(format!(
            "a group chat with {} senders",
            senders.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_patterns_compile() {
        for re in [&ANDROID, &IOS, &ACTOR_NOTICE, &ATTACHED_FILE, &OMITTED] {
            assert!(re.is_some());
        }
        assert!(is_match(
            &ACTOR_NOTICE,
            "Asha created group \"Plots: Phase 2\""
        ));
        assert!(is_match(
            &ATTACHED_FILE,
            "IMG-20231231-WA0001.jpg (file attached)"
        ));
        assert!(is_match(&OMITTED, "image omitted"));
    }

    #[test]
    fn headers_split_into_parts() {
        let h = header("12/31/23, 9:41\u{202f}PM - Priya: hi").unwrap();
        assert_eq!(h.date, ["12", "31", "23"]);
        assert_eq!((h.hour, h.minute, h.second, h.pm), (9, 41, 0, Some(true)));
        assert_eq!(h.rest, "Priya: hi");
        let h = header("\u{200e}[2023-12-31, 21:41:05] Priya: hi").unwrap();
        assert_eq!(h.date, ["2023", "12", "31"]);
        assert_eq!((h.hour, h.second, h.pm), (21, 5, None));
        assert!(header("12/31-23, 9:41 PM - Priya: hi").is_none());
        assert!(header("see you at 9:41 - ok").is_none());
    }

    #[test]
    fn phone_like_names() {
        assert!(looks_like_phone("+91 98765 43210"));
        assert!(looks_like_phone("098765-43210"));
        assert!(!looks_like_phone("Priya 2"));
        assert!(!looks_like_phone("Sharma Realty"));
        assert!(!looks_like_phone("123"));
    }
}
