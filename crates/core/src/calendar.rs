//! Business calendars: when an inbox or team is open, in its own time zone.
//!
//! A calendar is an IANA time zone, weekly opening hours with split shifts
//! (`09:30-13:00` and `14:00-19:00`), and holidays. SLA targets count in
//! business time through it when the policy says so ([`SlaTarget`]),
//! reports measure business-hours KPIs with
//! [`BusinessCalendar::business_duration`], and quiet hours for follow-ups
//! can ask [`BusinessCalendar::is_open`] and
//! [`BusinessCalendar::next_open`].
//!
//! Conventions shared by every function here:
//! - Instants are [`Timestamp`]s (UTC). Weekly hours are local wall-clock
//!   times in the calendar's zone, and a *business day* is a local civil
//!   date.
//! - Open periods are half-open, `[open, close)`: a team open 09:30–19:00 is
//!   open at 09:30:00 and closed at 19:00:00.
//! - A local time that does not exist or exists twice because of a DST
//!   change is resolved with jiff's default ("compatible") disambiguation:
//!   a time in a gap is pushed forward by the gap's length (02:30 on the
//!   spring-forward night in New York is 03:30 EDT) and a time in a fold is
//!   its first occurrence. So hours 01:00–04:00 on the spring-forward day
//!   hold 2 real hours, and 4 on the fall-back day.
//! - Core does no I/O: the server reads the file named by
//!   [`CalendarSpec::holidays_ics`], hands its text to
//!   [`parse_ics_holidays`], and passes the dates to
//!   [`BusinessCalendar::with_holidays`].
//!
//! ```
//! use switchboard_core::calendar::{BusinessCalendar, CalendarSpec};
//!
//! let spec: CalendarSpec = toml::from_str(
//!     r#"
//!     time_zone = "Asia/Kolkata"
//!     holidays = ["2026-01-26"]
//!     [hours]
//!     mon = ["09:30-13:00", "14:00-19:00"]
//!     "#,
//! )?;
//! let cal = BusinessCalendar::new(&spec)?;
//! // Monday 12:30 plus two business hours: 30 minutes before lunch, 90 after.
//! let start: jiff::Timestamp = "2026-03-02T12:30:00+05:30".parse()?;
//! let due = cal.add_business(start, jiff::SignedDuration::from_hours(2));
//! assert_eq!(due, "2026-03-02T15:30:00+05:30".parse()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration::ConfigDuration;

/// The longest run of consecutive closed days (holidays plus weekly closed
/// days) that [`BusinessCalendar::new`] accepts. Anything longer is almost
/// certainly a typo in a holiday list, and refusing it is what lets every
/// search below stay bounded without ever hitting its bound.
pub const MAX_CLOSED_RUN_DAYS: i64 = 366;

/// How many consecutive local days without an open period the searches
/// scan before giving up. Twice [`MAX_CLOSED_RUN_DAYS`] so that a calendar
/// built by [`BusinessCalendar::new`] never reaches it; only the end of
/// jiff's supported range (year 9999) does.
const SEARCH_HORIZON_DAYS: u32 = 2 * 366;

/// Years after the event's own year through which [`parse_ics_holidays`]
/// repeats a yearly rule.
pub const ICS_YEARLY_REPEAT_YEARS: i16 = 10;

/// The longest single `.ics` event accepted, in days; longer ones are
/// refused as likely mistakes.
const ICS_MAX_EVENT_DAYS: usize = 366;

const MINUTES_PER_DAY: u16 = 24 * 60;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Why a calendar, a holiday file or an SLA target was refused. Every
/// message names the configuration field, the day where there is one, and
/// the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// `time_zone` is not a zone in the bundled IANA database.
    #[error("time_zone: unknown IANA time zone {value:?} (expected e.g. \"Asia/Kolkata\")")]
    UnknownTimeZone {
        /// The name as written.
        value: String,
    },
    /// One `hours.<day>` entry is not a valid `"HH:MM-HH:MM"` interval.
    #[error(
        "hours.{day}: invalid interval {value:?}: {why} (expected \"HH:MM-HH:MM\" with start before end, e.g. \"09:30-13:00\"; \"24:00\" is allowed as an end)"
    )]
    InvalidInterval {
        /// `mon` … `sun`.
        day: &'static str,
        /// The interval as written.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two intervals of one day overlap or are out of order.
    #[error(
        "hours.{day}: interval {value:?} overlaps or comes before {previous:?} (list a day's intervals in order, without overlap)"
    )]
    OverlappingIntervals {
        /// `mon` … `sun`.
        day: &'static str,
        /// The earlier entry in the list.
        previous: String,
        /// The entry that starts before `previous` ends.
        value: String,
    },
    /// No day of the week has an open interval.
    #[error("hours: no open interval on any day of the week (at least one day needs hours)")]
    NeverOpen,
    /// A `holidays` entry is not a `YYYY-MM-DD` date.
    #[error("holidays: invalid date {value:?} (expected YYYY-MM-DD, e.g. \"2026-01-26\")")]
    InvalidHoliday {
        /// The entry as written.
        value: String,
    },
    /// Holidays and closed weekdays together close the calendar for longer
    /// than [`MAX_CLOSED_RUN_DAYS`].
    #[error(
        "holidays: the calendar would be closed for {days} consecutive days, {first} to {last} (at most 366 allowed)"
    )]
    ClosedTooLong {
        /// First closed day of the run (local date).
        first: Date,
        /// Last closed day of the run (local date).
        last: Date,
        /// Length of the run in days.
        days: i64,
    },
    /// The `.ics` text could not be imported safely.
    #[error("holidays_ics line {line}: {why}")]
    Ics {
        /// 1-based physical line where the offending (unfolded) line starts.
        line: usize,
        /// What is wrong, naming the property and value.
        why: String,
    },
    /// An SLA target is neither a duration nor `"same_business_day"`.
    #[error(
        "invalid SLA target {value:?}: {why} (expected a duration such as \"15m\" or \"2h\", or \"same_business_day\")"
    )]
    InvalidSlaTarget {
        /// The target as written.
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A business calendar as written in configuration (TOML):
///
/// ```toml
/// time_zone = "Asia/Kolkata"
/// holidays = ["2026-01-26", "2026-08-15"]
/// holidays_ics = "holidays/india.ics"   # optional, read by the server
/// [hours]
/// mon = ["09:30-13:00", "14:00-19:00"]
/// sat = ["10:00-14:00"]
/// ```
///
/// Only shapes are checked while deserialising; [`BusinessCalendar::new`]
/// validates the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// IANA time zone name, e.g. `"Asia/Kolkata"`; the weekly hours and
    /// holidays are local to it.
    pub time_zone: String,
    /// Weekly opening hours in local wall-clock time; a missing day is
    /// closed.
    #[serde(default)]
    pub hours: WeeklyHours,
    /// Closed local dates, `"YYYY-MM-DD"`.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Path of an iCalendar file with more holidays. Core never reads it:
    /// the server does, then calls [`parse_ics_holidays`] and
    /// [`BusinessCalendar::with_holidays`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays_ics: Option<PathBuf>,
}

/// Opening hours per weekday (`[hours]`): each a list of local
/// `"HH:MM-HH:MM"` intervals, in order and without overlap, minute
/// resolution, end `"24:00"` allowed. An empty or missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeeklyHours {
    /// Monday.
    pub mon: Vec<String>,
    /// Tuesday.
    pub tue: Vec<String>,
    /// Wednesday.
    pub wed: Vec<String>,
    /// Thursday.
    pub thu: Vec<String>,
    /// Friday.
    pub fri: Vec<String>,
    /// Saturday.
    pub sat: Vec<String>,
    /// Sunday.
    pub sun: Vec<String>,
}

impl WeeklyHours {
    fn days(&self) -> [&[String]; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }
}

/// One open period `[start, end)` as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interval {
    start: Timestamp,
    end: Timestamp,
}

/// A validated business calendar. Cheap to clone; immutable once built.
///
/// Every query takes and returns UTC instants and interprets the weekly
/// hours in the calendar's zone (see the module docs for DST).
///
/// Searches are bounded: one that scans two years (732 local days) without
/// meeting an open period gives up and returns [`Timestamp::MAX`] (nothing
/// is ever due). Since [`BusinessCalendar::new`] demands an open weekday and
/// refuses closed runs longer than [`MAX_CLOSED_RUN_DAYS`], that happens
/// only at the end of jiff's supported range (year 9999). Work is linear in
/// the local days spanned (microseconds per day), so business durations of
/// centuries are slow but finish.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
    /// Monday first; minutes after local midnight, `[start, end)`, sorted
    /// and disjoint; `end` may be 1440 (24:00).
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl BusinessCalendar {
    /// Validates a spec: the zone must be known, every interval a valid
    /// `"HH:MM-HH:MM"` with start before end, each day's intervals in order
    /// without overlap, at least one open interval in the week, holidays
    /// valid dates, and no closed run longer than [`MAX_CLOSED_RUN_DAYS`].
    ///
    /// `holidays_ics` is not read here; see [`Self::with_holidays`].
    ///
    /// # Errors
    /// The first problem found, as a [`CalendarError`] naming the field,
    /// the day and the value.
    pub fn new(spec: &CalendarSpec) -> Result<Self, CalendarError> {
        let tz =
            TimeZone::get(spec.time_zone.trim()).map_err(|_| CalendarError::UnknownTimeZone {
                value: spec.time_zone.clone(),
            })?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for ((slot, day), entries) in week.iter_mut().zip(DAY_NAMES).zip(spec.hours.days()) {
            let mut previous: Option<(&String, u16)> = None;
            for entry in entries {
                let (start, end) = parse_interval(day, entry)?;
                if let Some((prev, prev_end)) = previous
                    && start < prev_end
                {
                    return Err(CalendarError::OverlappingIntervals {
                        day,
                        previous: prev.clone(),
                        value: entry.clone(),
                    });
                }
                slot.push((start, end));
                previous = Some((entry, end));
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(CalendarError::NeverOpen);
        }
        let holidays = spec
            .holidays
            .iter()
            .map(|h| {
                parse_iso_date(h.trim())
                    .ok_or_else(|| CalendarError::InvalidHoliday { value: h.clone() })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let cal = Self { tz, week, holidays };
        cal.check_closed_runs()?;
        Ok(cal)
    }

    /// A calendar that is always open, in UTC: for policies that count
    /// calendar time. Its business day is the UTC date.
    pub fn always_open() -> Self {
        Self {
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
            holidays: BTreeSet::new(),
        }
    }

    /// Adds holidays (local dates), e.g. from [`parse_ics_holidays`].
    /// Duplicates are fine.
    ///
    /// # Errors
    /// [`CalendarError::ClosedTooLong`] when the added dates close the
    /// calendar for more than [`MAX_CLOSED_RUN_DAYS`] in a row.
    pub fn with_holidays(
        mut self,
        dates: impl IntoIterator<Item = Date>,
    ) -> Result<Self, CalendarError> {
        self.holidays.extend(dates);
        self.check_closed_runs()?;
        Ok(self)
    }

    /// The zone the weekly hours and holidays are local to.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// True when `date` (local) is a holiday.
    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date)
    }

    /// True when the calendar is open at `t`. Open periods are half-open,
    /// so this is true at an opening instant and false at a closing one.
    pub fn is_open(&self, t: Timestamp) -> bool {
        self.intervals_after(t)
            .next()
            .is_some_and(|iv| iv.start <= t)
    }

    /// `t` itself when open at `t`, else the start of the next open period
    /// (UTC). Saturates at [`Timestamp::MAX`] only at the end of jiff's
    /// range; see the type docs.
    pub fn next_open(&self, t: Timestamp) -> Timestamp {
        self.intervals_after(t)
            .next()
            .map_or(Timestamp::MAX, |iv| iv.start.max(t))
    }

    /// The next opening as local time in the calendar's zone, for
    /// customer-facing text ("we open at 09:30"). `None` when the calendar
    /// is open at `t` (nothing to announce) or no opening was found (end of
    /// jiff's range).
    pub fn next_opening_local(&self, t: Timestamp) -> Option<Zoned> {
        let iv = self.intervals_after(t).next()?;
        (iv.start > t).then(|| iv.start.to_zoned(self.tz.clone()))
    }

    /// The instant at which `d` of open time has elapsed after `start`.
    ///
    /// Counting begins at [`Self::next_open`]`(start)`. The result is the
    /// earliest instant with that much open time behind it, so it lies
    /// inside an open period or exactly at a close when the budget runs out
    /// there (a 1h target from 18:00 with a 19:00 close is due at 19:00,
    /// not at the next opening). It is never strictly inside a closed
    /// period. A zero or negative `d` returns `start` unchanged: nothing is
    /// left to count, even when `start` is closed. Saturates at
    /// [`Timestamp::MAX`] past the end of jiff's range.
    pub fn add_business(&self, start: Timestamp, d: SignedDuration) -> Timestamp {
        if !d.is_positive() {
            return start;
        }
        let mut left = d;
        for iv in self.intervals_after(start) {
            let from = iv.start.max(start);
            let available = iv.end.duration_since(from);
            if left <= available {
                return from.checked_add(left).unwrap_or(Timestamp::MAX);
            }
            left -= available;
        }
        Timestamp::MAX
    }

    /// Open time between two instants (for business-hours KPIs). Negative
    /// when `to` is before `from`, so `business_duration(a, b) +
    /// business_duration(b, c) == business_duration(a, c)` for any order.
    pub fn business_duration(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        if to < from {
            return -self.business_duration(to, from);
        }
        let mut total = SignedDuration::ZERO;
        for iv in self.intervals_after(from) {
            if iv.start >= to {
                break;
            }
            total += iv.end.min(to).duration_since(iv.start.max(from));
        }
        total
    }

    /// The "same business day" due time for something arriving at `t`: the
    /// close of the last open period of `t`'s local date when `t` is before
    /// that close (also when `t` is before the day's first opening);
    /// otherwise (at or after the last close, on a closed weekday or a
    /// holiday) the last close of the next local date with open hours.
    /// Saturates at [`Timestamp::MAX`] at the end of jiff's range.
    pub fn end_of_business_day(&self, t: Timestamp) -> Timestamp {
        let mut date = self.tz.to_datetime(t).date();
        let mut floor = date
            .yesterday()
            .ok()
            .and_then(|y| raw_end(&self.raw_intervals(y)));
        for _ in 0..=SEARCH_HORIZON_DAYS {
            let raw = self.raw_intervals(date);
            if let Some(last) = clip(&raw, floor).last()
                && last.end > t
            {
                return last.end;
            }
            floor = raw_end(&raw);
            let Ok(next) = date.tomorrow() else {
                break;
            };
            date = next;
        }
        Timestamp::MAX
    }

    /// Open periods in order, skipping those that end at or before `after`.
    fn intervals_after(&self, after: Timestamp) -> OpenIntervals<'_> {
        let today = self.tz.to_datetime(after).date();
        // Start a day early: with DST oddities a period of yesterday may
        // still be running.
        let first = today.yesterday().unwrap_or(today);
        let floor = first
            .yesterday()
            .ok()
            .and_then(|d| raw_end(&self.raw_intervals(d)));
        OpenIntervals {
            cal: self,
            after,
            date: Some(first),
            floor,
            buf: Vec::new().into_iter(),
            empty_days: 0,
        }
    }

    /// The open periods of one local date as instants, before clipping
    /// against the previous day. Periods outside jiff's range of instants
    /// (the first and last days of years -9999 and 9999) are left out, as
    /// if closed, so searches run on to the end of the range and stop there.
    fn raw_intervals(&self, date: Date) -> Vec<Interval> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        self.week_of(date)
            .iter()
            .filter_map(|&(s, e)| {
                Some(Interval {
                    start: self.local_instant(date, s)?,
                    end: self.local_instant(date, e)?,
                })
            })
            .collect()
    }

    fn week_of(&self, date: Date) -> &[(u16, u16)] {
        &self.week[weekday_index(date.weekday())]
    }

    /// `minute` minutes after local midnight of `date` (1440 = next
    /// midnight), with compatible disambiguation.
    fn local_instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let (date, minute) = if minute >= MINUTES_PER_DAY {
            (date.tomorrow().ok()?, minute - MINUTES_PER_DAY)
        } else {
            (date, minute)
        };
        let hour = i8::try_from(minute / 60).ok()?;
        let min = i8::try_from(minute % 60).ok()?;
        let time = Time::new(hour, min, 0, 0).ok()?;
        self.tz.to_timestamp(DateTime::from_parts(date, time)).ok()
    }

    fn is_closed_day(&self, date: Date) -> bool {
        self.holidays.contains(&date) || self.week_of(date).is_empty()
    }

    /// Refuses closed runs longer than [`MAX_CLOSED_RUN_DAYS`]. Only days
    /// near holidays can be part of a long run (a run of weekly closed days
    /// alone is at most 6 days, since `new` demands one open weekday), so
    /// the scan jumps from one holiday's neighbourhood to the next.
    fn check_closed_runs(&self) -> Result<(), CalendarError> {
        let Some(&first_holiday) = self.holidays.first() else {
            return Ok(());
        };
        let too_long = |first: Date, last: Date, days: i64| {
            if days > MAX_CLOSED_RUN_DAYS {
                Err(CalendarError::ClosedTooLong { first, last, days })
            } else {
                Ok(())
            }
        };
        let mut day = first_holiday.checked_sub(7.days()).unwrap_or(first_holiday);
        let mut run: Option<(Date, Date, i64)> = None;
        loop {
            if self.is_closed_day(day) {
                run = Some(match run {
                    Some((first, _, n)) => (first, day, n + 1),
                    None => (day, day, 1),
                });
                match day.tomorrow() {
                    Ok(next) => day = next,
                    Err(_) => {
                        return match run {
                            Some((first, last, n)) => too_long(first, last, n),
                            None => Ok(()),
                        };
                    }
                }
            } else {
                if let Some((first, last, n)) = run.take() {
                    too_long(first, last, n)?;
                }
                // Between holidays only weekly closed days can be closed, and
                // at most 6 in a row, so starting 7 days before the next
                // holiday catches any run leading into it.
                let Some(&next_holiday) = self.holidays.range(day..).next() else {
                    return Ok(());
                };
                let jump = next_holiday.checked_sub(7.days()).unwrap_or(next_holiday);
                let Ok(next) = day.tomorrow() else {
                    return Ok(());
                };
                day = next.max(jump);
            }
        }
    }
}

/// Iterator over open periods, in order and disjoint. Gives up after
/// [`SEARCH_HORIZON_DAYS`] consecutive days without one.
struct OpenIntervals<'a> {
    cal: &'a BusinessCalendar,
    after: Timestamp,
    date: Option<Date>,
    /// Latest raw close of the previous day, to clip against.
    floor: Option<Timestamp>,
    buf: std::vec::IntoIter<Interval>,
    empty_days: u32,
}

impl Iterator for OpenIntervals<'_> {
    type Item = Interval;

    fn next(&mut self) -> Option<Interval> {
        loop {
            for iv in self.buf.by_ref() {
                if iv.end > self.after {
                    self.empty_days = 0;
                    return Some(iv);
                }
            }
            if self.empty_days >= SEARCH_HORIZON_DAYS {
                return None;
            }
            let date = self.date?;
            let raw = self.cal.raw_intervals(date);
            self.buf = clip(&raw, self.floor).into_iter();
            self.floor = raw_end(&raw);
            self.date = date.tomorrow().ok();
            self.empty_days += 1;
        }
    }
}

/// Makes a day's periods start no earlier than the previous day's last
/// close and each other's ends, dropping any left empty. For ordinary zones
/// this changes nothing; it keeps periods ordered and disjoint across
/// transitions that shift a whole day (Samoa skipped 2011-12-30), so the
/// searches never count the same instant twice. It depends only on the day
/// and its predecessor, so every query sees the same periods.
fn clip(raw: &[Interval], floor: Option<Timestamp>) -> Vec<Interval> {
    let mut floor = floor;
    let mut out = Vec::with_capacity(raw.len());
    for iv in raw {
        let start = floor.map_or(iv.start, |f| iv.start.max(f));
        if start < iv.end {
            out.push(Interval { start, end: iv.end });
        }
        floor = Some(floor.map_or(iv.end, |f| f.max(iv.end)));
    }
    out
}

fn raw_end(raw: &[Interval]) -> Option<Timestamp> {
    raw.iter().map(|iv| iv.end).max()
}

fn weekday_index(w: Weekday) -> usize {
    match w {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

/// Parses `"HH:MM-HH:MM"` (an en dash also separates) into minutes after
/// midnight.
fn parse_interval(day: &'static str, value: &str) -> Result<(u16, u16), CalendarError> {
    let err = |why| CalendarError::InvalidInterval {
        day,
        value: value.to_owned(),
        why,
    };
    let (a, b) = value
        .split_once(['-', '–'])
        .ok_or_else(|| err("missing '-' between start and end"))?;
    let start = parse_hhmm(a.trim()).ok_or_else(|| err("start is not a time HH:MM"))?;
    let end = parse_hhmm(b.trim()).ok_or_else(|| err("end is not a time HH:MM"))?;
    if start >= MINUTES_PER_DAY {
        return Err(err("start must be before 24:00"));
    }
    if start >= end {
        return Err(err("start must be before end"));
    }
    Ok((start, end))
}

/// `"H:MM"` or `"HH:MM"`, 00:00 to 24:00, as minutes.
fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Strict `YYYY-MM-DD`.
fn parse_iso_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i16> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = num(0..4)?;
    let month = i8::try_from(num(5..7)?).ok()?;
    let day = i8::try_from(num(8..10)?).ok()?;
    Date::new(year, month, day).ok()
}

// ---------------------------------------------------------------------------
// SLA targets

/// An SLA target as written in configuration: a [`ConfigDuration`]
/// (`"15m"`, `"2h"`; at least `"1s"`) or the literal
/// `"same_business_day"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaTarget {
    /// Due after this much time: calendar time or business time, as the
    /// policy says (see [`SlaTarget::due_at`]).
    Within(ConfigDuration),
    /// Due at the close of the business day (see
    /// [`BusinessCalendar::end_of_business_day`]).
    SameBusinessDay,
}

impl SlaTarget {
    const SAME_BUSINESS_DAY: &'static str = "same_business_day";

    /// Parses a target; see the type docs.
    ///
    /// # Errors
    /// [`CalendarError::InvalidSlaTarget`] for anything else, including
    /// `"0s"`.
    pub fn parse(input: &str) -> Result<Self, CalendarError> {
        let s = input.trim();
        if s == Self::SAME_BUSINESS_DAY {
            return Ok(Self::SameBusinessDay);
        }
        let err = |why: String| CalendarError::InvalidSlaTarget {
            value: input.to_owned(),
            why,
        };
        let d = ConfigDuration::parse(s).map_err(|e| err(e.to_string()))?;
        if d.as_secs() == 0 {
            return Err(err("a target must be at least 1s".to_owned()));
        }
        Ok(Self::Within(d))
    }

    /// When something that started waiting at `start` (UTC) is due (UTC).
    ///
    /// A duration target counts business time through `cal` when
    /// `business_hours` is true ([`BusinessCalendar::add_business`]) and
    /// elapsed time otherwise (saturating at [`Timestamp::MAX`]).
    /// `same_business_day` always uses `cal`, whatever `business_hours`
    /// says, because a business day only exists in a calendar; pass
    /// [`BusinessCalendar::always_open`] for "end of the UTC day".
    pub fn due_at(
        &self,
        cal: &BusinessCalendar,
        start: Timestamp,
        business_hours: bool,
    ) -> Timestamp {
        match *self {
            Self::Within(d) if business_hours => cal.add_business(start, d.as_signed()),
            Self::Within(d) => start.checked_add(d.as_signed()).unwrap_or(Timestamp::MAX),
            Self::SameBusinessDay => cal.end_of_business_day(start),
        }
    }
}

impl fmt::Display for SlaTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Within(d) => d.fmt(f),
            Self::SameBusinessDay => f.write_str(Self::SAME_BUSINESS_DAY),
        }
    }
}

impl std::str::FromStr for SlaTarget {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for SlaTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SlaTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// iCalendar holidays

/// Holiday dates from iCalendar (RFC 5545) text, sorted and deduplicated.
/// Yearly rules repeat from the event's year through
/// [`ICS_YEARLY_REPEAT_YEARS`] years later; use
/// [`parse_ics_holidays_through`] to choose the last year instead.
///
/// Understood: CRLF or LF line ends, folded lines, `VEVENT`s (properties
/// of nested components such as `VALARM`, and everything outside events,
/// such as `VTIMEZONE`, are ignored) with
/// - `DTSTART` as a date (`DTSTART;VALUE=DATE:20260126`) or a date-time,
///   of which the written date is taken (the UTC date for a trailing `Z`);
/// - `DTEND` (exclusive for all-day events, so `20260126`–`20260128` is two
///   days; a date-time end includes its date unless it is exactly
///   midnight) or `DURATION` (`P2D`, `P1W`, `PT36H`); without either an
///   event covers its start date;
/// - `RRULE` with `FREQ=YEARLY` and optionally `INTERVAL`, `COUNT`, `UNTIL`
///   and `BYMONTH`/`BYMONTHDAY` equal to the start's (a 29 February start
///   skips non-leap years, as RFC 5545 says);
/// - `RDATE` and `EXDATE` date lists, `STATUS:CANCELLED` (the event is
///   skipped) and `RECURRENCE-ID` overrides (the overridden occurrence of
///   the event with the same `UID` is dropped, the override's own dates
///   kept).
///
/// # Errors
/// [`CalendarError::Ics`] with the line number for text that does not
/// start with `BEGIN:VCALENDAR`, unbalanced `BEGIN`/`END`, an event
/// without `DTSTART`, a malformed date or duration, an end before its start,
/// an event longer than 366 days, and any recurrence rule other than the
/// yearly form above (refused rather than silently wrong).
pub fn parse_ics_holidays(text: &str) -> Result<Vec<Date>, CalendarError> {
    ics::parse(text, None)
}

/// Like [`parse_ics_holidays`], but yearly rules repeat through
/// `last_year` (inclusive) whatever the event's own year, so a rule
/// starting in 2015 still covers the current year. The caller picks the
/// year, e.g. the current year plus ten.
///
/// # Errors
/// As [`parse_ics_holidays`].
pub fn parse_ics_holidays_through(text: &str, last_year: i16) -> Result<Vec<Date>, CalendarError> {
    ics::parse(text, Some(last_year))
}

mod ics {
    use std::collections::{BTreeMap, BTreeSet};

    use jiff::SignedDuration;
    use jiff::civil::{Date, DateTime, Time};

    use super::{CalendarError, ICS_MAX_EVENT_DAYS, ICS_YEARLY_REPEAT_YEARS};

    fn err(line: usize, why: impl Into<String>) -> CalendarError {
        CalendarError::Ics {
            line,
            why: why.into(),
        }
    }

    #[derive(Debug, Clone, Copy)]
    struct YearlyRule {
        interval: i16,
        count: Option<u32>,
        until: Option<Date>,
        by_month: Option<i8>,
        by_month_day: Option<i8>,
    }

    #[derive(Debug, Default)]
    struct Event {
        line: usize,
        start: Option<DateTime>,
        end: Option<(usize, DateTime)>,
        duration: Option<(usize, SignedDuration)>,
        rule: Option<(usize, YearlyRule)>,
        rdates: Vec<Date>,
        exdates: Vec<Date>,
        uid: Option<String>,
        recurrence_id: Option<Date>,
        cancelled: bool,
    }

    /// One event, expanded: the start dates of its occurrences and how many
    /// days each covers.
    struct Expanded {
        uid: Option<String>,
        recurrence_id: Option<Date>,
        starts: BTreeSet<Date>,
        days: usize,
    }

    /// RFC 5545 §3.1 unfolding; each logical line keeps the number of the
    /// physical line it starts on, for error messages.
    fn unfold(text: &str) -> Vec<(usize, String)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut out: Vec<(usize, String)> = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(rest) = line.strip_prefix([' ', '\t'])
                && let Some((_, last)) = out.last_mut()
            {
                last.push_str(rest);
                continue;
            }
            if !line.trim().is_empty() {
                out.push((i + 1, line.to_owned()));
            }
        }
        out
    }

    /// One content line, split: `NAME;PARAM=V;...:value`.
    struct Property<'a> {
        /// Upper-cased.
        name: String,
        /// Upper-cased keys, unquoted values.
        params: Vec<(String, String)>,
        value: &'a str,
    }

    impl<'a> Property<'a> {
        /// Splits a line, honouring quoted parameter values (which may hold
        /// `:` and `;`). `None` for a line without a value separator.
        fn split(line: &'a str) -> Option<Self> {
            let mut in_quotes = false;
            let mut colon = None;
            let mut semis = Vec::new();
            for (i, c) in line.char_indices() {
                match c {
                    '"' => in_quotes = !in_quotes,
                    ';' if !in_quotes => semis.push(i),
                    ':' if !in_quotes => {
                        colon = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let colon = colon?;
            let name_end = semis.first().copied().unwrap_or(colon);
            let name = line.get(..name_end)?.trim().to_ascii_uppercase();
            let mut params = Vec::new();
            let mut bounds = semis;
            bounds.push(colon);
            for w in bounds.windows(2) {
                let p = line.get(w[0] + 1..w[1]).unwrap_or("");
                if let Some((k, v)) = p.split_once('=') {
                    params.push((
                        k.trim().to_ascii_uppercase(),
                        v.trim_matches('"').to_owned(),
                    ));
                }
            }
            Some(Self {
                name,
                params,
                value: line.get(colon + 1..)?,
            })
        }

        /// True when parameter `key` (upper case) equals `value`, ignoring case.
        fn param_is(&self, key: &str, value: &str) -> bool {
            self.params
                .iter()
                .any(|(k, v)| k == key && v.eq_ignore_ascii_case(value))
        }
    }

    fn parse_basic_date(s: &str) -> Option<Date> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i16 = s.get(0..4)?.parse().ok()?;
        let month: i8 = s.get(4..6)?.parse().ok()?;
        let day: i8 = s.get(6..8)?.parse().ok()?;
        Date::new(year, month, day).ok()
    }

    /// `YYYYMMDD` or `YYYYMMDDTHHMMSS[Z]`.
    fn parse_time(value: &str) -> Option<DateTime> {
        let v = value.trim();
        match v.split_once(['T', 't']) {
            None => Some(parse_basic_date(v)?.to_datetime(Time::midnight())),
            Some((d, t)) => {
                let date = parse_basic_date(d)?;
                let t = t.strip_suffix(['Z', 'z']).unwrap_or(t);
                if t.len() != 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let h: i8 = t.get(0..2)?.parse().ok()?;
                let m: i8 = t.get(2..4)?.parse().ok()?;
                // A leap second (60) is allowed by RFC 5545; jiff has none.
                let s: i8 = t.get(4..6)?.parse::<i8>().ok()?.min(59);
                Some(date.to_datetime(Time::new(h, m, s, 0).ok()?))
            }
        }
    }

    fn time_or_err(line: usize, prop: &str, value: &str) -> Result<DateTime, CalendarError> {
        parse_time(value).ok_or_else(|| {
            err(
                line,
                format!(
                    "{prop}: invalid date {:?} (expected YYYYMMDD or YYYYMMDDTHHMMSS)",
                    value.trim()
                ),
            )
        })
    }

    /// RFC 5545 `dur-value`, non-negative: `P2D`, `P1W`, `PT36H`, `P1DT12H`.
    fn parse_duration(value: &str) -> Option<SignedDuration> {
        let v = value.trim();
        let v = v.strip_prefix('+').unwrap_or(v);
        let rest = v.strip_prefix(['P', 'p'])?;
        let mut secs: i64 = 0;
        let mut digits = String::new();
        let mut in_time = false;
        let mut any = false;
        for c in rest.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let c = c.to_ascii_uppercase();
            if c == 'T' && digits.is_empty() && !in_time {
                in_time = true;
                continue;
            }
            let n: i64 = digits.parse().ok()?;
            digits.clear();
            let unit = match (in_time, c) {
                (false, 'W') => 7 * 86_400,
                (false, 'D') => 86_400,
                (true, 'H') => 3600,
                (true, 'M') => 60,
                (true, 'S') => 1,
                _ => return None,
            };
            secs = secs.checked_add(n.checked_mul(unit)?)?;
            any = true;
        }
        (any && digits.is_empty()).then(|| SignedDuration::from_secs(secs))
    }

    fn parse_rule(line: usize, value: &str) -> Result<YearlyRule, CalendarError> {
        let unsupported = |part: &str| {
            err(
                line,
                format!(
                    "RRULE {value:?}: {part:?} is not supported; only FREQ=YEARLY with INTERVAL, COUNT, UNTIL, and BYMONTH/BYMONTHDAY equal to DTSTART's is understood (refused rather than guessed)"
                ),
            )
        };
        let bad = |part: &str| err(line, format!("RRULE {value:?}: invalid {part:?}"));
        let mut rule = YearlyRule {
            interval: 1,
            count: None,
            until: None,
            by_month: None,
            by_month_day: None,
        };
        let mut yearly = false;
        for part in value.trim().split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| bad(part))?;
            match k.trim().to_ascii_uppercase().as_str() {
                "FREQ" if v.eq_ignore_ascii_case("YEARLY") => yearly = true,
                "INTERVAL" => {
                    rule.interval = v
                        .parse::<i16>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad(part))?;
                }
                "COUNT" => {
                    rule.count = Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| bad(part))?,
                    );
                }
                "UNTIL" => rule.until = Some(parse_time(v).ok_or_else(|| bad(part))?.date()),
                "BYMONTH" => {
                    rule.by_month = Some(
                        v.parse::<i8>()
                            .ok()
                            .filter(|m| (1..=12).contains(m))
                            .ok_or_else(|| unsupported(part))?,
                    );
                }
                "BYMONTHDAY" => {
                    rule.by_month_day = Some(
                        v.parse::<i8>()
                            .ok()
                            .filter(|d| (1..=31).contains(d))
                            .ok_or_else(|| unsupported(part))?,
                    );
                }
                // Week start only matters with week-based parts, which are refused.
                "WKST" => {}
                _ => return Err(unsupported(part)),
            }
        }
        if !yearly {
            return Err(unsupported(value.trim()));
        }
        if rule.count.is_some() && rule.until.is_some() {
            return Err(err(
                line,
                format!("RRULE {value:?}: COUNT and UNTIL together are not allowed"),
            ));
        }
        Ok(rule)
    }

    fn date_list(line: usize, prop: &str, value: &str) -> Result<Vec<Date>, CalendarError> {
        value
            .split(',')
            .map(|v| time_or_err(line, prop, v).map(|t| t.date()))
            .collect()
    }

    pub(super) fn parse(text: &str, through: Option<i16>) -> Result<Vec<Date>, CalendarError> {
        let lines = unfold(text);
        match lines.first() {
            Some((_, l)) if l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR") => {}
            Some((n, _)) => return Err(err(*n, "not an iCalendar file: expected BEGIN:VCALENDAR")),
            None => return Err(err(1, "empty file: expected BEGIN:VCALENDAR")),
        }
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut event: Option<Event> = None;
        let mut expanded: Vec<Expanded> = Vec::new();
        for (n, line) in &lines {
            let n = *n;
            let Some(prop) = Property::split(line) else {
                continue;
            };
            let (name, value) = (prop.name.as_str(), prop.value);
            match name {
                "BEGIN" => {
                    let component = value.trim().to_ascii_uppercase();
                    if component == "VEVENT" && stack.last().is_some_and(|(_, c)| c == "VCALENDAR")
                    {
                        event = Some(Event {
                            line: n,
                            ..Event::default()
                        });
                    }
                    stack.push((n, component));
                    continue;
                }
                "END" => {
                    let component = value.trim().to_ascii_uppercase();
                    match stack.pop() {
                        Some((_, open)) if open == component => {}
                        Some((at, open)) => {
                            return Err(err(
                                n,
                                format!(
                                    "END:{component} does not close BEGIN:{open} from line {at}"
                                ),
                            ));
                        }
                        None => return Err(err(n, format!("END:{component} without BEGIN"))),
                    }
                    if component == "VEVENT"
                        && let Some(ev) = event.take()
                    {
                        expanded.extend(expand(ev, through)?);
                    }
                    continue;
                }
                _ => {}
            }
            let in_event = stack.last().is_some_and(|(_, c)| c == "VEVENT");
            let Some(ev) = event.as_mut().filter(|_| in_event) else {
                continue;
            };
            match name {
                "DTSTART" => {
                    if ev.start.is_some() {
                        return Err(err(n, "DTSTART: a second DTSTART in one event"));
                    }
                    ev.start = Some(time_or_err(n, "DTSTART", value)?);
                }
                "DTEND" => ev.end = Some((n, time_or_err(n, "DTEND", value)?)),
                "DURATION" => {
                    let d = parse_duration(value).ok_or_else(|| {
                        err(n, format!("DURATION: invalid or negative duration {:?} (expected e.g. P1D, P1W, PT36H)", value.trim()))
                    })?;
                    ev.duration = Some((n, d));
                }
                "RRULE" => {
                    if ev.rule.is_some() {
                        return Err(err(
                            n,
                            "RRULE: more than one rule in one event is not supported",
                        ));
                    }
                    ev.rule = Some((n, parse_rule(n, value)?));
                }
                "RDATE" => {
                    if prop.param_is("VALUE", "PERIOD") {
                        return Err(err(n, "RDATE: VALUE=PERIOD is not supported"));
                    }
                    ev.rdates.extend(date_list(n, "RDATE", value)?);
                }
                "EXDATE" => ev.exdates.extend(date_list(n, "EXDATE", value)?),
                "UID" => ev.uid = Some(value.trim().to_owned()),
                "RECURRENCE-ID" => {
                    if prop.param_is("RANGE", "THISANDFUTURE") {
                        return Err(err(
                            n,
                            "RECURRENCE-ID: RANGE=THISANDFUTURE is not supported",
                        ));
                    }
                    ev.recurrence_id = Some(time_or_err(n, "RECURRENCE-ID", value)?.date());
                }
                "STATUS" => ev.cancelled = value.trim().eq_ignore_ascii_case("CANCELLED"),
                _ => {}
            }
        }
        if let Some((at, open)) = stack.last() {
            return Err(err(
                *at,
                format!("BEGIN:{open} is never closed (truncated file?)"),
            ));
        }

        // Overrides replace one occurrence of the event with the same UID.
        let overridden: BTreeMap<&str, BTreeSet<Date>> =
            expanded.iter().fold(BTreeMap::new(), |mut acc, e| {
                if let (Some(uid), Some(rid)) = (&e.uid, e.recurrence_id) {
                    acc.entry(uid.as_str())
                        .or_insert_with(BTreeSet::new)
                        .insert(rid);
                }
                acc
            });
        let mut dates = BTreeSet::new();
        for e in &expanded {
            let skip = match (&e.uid, e.recurrence_id) {
                (Some(uid), None) => overridden.get(uid.as_str()),
                _ => None,
            };
            for start in e
                .starts
                .iter()
                .filter(|d| !skip.is_some_and(|s| s.contains(d)))
            {
                let mut d = *start;
                for i in 0..e.days {
                    dates.insert(d);
                    if i + 1 < e.days {
                        let Ok(next) = d.tomorrow() else { break };
                        d = next;
                    }
                }
            }
        }
        Ok(dates.into_iter().collect())
    }

    /// Occurrence start dates and length of one finished event; `None`
    /// for a cancelled event.
    fn expand(ev: Event, through: Option<i16>) -> Result<Option<Expanded>, CalendarError> {
        let start = ev
            .start
            .ok_or_else(|| err(ev.line, "VEVENT without DTSTART"))?;
        let end = match (ev.end, ev.duration) {
            (Some(_), Some((n, _))) => {
                return Err(err(
                    n,
                    "DURATION: an event may not have both DTEND and DURATION",
                ));
            }
            (Some((n, end)), None) => {
                if end < start {
                    return Err(err(
                        n,
                        format!("DTEND: {} is before DTSTART {}", end, start),
                    ));
                }
                end
            }
            (None, Some((n, d))) => start
                .checked_add(d)
                .map_err(|_| err(n, "DURATION: the end is out of range"))?,
            // Covers just the start date, all-day or not.
            (None, None) => start,
        };
        // An end at midnight excludes its date (exclusive all-day DTEND);
        // any later time includes it. An event covers at least its start date.
        let first = start.date();
        let last = if end.time() == Time::midnight() && end.date() > first {
            end.date().yesterday().unwrap_or(first)
        } else {
            end.date()
        };
        let mut days = 1usize;
        let mut d = first;
        while d < last {
            days += 1;
            if days > ICS_MAX_EVENT_DAYS {
                return Err(err(
                    ev.line,
                    format!(
                        "VEVENT from {first} to {last} spans more than {ICS_MAX_EVENT_DAYS} days"
                    ),
                ));
            }
            let Ok(next) = d.tomorrow() else { break };
            d = next;
        }
        if ev.cancelled {
            return Ok(None);
        }

        let mut starts = BTreeSet::from([first]);
        if let Some((n, rule)) = ev.rule {
            if rule.by_month.is_some_and(|m| m != first.month())
                || rule.by_month_day.is_some_and(|d| d != first.day())
            {
                return Err(err(
                    n,
                    format!(
                        "RRULE: BYMONTH/BYMONTHDAY differ from DTSTART {first}; only a rule repeating DTSTART's date is supported"
                    ),
                ));
            }
            let last_year =
                through.unwrap_or_else(|| first.year().saturating_add(ICS_YEARLY_REPEAT_YEARS));
            let mut year = first.year();
            let mut count = 0u32;
            while year <= last_year {
                // 29 February: years without it have no occurrence (RFC 5545).
                if let Ok(date) = Date::new(year, first.month(), first.day()) {
                    if rule.until.is_some_and(|u| date > u)
                        || rule.count.is_some_and(|c| count >= c)
                    {
                        break;
                    }
                    starts.insert(date);
                    count += 1;
                }
                let Some(next) = year.checked_add(rule.interval) else {
                    break;
                };
                year = next;
            }
        }
        starts.extend(ev.rdates);
        for ex in &ev.exdates {
            starts.remove(ex);
        }
        Ok(Some(Expanded {
            uid: ev.uid,
            recurrence_id: ev.recurrence_id,
            starts,
            days,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KOLKATA: &str = r#"
        time_zone = "Asia/Kolkata"
        holidays = ["2026-01-26", "2026-08-15"]
        [hours]
        mon = ["09:30-13:00", "14:00-19:00"]
        tue = ["09:30-13:00", "14:00-19:00"]
        wed = ["09:30-13:00", "14:00-19:00"]
        thu = ["09:30-13:00", "14:00-19:00"]
        fri = ["09:30-13:00", "14:00-19:00"]
    "#;

    fn cal(toml_text: &str) -> BusinessCalendar {
        BusinessCalendar::new(&toml::from_str(toml_text).unwrap()).unwrap()
    }

    fn build_err(toml_text: &str) -> CalendarError {
        BusinessCalendar::new(&toml::from_str(toml_text).unwrap()).unwrap_err()
    }

    /// A local wall-clock time in the calendar's zone, as an instant.
    fn local(cal: &BusinessCalendar, s: &str) -> Timestamp {
        s.parse::<DateTime>()
            .unwrap()
            .to_zoned(cal.time_zone().clone())
            .unwrap()
            .timestamp()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn hours(n: i64) -> SignedDuration {
        SignedDuration::from_hours(n)
    }

    fn mins(n: i64) -> SignedDuration {
        SignedDuration::from_mins(n)
    }

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn split_shift_skips_lunch() {
        let c = cal(KOLKATA);
        // 2026-03-02 is a Monday.
        let due = c.add_business(local(&c, "2026-03-02T12:30"), hours(2));
        assert_eq!(due, local(&c, "2026-03-02T15:30"));
        let due = c.add_business(local(&c, "2026-03-02T13:30"), mins(30));
        assert_eq!(
            due,
            local(&c, "2026-03-02T14:30"),
            "lunch start counts from 14:00"
        );
    }

    #[test]
    fn overnight_weekend_and_holiday() {
        let c = cal(KOLKATA);
        let due = c.add_business(local(&c, "2026-03-02T18:00"), hours(2));
        assert_eq!(
            due,
            local(&c, "2026-03-03T10:30"),
            "across the closed night"
        );
        let due = c.add_business(local(&c, "2026-03-06T18:30"), hours(1));
        assert_eq!(
            due,
            local(&c, "2026-03-09T10:00"),
            "Friday evening to Monday"
        );
        let due = c.add_business(local(&c, "2026-03-07T11:00"), mins(30));
        assert_eq!(
            due,
            local(&c, "2026-03-09T10:00"),
            "closed start counts from Monday's opening"
        );
        // 2026-01-23 is a Friday; Monday 26 January is Republic Day.
        let due = c.add_business(local(&c, "2026-01-23T18:30"), hours(1));
        assert_eq!(due, local(&c, "2026-01-27T10:00"));
        assert!(!c.is_open(local(&c, "2026-01-26T10:00")));
        assert!(c.is_holiday(date("2026-01-26")));
    }

    #[test]
    fn budget_ending_at_a_close_is_due_at_the_close() {
        let c = cal(KOLKATA);
        let close = local(&c, "2026-03-02T19:00");
        assert_eq!(
            c.add_business(local(&c, "2026-03-02T18:00"), hours(1)),
            close
        );
        assert!(!c.is_open(close));
        assert!(c.is_open(close - SignedDuration::from_nanos(1)));
        assert_eq!(c.next_open(close), local(&c, "2026-03-03T09:30"));
        // Continuing from the close is the same as adding in one go.
        assert_eq!(
            c.add_business(close, mins(30)),
            c.add_business(local(&c, "2026-03-02T18:00"), mins(90))
        );
    }

    #[test]
    fn zero_or_negative_budget_returns_start() {
        let c = cal(KOLKATA);
        let sat = local(&c, "2026-03-07T11:00");
        assert_eq!(c.add_business(sat, SignedDuration::ZERO), sat);
        assert_eq!(c.add_business(sat, hours(-3)), sat);
    }

    #[test]
    fn open_periods_are_half_open() {
        let c = cal(KOLKATA);
        let at = |s| c.is_open(local(&c, s));
        assert!(!at("2026-03-02T09:29:59"));
        assert!(at("2026-03-02T09:30"));
        assert!(at("2026-03-02T12:59:59"));
        assert!(!at("2026-03-02T13:00"));
        assert!(at("2026-03-02T14:00"));
        assert!(!at("2026-03-02T19:00"));
        assert!(!at("2026-03-07T12:00"), "Saturday is closed");
    }

    #[test]
    fn next_open_and_local_opening() {
        let c = cal(KOLKATA);
        let open = local(&c, "2026-03-02T10:00");
        assert_eq!(c.next_open(open), open);
        assert_eq!(c.next_opening_local(open), None);
        let sat = local(&c, "2026-03-07T11:00");
        assert_eq!(c.next_open(sat), local(&c, "2026-03-09T09:30"));
        let z = c.next_opening_local(sat).unwrap();
        assert_eq!((z.hour(), z.minute()), (9, 30));
        assert_eq!(z.date(), date("2026-03-09"));
        assert_eq!(z.time_zone().iana_name(), Some("Asia/Kolkata"));
    }

    #[test]
    fn business_duration_counts_open_time_only() {
        let c = cal(KOLKATA);
        let a = local(&c, "2026-03-02T09:00");
        let b = local(&c, "2026-03-03T10:00");
        // Monday 3.5 h + 5 h, Tuesday 0.5 h.
        assert_eq!(c.business_duration(a, b), hours(9));
        assert_eq!(c.business_duration(b, a), -hours(9));
        assert_eq!(c.business_duration(a, a), SignedDuration::ZERO);
        // A full week: five days of 8.5 h.
        let week =
            c.business_duration(local(&c, "2026-03-02T00:00"), local(&c, "2026-03-09T00:00"));
        assert_eq!(week, mins(5 * 510));
    }

    #[test]
    fn same_business_day() {
        let c = cal(KOLKATA);
        let eod = |s| c.end_of_business_day(local(&c, s));
        let monday_close = local(&c, "2026-03-02T19:00");
        assert_eq!(eod("2026-03-02T08:00"), monday_close, "before opening");
        assert_eq!(eod("2026-03-02T13:30"), monday_close, "during lunch");
        assert_eq!(eod("2026-03-02T18:59:59"), monday_close, "during");
        assert_eq!(
            eod("2026-03-02T19:00"),
            local(&c, "2026-03-03T19:00"),
            "at close"
        );
        assert_eq!(
            eod("2026-03-02T22:00"),
            local(&c, "2026-03-03T19:00"),
            "after close"
        );
        assert_eq!(
            eod("2026-03-06T20:00"),
            local(&c, "2026-03-09T19:00"),
            "Friday night"
        );
        assert_eq!(
            eod("2026-03-07T10:00"),
            local(&c, "2026-03-09T19:00"),
            "Saturday"
        );
        assert_eq!(
            eod("2026-01-26T10:00"),
            local(&c, "2026-01-27T19:00"),
            "holiday"
        );
    }

    #[test]
    fn sla_targets_parse_and_compute() {
        let c = cal(KOLKATA);
        let start = local(&c, "2026-03-02T12:30");
        let two_h = SlaTarget::parse("2h").unwrap();
        assert_eq!(two_h.due_at(&c, start, true), local(&c, "2026-03-02T15:30"));
        assert_eq!(
            two_h.due_at(&c, start, false),
            local(&c, "2026-03-02T14:30")
        );
        let sbd: SlaTarget = "same_business_day".parse().unwrap();
        assert_eq!(sbd, SlaTarget::SameBusinessDay);
        assert_eq!(sbd.due_at(&c, start, true), local(&c, "2026-03-02T19:00"));
        assert_eq!(sbd.due_at(&c, start, false), local(&c, "2026-03-02T19:00"));
        assert_eq!(
            sbd.due_at(
                &BusinessCalendar::always_open(),
                ts("2026-03-02T07:00:00Z"),
                false
            ),
            ts("2026-03-03T00:00:00Z")
        );
        for s in ["15m", "1h30m", "same_business_day"] {
            assert_eq!(SlaTarget::parse(s).unwrap().to_string(), s);
        }
        for bad in ["0s", "tomorrow", "", "same business day"] {
            let e = SlaTarget::parse(bad).unwrap_err().to_string();
            assert!(e.contains("same_business_day"), "{e}");
        }

        #[derive(Debug, Deserialize, Serialize, PartialEq)]
        struct Policy {
            first_response: SlaTarget,
            resolution: SlaTarget,
        }
        let p: Policy =
            toml::from_str("first_response = \"15m\"\nresolution = \"same_business_day\"").unwrap();
        assert_eq!(
            p.first_response,
            SlaTarget::Within(ConfigDuration::from_secs(900))
        );
        assert_eq!(p.resolution, SlaTarget::SameBusinessDay);
        assert_eq!(
            toml::from_str::<Policy>(&toml::to_string(&p).unwrap()).unwrap(),
            p
        );
        assert!(
            toml::from_str::<Policy>("first_response = \"soon\"\nresolution = \"1h\"").is_err()
        );
    }

    const NEW_YORK: &str = r#"
        time_zone = "America/New_York"
        [hours]
        mon = ["09:00-17:00"]
        tue = ["09:00-17:00"]
        wed = ["09:00-17:00"]
        thu = ["09:00-17:00"]
        fri = ["09:00-17:00"]
        sun = ["01:00-04:00"]
    "#;

    #[test]
    fn dst_new_york_spring_forward() {
        let c = cal(NEW_YORK);
        // Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        let day = c.business_duration(
            ts("2026-03-08T00:00:00-05:00"),
            ts("2026-03-09T00:00:00-04:00"),
        );
        assert_eq!(day, hours(2), "01:00-04:00 holds two real hours");
        assert_eq!(
            c.add_business(ts("2026-03-08T01:30:00-05:00"), hours(1)),
            ts("2026-03-08T03:30:00-04:00")
        );
        assert_eq!(
            c.end_of_business_day(ts("2026-03-08T01:30:00-05:00")),
            ts("2026-03-08T04:00:00-04:00")
        );
        // Friday 16:00 EST plus 2 h: one on Friday, one from Sunday 01:00 EST.
        assert_eq!(
            c.add_business(ts("2026-03-06T16:00:00-05:00"), hours(2)),
            ts("2026-03-08T03:00:00-04:00")
        );
        // Weekday hours follow the wall clock after the change.
        assert_eq!(
            c.next_open(ts("2026-03-08T12:00:00-04:00")),
            ts("2026-03-09T09:00:00-04:00")
        );
    }

    #[test]
    fn dst_new_york_fall_back() {
        let c = cal(NEW_YORK);
        // Sunday 2026-11-01: 02:00 EDT falls back to 01:00 EST.
        let day = c.business_duration(
            ts("2026-11-01T00:00:00-04:00"),
            ts("2026-11-02T00:00:00-05:00"),
        );
        assert_eq!(day, hours(4), "01:00-04:00 holds four real hours");
        assert_eq!(
            c.add_business(ts("2026-11-01T01:00:00-04:00"), hours(3)),
            ts("2026-11-01T03:00:00-05:00")
        );
        assert!(
            c.is_open(ts("2026-11-01T01:30:00-05:00")),
            "the repeated hour is open"
        );
        assert_eq!(
            c.next_open(ts("2026-11-01T12:00:00-05:00")),
            ts("2026-11-02T09:00:00-05:00")
        );
    }

    #[test]
    fn dst_london() {
        let c = cal(r#"
            time_zone = "Europe/London"
            [hours]
            mon = ["09:00-17:00"]
            fri = ["09:00-17:00"]
            sun = ["00:00-03:00"]
        "#);
        // Spring forward Sunday 2026-03-29 01:00 GMT -> 02:00 BST.
        let spring = c.business_duration(ts("2026-03-29T00:00:00Z"), ts("2026-03-29T12:00:00Z"));
        assert_eq!(spring, hours(2));
        // Friday 16:00 GMT + 4 h: 1 h Friday, 2 h Sunday, 1 h Monday from 09:00 BST.
        assert_eq!(
            c.add_business(ts("2026-03-27T16:00:00Z"), hours(4)),
            ts("2026-03-30T10:00:00+01:00")
        );
        // Fall back Sunday 2026-10-25 02:00 BST -> 01:00 GMT.
        let fall = c.business_duration(ts("2026-10-24T22:00:00Z"), ts("2026-10-25T12:00:00Z"));
        assert_eq!(fall, hours(4));
        assert_eq!(
            c.add_business(ts("2026-10-23T16:00:00+01:00"), hours(6)),
            ts("2026-10-26T10:00:00Z")
        );
    }

    #[test]
    fn kolkata_has_no_dst() {
        let c = cal(KOLKATA);
        for (from, to) in [("2026-03-02", "2026-03-03"), ("2026-11-02", "2026-11-03")] {
            let d = c.business_duration(
                local(&c, &format!("{from}T00:00")),
                local(&c, &format!("{to}T00:00")),
            );
            assert_eq!(d, mins(510));
        }
    }

    #[test]
    fn a_skipped_day_is_not_counted_twice() {
        // Samoa moved across the date line: 2011-12-30 never happened in Apia.
        let c = cal(r#"
            time_zone = "Pacific/Apia"
            [hours]
            mon = ["09:00-17:00"]
            tue = ["09:00-17:00"]
            wed = ["09:00-17:00"]
            thu = ["09:00-17:00"]
            fri = ["09:00-17:00"]
            sat = ["09:00-17:00"]
            sun = ["09:00-17:00"]
        "#);
        let start = local(&c, "2011-12-29T16:00");
        let due = c.add_business(start, hours(2));
        assert_eq!(due, local(&c, "2011-12-31T10:00"));
        assert_eq!(c.business_duration(start, due), hours(2));
        let days =
            c.business_duration(local(&c, "2011-12-29T00:00"), local(&c, "2012-01-01T00:00"));
        assert_eq!(days, hours(16), "two real days of 8 h");
    }

    #[test]
    fn midnight_adjacent_periods_join() {
        let c = cal(r#"
            time_zone = "Asia/Kolkata"
            [hours]
            mon = ["18:00-24:00"]
            tue = ["00:00-02:00"]
        "#);
        assert!(c.is_open(local(&c, "2026-03-03T00:00")));
        assert_eq!(
            c.add_business(local(&c, "2026-03-02T23:30"), hours(1)),
            local(&c, "2026-03-03T00:30")
        );
        assert_eq!(
            c.end_of_business_day(local(&c, "2026-03-02T23:30")),
            local(&c, "2026-03-03T00:00")
        );
    }

    #[test]
    fn always_open_is_calendar_time() {
        let c = BusinessCalendar::always_open();
        let t = ts("2026-03-07T13:14:15.5Z");
        assert!(c.is_open(t));
        assert_eq!(c.next_open(t), t);
        assert_eq!(c.add_business(t, hours(50)), t + hours(50));
        assert_eq!(c.business_duration(t, t + hours(50)), hours(50));
        assert_eq!(c.end_of_business_day(t), ts("2026-03-08T00:00:00Z"));
    }

    #[test]
    fn validation_errors_name_field_day_and_value() {
        let e = build_err("time_zone = \"Asia/Calcuta\"\n[hours]\nmon = [\"09:00-17:00\"]");
        assert!(matches!(e, CalendarError::UnknownTimeZone { .. }));
        assert!(
            e.to_string().contains("time_zone") && e.to_string().contains("Asia/Calcuta"),
            "{e}"
        );

        for (bad, why) in [
            ("14:00-13:00", "before end"),
            ("09:00-09:00", "before end"),
            ("09:30", "missing '-'"),
            ("25:00-26:00", "start"),
            ("09:60-10:00", "start"),
            ("09:00-24:30", "end"),
            ("24:00-24:00", "before 24:00"),
            ("9h-17h", "start"),
        ] {
            let e = build_err(&format!("time_zone = \"UTC\"\n[hours]\ntue = [\"{bad}\"]"));
            let msg = e.to_string();
            assert!(
                matches!(e, CalendarError::InvalidInterval { day: "tue", .. }),
                "{msg}"
            );
            assert!(
                msg.contains("hours.tue") && msg.contains(bad) && msg.contains(why),
                "{msg}"
            );
        }

        let e = build_err("time_zone = \"UTC\"\n[hours]\nwed = [\"09:00-12:00\", \"11:00-13:00\"]");
        let msg = e.to_string();
        assert!(
            matches!(e, CalendarError::OverlappingIntervals { day: "wed", .. }),
            "{msg}"
        );
        assert!(
            msg.contains("09:00-12:00") && msg.contains("11:00-13:00"),
            "{msg}"
        );
        let e = build_err("time_zone = \"UTC\"\n[hours]\nwed = [\"14:00-19:00\", \"09:30-13:00\"]");
        assert!(
            matches!(e, CalendarError::OverlappingIntervals { .. }),
            "out of order"
        );

        assert_eq!(
            build_err("time_zone = \"UTC\"\n[hours]\nsun = []"),
            CalendarError::NeverOpen
        );
        assert_eq!(build_err("time_zone = \"UTC\""), CalendarError::NeverOpen);

        for bad in ["2026-02-30", "26-01-2026", "2026-1-26", "20260126"] {
            let e = build_err(&format!(
                "time_zone = \"UTC\"\nholidays = [\"{bad}\"]\n[hours]\nmon = [\"09:00-17:00\"]"
            ));
            assert_eq!(
                e,
                CalendarError::InvalidHoliday {
                    value: bad.to_owned()
                }
            );
            assert!(e.to_string().contains("holidays"));
        }

        // Unknown keys are refused while deserialising, e.g. a spelled-out day.
        assert!(
            toml::from_str::<CalendarSpec>(
                "time_zone = \"UTC\"\n[hours]\nmonday = [\"09:00-17:00\"]"
            )
            .is_err()
        );
        assert!(toml::from_str::<CalendarSpec>("time_zone = \"UTC\"\nholiday = []").is_err());
    }

    #[test]
    fn lenient_but_exact_interval_forms() {
        let c = cal(r#"
            time_zone = "UTC"
            holidays_ics = "holidays/india.ics"
            [hours]
            mon = ["9:30-13:00", "13:00 - 14:00", "14:00–24:00"]
        "#);
        let monday = ts("2026-03-02T00:00:00Z");
        assert_eq!(
            c.business_duration(monday, ts("2026-03-03T00:00:00Z")),
            mins(14 * 60 + 30)
        );
        assert!(
            c.is_open(ts("2026-03-02T13:00:00Z")),
            "touching periods are allowed"
        );
    }

    #[test]
    fn closed_runs_are_bounded() {
        let every_day = r#"
            time_zone = "UTC"
            [hours]
            mon = ["09:00-17:00"]
            tue = ["09:00-17:00"]
            wed = ["09:00-17:00"]
            thu = ["09:00-17:00"]
            fri = ["09:00-17:00"]
            sat = ["09:00-17:00"]
            sun = ["09:00-17:00"]
        "#;
        let days = |n: usize| {
            let mut d = date("2026-06-01");
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(d);
                d = d.tomorrow().unwrap();
            }
            out
        };
        let ok = cal(every_day).with_holidays(days(366)).unwrap();
        assert_eq!(
            ok.next_open(ts("2026-06-01T10:00:00Z")),
            ts("2027-06-02T09:00:00Z")
        );
        let e = cal(every_day).with_holidays(days(367)).unwrap_err();
        assert_eq!(
            e,
            CalendarError::ClosedTooLong {
                first: date("2026-06-01"),
                last: date("2027-06-02"),
                days: 367
            }
        );
        // Weekends count towards the run: Sat-Sun closed plus 365 holidays.
        let e = cal(KOLKATA).with_holidays(days(366)).unwrap_err();
        assert!(
            matches!(e, CalendarError::ClosedTooLong { days, .. } if days > 366),
            "{e}"
        );
    }

    #[test]
    fn searches_saturate_at_the_end_of_the_range() {
        let c = cal(KOLKATA);
        assert_eq!(c.next_open(Timestamp::MAX), Timestamp::MAX);
        assert_eq!(c.end_of_business_day(Timestamp::MAX), Timestamp::MAX);
        assert_eq!(
            c.add_business(Timestamp::MAX - hours(1), hours(2)),
            Timestamp::MAX
        );
        assert_eq!(c.next_opening_local(Timestamp::MAX), None);
        let early = Timestamp::MIN + hours(24 * 14);
        assert!(c.business_duration(Timestamp::MIN, early) > SignedDuration::ZERO);
    }

    const FIXTURE: &str = include_str!("../tests/data/holidays-in.ics");

    fn fixture_expected() -> Vec<Date> {
        let mut want: Vec<Date> = (2026..=2036)
            .map(|y| Date::new(y, 1, 26).unwrap())
            .collect();
        want.extend(["2026-04-15", "2026-11-08", "2026-11-09", "2026-11-10"].map(date));
        want.sort();
        want
    }

    #[test]
    fn ics_fixture_with_crlf_and_lf() {
        let lf = FIXTURE.replace("\r\n", "\n");
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(parse_ics_holidays(&crlf).unwrap(), fixture_expected());
        assert_eq!(parse_ics_holidays(&lf).unwrap(), fixture_expected());
    }

    #[test]
    fn ics_dates_feed_the_calendar() {
        let c = cal(KOLKATA)
            .with_holidays(parse_ics_holidays(FIXTURE).unwrap())
            .unwrap();
        // 2026-11-09 is a Monday inside the Diwali break; Friday 6th is open.
        assert!(!c.is_open(local(&c, "2026-11-09T10:00")));
        assert_eq!(
            c.add_business(local(&c, "2026-11-06T18:30"), hours(1)),
            local(&c, "2026-11-11T10:00")
        );
    }

    fn ics(events: &str) -> String {
        format!("BEGIN:VCALENDAR\nVERSION:2.0\n{events}\nEND:VCALENDAR\n")
    }

    fn ics_err(events: &str) -> (usize, String) {
        match parse_ics_holidays(&ics(events)).unwrap_err() {
            CalendarError::Ics { line, why } => (line, why),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ics_yearly_rules() {
        let through = |events: &str, y| parse_ics_holidays_through(&ics(events), y).unwrap();
        let ev = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20150815\nRRULE:FREQ=YEARLY\nEND:VEVENT";
        let default = parse_ics_holidays(&ics(ev)).unwrap();
        assert_eq!(default.len(), 11);
        assert_eq!(default.last(), Some(&date("2025-08-15")));
        let longer = through(ev, 2036);
        assert_eq!(longer.len(), 22);
        assert!(longer.contains(&date("2026-08-15")));

        let counted =
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;COUNT=3\nEND:VEVENT";
        assert_eq!(
            through(counted, 2040),
            ["2026-01-01", "2027-01-01", "2028-01-01"].map(date)
        );
        let until = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;UNTIL=20271231T235959Z;INTERVAL=1\nEND:VEVENT";
        assert_eq!(through(until, 2040), ["2026-01-01", "2027-01-01"].map(date));
        let every_other = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;INTERVAL=2;BYMONTH=1;BYMONTHDAY=1\nEND:VEVENT";
        assert_eq!(
            through(every_other, 2030),
            ["2026-01-01", "2028-01-01", "2030-01-01"].map(date)
        );
        let leap = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20240229\nRRULE:FREQ=YEARLY\nEND:VEVENT";
        assert_eq!(through(leap, 2030), ["2024-02-29", "2028-02-29"].map(date));
        let multi_day = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261224\nDTEND;VALUE=DATE:20261226\nRRULE:FREQ=YEARLY;COUNT=2\nEND:VEVENT";
        assert_eq!(
            through(multi_day, 2040),
            ["2026-12-24", "2026-12-25", "2027-12-24", "2027-12-25"].map(date)
        );
        let exdate = "BEGIN:VEVENT\nUID:x\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;COUNT=3\nEXDATE;VALUE=DATE:20270101\nRDATE;VALUE=DATE:20270102,20270103\nEND:VEVENT";
        assert_eq!(
            through(exdate, 2040),
            ["2026-01-01", "2027-01-02", "2027-01-03", "2028-01-01"].map(date)
        );
        let moved = "BEGIN:VEVENT\nUID:holi\nDTSTART;VALUE=DATE:20260304\nRRULE:FREQ=YEARLY;COUNT=2\nEND:VEVENT\n\
                     BEGIN:VEVENT\nUID:holi\nRECURRENCE-ID;VALUE=DATE:20270304\nDTSTART;VALUE=DATE:20270322\nEND:VEVENT";
        assert_eq!(through(moved, 2040), ["2026-03-04", "2027-03-22"].map(date));
    }

    #[test]
    fn ics_spans_and_durations() {
        let parse = |events: &str| parse_ics_holidays(&ics(events)).unwrap();
        assert_eq!(
            parse("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\nDURATION:P2D\nEND:VEVENT"),
            ["2026-01-26", "2026-01-27"].map(date)
        );
        assert_eq!(
            parse("BEGIN:VEVENT\nDTSTART:20260126T200000Z\nDURATION:PT6H\nEND:VEVENT"),
            ["2026-01-26", "2026-01-27"].map(date),
            "a timed event running past midnight covers both dates"
        );
        assert_eq!(
            parse("BEGIN:VEVENT\nDTSTART:20260126T000000\nDTEND:20260128T000000\nEND:VEVENT"),
            ["2026-01-26", "2026-01-27"].map(date),
            "a midnight end excludes its date"
        );
        assert_eq!(
            parse(
                "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\nDTEND;VALUE=DATE:20260126\nEND:VEVENT"
            ),
            [date("2026-01-26")]
        );
        assert_eq!(parse(""), Vec::<Date>::new());
    }

    #[test]
    fn ics_errors_name_the_line() {
        let (line, why) = ics_err("BEGIN:VEVENT\nDTSTART;VALUE=DATE:2026013\nEND:VEVENT");
        assert_eq!(line, 4);
        assert!(why.contains("DTSTART") && why.contains("2026013"), "{why}");
        let (line, why) = ics_err("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260230\nEND:VEVENT");
        assert_eq!(line, 4);
        assert!(why.contains("20260230"), "{why}");

        // Line numbers count physical lines, folded or not.
        let (line, why) = ics_err(
            "BEGIN:VEVENT\nSUMMARY:folded\n  summary\nDTSTART;VALUE=DATE:20260126\nRRULE:FREQ=WEEKLY\n ;BYDAY=MO\nEND:VEVENT",
        );
        assert_eq!(line, 7);
        assert!(
            why.contains("FREQ=WEEKLY;BYDAY=MO") && why.contains("not supported"),
            "{why}"
        );
        let (line, why) = ics_err(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261126\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH\nEND:VEVENT",
        );
        assert_eq!(line, 5);
        assert!(why.contains("BYDAY=4TH"), "{why}");
        let (line, _) = ics_err(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\nRRULE:FREQ=YEARLY;BYMONTHDAY=27\nEND:VEVENT",
        );
        assert_eq!(line, 5, "BYMONTHDAY that moves the date");
        let (line, why) = ics_err("BEGIN:VEVENT\nSUMMARY:no start\nEND:VEVENT");
        assert_eq!(line, 3);
        assert!(why.contains("DTSTART"), "{why}");
        let (line, why) = ics_err(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\nDTEND;VALUE=DATE:20260120\nEND:VEVENT",
        );
        assert_eq!(line, 5);
        assert!(why.contains("DTEND"), "{why}");
        let (line, _) =
            ics_err("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\nDURATION:-P1D\nEND:VEVENT");
        assert_eq!(line, 5);
        let (line, why) = ics_err(
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20280101\nEND:VEVENT",
        );
        assert_eq!(line, 3);
        assert!(why.contains("366"), "{why}");
        let (line, why) = ics_err("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126");
        assert_eq!(line, 5);
        assert!(
            why.contains("END:VCALENDAR does not close BEGIN:VEVENT from line 3"),
            "{why}"
        );
        let e = parse_ics_holidays("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\n")
            .unwrap_err();
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("never closed"),
            "{e}"
        );

        let e = parse_ics_holidays("<html>not a calendar</html>").unwrap_err();
        assert!(
            e.to_string().contains("line 1") && e.to_string().contains("BEGIN:VCALENDAR"),
            "{e}"
        );
        let e = parse_ics_holidays("BEGIN:VCALENDAR\nEND:VEVENT\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn ics_ignores_non_event_recurrences_and_nested_components() {
        let text = ics(
            "BEGIN:VTIMEZONE\nTZID:X\nBEGIN:DAYLIGHT\nDTSTART:19700308T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\nEND:DAYLIGHT\nEND:VTIMEZONE\n\
             BEGIN:VTODO\nDTSTART;VALUE=DATE:20260301\nEND:VTODO\n\
             BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260126\nBEGIN:VALARM\nTRIGGER:-PT1H\nEND:VALARM\nX-CUSTOM;FOO=\"a:b\":value\nEND:VEVENT",
        );
        assert_eq!(parse_ics_holidays(&text).unwrap(), [date("2026-01-26")]);
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        const ZONES: [&str; 5] = [
            "Asia/Kolkata",
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "UTC",
        ];

        /// 2026-01-01T00:00:00Z.
        const YEAR_START: i64 = 1_767_225_600;

        /// Approximate 2026 DST changes of the zones above, as UTC seconds.
        const TRANSITIONS: [i64; 6] = [
            1_772_953_200, // New York spring, 2026-03-08T07:00Z
            1_793_512_800, // New York fall, 2026-11-01T06:00Z
            1_774_746_000, // London spring, 2026-03-29T01:00Z
            1_792_890_000, // London fall, 2026-10-25T01:00Z
            1_775_314_800, // Lord Howe, 2026-04-04T15:00Z
            1_791_127_800, // Lord Howe, 2026-10-03T15:30Z
        ];

        fn hhmm(m: u16) -> String {
            format!("{:02}:{:02}", m / 60, m % 60)
        }

        /// A day's hours on a 15-minute grid (so boundaries often fall on DST
        /// changes and on 24:00): 0 to 3 sorted, disjoint, possibly touching
        /// intervals.
        fn arb_day() -> impl Strategy<Value = Vec<String>> {
            prop::collection::btree_set(0u16..=96, 0..=6).prop_map(|points| {
                let v: Vec<u16> = points.into_iter().map(|p| p * 15).collect();
                v.chunks_exact(2)
                    .map(|c| format!("{}-{}", hhmm(c[0]), hhmm(c[1])))
                    .collect()
            })
        }

        fn arb_calendar() -> impl Strategy<Value = BusinessCalendar> {
            let spec = (
                prop::sample::select(ZONES.to_vec()),
                prop::collection::vec(arb_day(), 7),
                prop::collection::vec((0i64..365, 1usize..=4), 0..=4),
            )
                .prop_map(|(zone, mut days, holiday_runs)| {
                    if days.iter().all(Vec::is_empty) {
                        days[0] = vec!["09:00-17:00".to_owned()];
                    }
                    let mut holidays = Vec::new();
                    for (start, len) in holiday_runs {
                        let first = Date::new(2026, 1, 1).unwrap() + (start).days();
                        let mut d = first;
                        for _ in 0..len {
                            holidays.push(d.to_string());
                            d = d.tomorrow().unwrap();
                        }
                    }
                    let mut it = days.into_iter();
                    let mut next = || it.next().unwrap_or_default();
                    CalendarSpec {
                        time_zone: zone.to_owned(),
                        hours: WeeklyHours {
                            mon: next(),
                            tue: next(),
                            wed: next(),
                            thu: next(),
                            fri: next(),
                            sat: next(),
                            sun: next(),
                        },
                        holidays,
                        holidays_ics: None,
                    }
                })
                .prop_map(|spec| BusinessCalendar::new(&spec).unwrap());
            prop_oneof![9 => spec, 1 => Just(BusinessCalendar::always_open())]
        }

        /// Instants in 2026, many near DST changes, some with nanoseconds.
        fn arb_instant() -> impl Strategy<Value = Timestamp> {
            let uniform = (0i64..365 * 86_400).prop_map(|s| YEAR_START + s);
            let near_dst = (
                prop::sample::select(TRANSITIONS.to_vec()),
                -4 * 86_400i64..4 * 86_400,
            )
                .prop_map(|(t, off)| t + off);
            (
                prop_oneof![uniform, near_dst],
                prop_oneof![3 => Just(0i32), 1 => 0i32..1_000_000_000],
            )
                .prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap())
        }

        /// Business durations up to 20 days, mostly a few hours.
        fn arb_budget() -> impl Strategy<Value = SignedDuration> {
            let secs = prop_oneof![0i64..=4 * 3600, 0i64..=20 * 86_400];
            (secs, prop_oneof![3 => Just(0i32), 1 => 0i32..1_000_000_000])
                .prop_map(|(s, ns)| SignedDuration::new(s, ns))
        }

        const NS: SignedDuration = SignedDuration::from_nanos(1);

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// A due time is open or exactly a close instant (open just
            /// before it), never strictly inside a closed period, and exactly
            /// `d` of open time lies between the start and it.
            #[test]
            fn due_is_never_inside_a_closed_period(c in arb_calendar(), s in arb_instant(), d in arb_budget()) {
                let due = c.add_business(s, d);
                if d.is_zero() {
                    prop_assert_eq!(due, s);
                } else {
                    prop_assert!(due > s);
                    prop_assert!(due > c.next_open(s));
                    prop_assert!(c.is_open(due) || c.is_open(due - NS), "due {due} is inside a closed period");
                }
                prop_assert_eq!(c.business_duration(s, due), d);
            }

            #[test]
            fn adding_business_time_is_associative(
                c in arb_calendar(), s in arb_instant(), a in arb_budget(), b in arb_budget()
            ) {
                prop_assert_eq!(c.add_business(c.add_business(s, a), b), c.add_business(s, a + b));
            }

            /// `next_open` is open, and nothing between `t` and it is (checked
            /// at minute steps, at most ~400 samples, and just before it).
            #[test]
            fn next_open_is_the_first_open_instant(c in arb_calendar(), t in arb_instant()) {
                let n = c.next_open(t);
                prop_assert!(n >= t);
                prop_assert!(c.is_open(n));
                prop_assert_eq!(c.is_open(t), n == t);
                if n > t {
                    prop_assert!(!c.is_open(n - NS));
                    let gap = n.duration_since(t).as_secs();
                    let step = ((gap / 400) / 60 + 1) * 60;
                    let mut probe = t;
                    while probe < n {
                        prop_assert!(!c.is_open(probe), "{probe} is open before next_open {n}");
                        probe += SignedDuration::from_secs(step);
                    }
                    prop_assert_eq!(c.business_duration(t, n), SignedDuration::ZERO);
                    prop_assert_eq!(c.next_opening_local(t).map(|z| z.timestamp()), Some(n));
                }
            }

            #[test]
            fn adding_business_time_is_monotonic(
                c in arb_calendar(), s1 in arb_instant(), s2 in arb_instant(), d in arb_budget()
            ) {
                let (s1, s2) = if s1 <= s2 { (s1, s2) } else { (s2, s1) };
                prop_assert!(c.add_business(s1, d) <= c.add_business(s2, d));
            }

            #[test]
            fn business_duration_is_additive_and_agrees_with_is_open(
                c in arb_calendar(), a in arb_instant(), b in arb_instant(), x in arb_instant()
            ) {
                let mid = a.max(b).min(x).max(a.min(b));
                prop_assert_eq!(
                    c.business_duration(a, mid) + c.business_duration(mid, b),
                    c.business_duration(a, b)
                );
                prop_assert_eq!(c.business_duration(a, b), -c.business_duration(b, a));
                prop_assert_eq!(c.is_open(x), c.business_duration(x, x + NS) == NS);
            }

            /// The same-business-day target is in the future and ends an
            /// open period.
            #[test]
            fn end_of_business_day_closes_an_open_period(c in arb_calendar(), t in arb_instant()) {
                let e = c.end_of_business_day(t);
                prop_assert!(e > t);
                prop_assert!(c.is_open(e - NS));
                let local_day = |x: Timestamp| c.time_zone().to_datetime(x).date();
                prop_assert!(local_day(e - NS) >= local_day(t));
            }
        }
    }
}
