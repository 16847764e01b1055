//! SLA policies: targets per triage category, overrides, deadlines and the
//! per-conversation SLA status.
//!
//! Three clocks run per conversation (the field's practice, e.g. Zendesk and
//! Chatwoot SLA policies): **first response** (from the customer's first
//! waiting message to the first human reply), **next response** (from a
//! customer message that waits after we replied, to our next reply) and
//! **resolution** (from open to resolved). Each has a target per category
//! with the seeds' defaults for first response (15 min / 30 min / 2 h / same
//! day), may count calendar or business time (see [`crate::calendar`]), and
//! warns at a percentage of the target (80 % by default).
//!
//! Conversation SLA status follows the usual four states: `active` (running,
//! nothing missed), `active_with_misses`, `hit` (closed with every target
//! met) and `missed` (closed with at least one miss).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calendar::{BusinessCalendar, SlaTarget};
use crate::duration::ConfigDuration;
use crate::model::{Category, Priority};

fn within(secs: u64) -> SlaTarget {
    SlaTarget::Within(ConfigDuration::from_secs(secs))
}

/// One target per triage category (`[sla.first_response]`,
/// `[sla.next_response]`, `[sla.resolution]`). Each value is a duration
/// (`"15m"`, down to `"1s"`) or `"same_business_day"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryTargets {
    /// Target for [`Category::HighIntentReturn`].
    pub high_intent_return: SlaTarget,
    /// Target for [`Category::FreshHighIntent`].
    pub fresh_high_intent: SlaTarget,
    /// Target for [`Category::InformationRequest`].
    pub information_request: SlaTarget,
    /// Target for [`Category::PassiveEngagement`].
    pub passive_engagement: SlaTarget,
}

impl CategoryTargets {
    /// The seeds' first-response table: 15 min, 30 min, 2 h, and "same day"
    /// as 24 h of calendar time (set `"same_business_day"` with a calendar to
    /// mean the close of business).
    pub fn first_response_defaults() -> Self {
        Self {
            high_intent_return: within(15 * 60),
            fresh_high_intent: within(30 * 60),
            information_request: within(2 * 3600),
            passive_engagement: within(24 * 3600),
        }
    }

    /// Resolution defaults: a day for high intent, two days for information
    /// requests, three for passive engagement.
    pub fn resolution_defaults() -> Self {
        Self {
            high_intent_return: within(24 * 3600),
            fresh_high_intent: within(24 * 3600),
            information_request: within(2 * 24 * 3600),
            passive_engagement: within(3 * 24 * 3600),
        }
    }

    /// The target of one category.
    pub fn get(&self, category: Category) -> SlaTarget {
        match category {
            Category::HighIntentReturn => self.high_intent_return,
            Category::FreshHighIntent => self.fresh_high_intent,
            Category::InformationRequest => self.information_request,
            Category::PassiveEngagement => self.passive_engagement,
        }
    }

    /// Calendar-time due date for `category` from `start` (no business
    /// calendar): kept for callers that have none.
    pub fn due_at(&self, category: Category, start: Timestamp) -> Timestamp {
        self.get(category)
            .due_at(&BusinessCalendar::always_open(), start, false)
    }
}

impl Default for CategoryTargets {
    fn default() -> Self {
        Self::first_response_defaults()
    }
}

/// One of the three SLA clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    /// First human reply.
    FirstResponse,
    /// Next reply after a customer message that waits.
    NextResponse,
    /// Resolution of the conversation.
    Resolution,
}

impl SlaClock {
    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaClock::FirstResponse => "first_response",
            SlaClock::NextResponse => "next_response",
            SlaClock::Resolution => "resolution",
        }
    }
}

/// An override of the category defaults for conversations that match all
/// of its given selectors (`[[sla.policies]]`). The most specific matching
/// override wins (most selectors; ties: first in the file); unset fields fall
/// back to the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyOverride {
    /// Name shown in the API and in SLA events.
    pub name: String,
    /// Match only this category.
    #[serde(default)]
    pub category: Option<Category>,
    /// Match only this priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Match only this inbox (Meta phone_number_id).
    #[serde(default)]
    pub inbox: Option<String>,
    /// First-response target.
    #[serde(default)]
    pub first_response: Option<SlaTarget>,
    /// Next-response target.
    #[serde(default)]
    pub next_response: Option<SlaTarget>,
    /// Resolution target.
    #[serde(default)]
    pub resolution: Option<SlaTarget>,
    /// Count business time instead of calendar time.
    #[serde(default)]
    pub business_hours: Option<bool>,
    /// Calendar name (`[calendars.NAME]`).
    #[serde(default)]
    pub calendar: Option<String>,
    /// Warn at this percentage of each target.
    #[serde(default)]
    pub warn_at_percent: Option<u8>,
}

impl SlaPolicyOverride {
    fn specificity(&self) -> u8 {
        u8::from(self.category.is_some())
            + u8::from(self.priority.is_some())
            + u8::from(self.inbox.is_some())
    }

    fn matches(&self, category: Category, priority: Priority, inbox: &str) -> bool {
        self.category.is_none_or(|c| c == category)
            && self.priority.is_none_or(|p| p == priority)
            && self.inbox.as_deref().is_none_or(|i| i == inbox)
    }
}

/// A `[sla.*]` table as written: any category may be left out and keeps
/// that table's default.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialTargets {
    high_intent_return: Option<SlaTarget>,
    fresh_high_intent: Option<SlaTarget>,
    information_request: Option<SlaTarget>,
    passive_engagement: Option<SlaTarget>,
}

impl PartialTargets {
    fn over(self, d: CategoryTargets) -> CategoryTargets {
        CategoryTargets {
            high_intent_return: self.high_intent_return.unwrap_or(d.high_intent_return),
            fresh_high_intent: self.fresh_high_intent.unwrap_or(d.fresh_high_intent),
            information_request: self.information_request.unwrap_or(d.information_request),
            passive_engagement: self.passive_engagement.unwrap_or(d.passive_engagement),
        }
    }
}

/// `[sla]` as written, before defaults are filled in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSlaSettings {
    first_response: PartialTargets,
    next_response: PartialTargets,
    resolution: PartialTargets,
    business_hours: Option<bool>,
    calendar: Option<String>,
    warn_at_percent: Option<u8>,
    policies: Vec<SlaPolicyOverride>,
}

impl From<RawSlaSettings> for SlaSettings {
    fn from(raw: RawSlaSettings) -> Self {
        let d = SlaSettings::default();
        let first = raw.first_response.over(d.first_response);
        Self {
            first_response: first,
            // Next-response targets default to the first-response ones as
            // configured, not as built in.
            next_response: raw.next_response.over(first),
            resolution: raw.resolution.over(d.resolution),
            business_hours: raw.business_hours.unwrap_or(d.business_hours),
            calendar: raw.calendar,
            warn_at_percent: raw.warn_at_percent.unwrap_or(d.warn_at_percent),
            policies: raw.policies,
        }
    }
}

/// `[sla]`: the SLA configuration. Every table and key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawSlaSettings")]
pub struct SlaSettings {
    /// First-response targets per category.
    pub first_response: CategoryTargets,
    /// Next-response targets per category (default: as first response).
    pub next_response: CategoryTargets,
    /// Resolution targets per category.
    pub resolution: CategoryTargets,
    /// Count business time by default (needs `calendar`); default false.
    pub business_hours: bool,
    /// Default calendar name (`[calendars.NAME]`); none means always open.
    pub calendar: Option<String>,
    /// Warn at this percentage of a target (1–99); default 80.
    pub warn_at_percent: u8,
    /// Overrides.
    pub policies: Vec<SlaPolicyOverride>,
}

impl Default for SlaSettings {
    fn default() -> Self {
        Self {
            first_response: CategoryTargets::first_response_defaults(),
            next_response: CategoryTargets::first_response_defaults(),
            resolution: CategoryTargets::resolution_defaults(),
            business_hours: false,
            calendar: None,
            warn_at_percent: 80,
            policies: Vec::new(),
        }
    }
}

/// The policy that applies to one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectivePolicy {
    /// `default` or the override's name.
    pub name: String,
    /// First-response target.
    pub first_response: SlaTarget,
    /// Next-response target.
    pub next_response: SlaTarget,
    /// Resolution target.
    pub resolution: SlaTarget,
    /// Business time or calendar time.
    pub business_hours: bool,
    /// Calendar name, if any.
    pub calendar: Option<String>,
    /// Warning threshold in percent.
    pub warn_at_percent: u8,
}

/// When a clock warns and when it is due (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// Warning time (`warn_at_percent` of the way to `due_at`).
    pub warn_at: Timestamp,
    /// Due time.
    pub due_at: Timestamp,
}

/// Why SLA settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sla: {0}")]
pub struct SlaSettingsError(String);

impl SlaSettings {
    /// Checks thresholds and calendar references (`known_calendar` says
    /// whether a calendar name exists).
    ///
    /// # Errors
    /// [`SlaSettingsError`] naming the policy and field.
    pub fn validate(&self, known_calendar: impl Fn(&str) -> bool) -> Result<(), SlaSettingsError> {
        let pct = |p: u8, at: &str| {
            if (1..=99).contains(&p) {
                Ok(())
            } else {
                Err(SlaSettingsError(format!(
                    "{at}warn_at_percent must be 1-99, got {p}"
                )))
            }
        };
        pct(self.warn_at_percent, "")?;
        if self.business_hours && self.calendar.is_none() {
            return Err(SlaSettingsError(
                "business_hours = true needs a calendar".into(),
            ));
        }
        let cal = |c: &Option<String>, at: &str| match c {
            Some(name) if !known_calendar(name) => Err(SlaSettingsError(format!(
                "{at}calendar {name:?} is not defined under [calendars]"
            ))),
            _ => Ok(()),
        };
        cal(&self.calendar, "")?;
        for p in &self.policies {
            let at = format!("policy {:?}: ", p.name);
            if let Some(w) = p.warn_at_percent {
                pct(w, &at)?;
            }
            cal(&p.calendar, &at)?;
            if p.business_hours == Some(true) && p.calendar.is_none() && self.calendar.is_none() {
                return Err(SlaSettingsError(format!(
                    "{at}business_hours = true needs a calendar"
                )));
            }
        }
        Ok(())
    }

    /// The policy for a conversation: defaults for its category, overlaid by
    /// the most specific matching override.
    pub fn policy_for(
        &self,
        category: Category,
        priority: Priority,
        inbox: &str,
    ) -> EffectivePolicy {
        let mut best: Option<&SlaPolicyOverride> = None;
        for p in self
            .policies
            .iter()
            .filter(|p| p.matches(category, priority, inbox))
        {
            if best.is_none_or(|b| p.specificity() > b.specificity()) {
                best = Some(p);
            }
        }
        EffectivePolicy {
            name: best.map_or_else(|| "default".to_owned(), |b| b.name.clone()),
            first_response: best
                .and_then(|b| b.first_response)
                .unwrap_or(self.first_response.get(category)),
            next_response: best
                .and_then(|b| b.next_response)
                .unwrap_or(self.next_response.get(category)),
            resolution: best
                .and_then(|b| b.resolution)
                .unwrap_or(self.resolution.get(category)),
            business_hours: best
                .and_then(|b| b.business_hours)
                .unwrap_or(self.business_hours),
            calendar: best
                .and_then(|b| b.calendar.clone())
                .or_else(|| self.calendar.clone()),
            warn_at_percent: best
                .and_then(|b| b.warn_at_percent)
                .unwrap_or(self.warn_at_percent),
        }
    }
}

impl EffectivePolicy {
    /// The target of one clock.
    pub fn target(&self, clock: SlaClock) -> SlaTarget {
        match clock {
            SlaClock::FirstResponse => self.first_response,
            SlaClock::NextResponse => self.next_response,
            SlaClock::Resolution => self.resolution,
        }
    }

    /// Warning and due time of `clock` started at `start`, counted on `cal`
    /// when the policy uses business hours. The warning lies
    /// `warn_at_percent` of the way to the due time, in the same kind of
    /// time.
    pub fn deadline(&self, clock: SlaClock, cal: &BusinessCalendar, start: Timestamp) -> Deadline {
        let due_at = self.target(clock).due_at(cal, start, self.business_hours);
        let pct = i32::from(self.warn_at_percent.clamp(1, 99));
        let warn_at = if self.business_hours {
            let span = cal.business_duration(start, due_at);
            cal.add_business(start, span * pct / 100)
        } else {
            let span = due_at.duration_since(start);
            start.checked_add(span * pct / 100).unwrap_or(due_at)
        };
        Deadline {
            warn_at: warn_at.min(due_at),
            due_at,
        }
    }
}

/// The conversation-level SLA status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaStatus {
    /// Clocks running, nothing missed.
    Active,
    /// Closed with every target met.
    Hit,
    /// Closed with at least one miss.
    Missed,
    /// Still running, at least one target missed.
    ActiveWithMisses,
}

impl SlaStatus {
    /// The snake_case word.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaStatus::Active => "active",
            SlaStatus::Hit => "hit",
            SlaStatus::Missed => "missed",
            SlaStatus::ActiveWithMisses => "active_with_misses",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => SlaStatus::Active,
            "hit" => SlaStatus::Hit,
            "missed" => SlaStatus::Missed,
            "active_with_misses" => SlaStatus::ActiveWithMisses,
            _ => return None,
        })
    }

    /// After a target is missed.
    pub const fn on_miss(self) -> Self {
        match self {
            SlaStatus::Active | SlaStatus::ActiveWithMisses => SlaStatus::ActiveWithMisses,
            SlaStatus::Hit | SlaStatus::Missed => SlaStatus::Missed,
        }
    }

    /// When the conversation is resolved.
    pub const fn on_resolve(self) -> Self {
        match self {
            SlaStatus::Active | SlaStatus::Hit => SlaStatus::Hit,
            SlaStatus::ActiveWithMisses | SlaStatus::Missed => SlaStatus::Missed,
        }
    }

    /// When a resolved conversation reopens: clocks run again.
    pub const fn on_reopen(self) -> Self {
        match self {
            SlaStatus::Hit | SlaStatus::Active => SlaStatus::Active,
            SlaStatus::Missed | SlaStatus::ActiveWithMisses => SlaStatus::ActiveWithMisses,
        }
    }
}

/// The first-response view of one conversation, as the API returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstResponseSla {
    /// When the first human reply is due (UTC); `None` when nothing waits.
    pub first_response_due_at: Option<Timestamp>,
    /// When the first reply was given, if it was.
    pub first_responded_at: Option<Timestamp>,
    /// True when the due time passed without a reply, or the reply came late.
    pub breached: bool,
}

impl FirstResponseSla {
    /// Evaluates the clock at `now`.
    pub fn evaluate(
        due_at: Option<Timestamp>,
        responded_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Self {
        Self {
            first_response_due_at: due_at,
            first_responded_at: responded_at,
            breached: is_breached(due_at, responded_at, now),
        }
    }
}

/// True when a clock due at `due_at` was not met by `done_at` (or by `now`
/// while still running).
pub fn is_breached(due_at: Option<Timestamp>, done_at: Option<Timestamp>, now: Timestamp) -> bool {
    match (due_at, done_at) {
        (Some(due), Some(done)) => done > due,
        (Some(due), None) => now > due,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarSpec, WeeklyHours};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn seeds_defaults() {
        let t = SlaSettings::default();
        let at = ts("2026-03-01T10:00:00Z");
        assert_eq!(
            t.first_response.due_at(Category::HighIntentReturn, at),
            ts("2026-03-01T10:15:00Z")
        );
        assert_eq!(
            t.first_response.due_at(Category::FreshHighIntent, at),
            ts("2026-03-01T10:30:00Z")
        );
        assert_eq!(
            t.first_response.due_at(Category::InformationRequest, at),
            ts("2026-03-01T12:00:00Z")
        );
        assert_eq!(
            t.first_response.due_at(Category::PassiveEngagement, at),
            ts("2026-03-02T10:00:00Z")
        );
    }

    #[test]
    fn breach_evaluation() {
        let due = ts("2026-03-01T10:30:00Z");
        assert!(!FirstResponseSla::evaluate(Some(due), None, ts("2026-03-01T10:29:59Z")).breached);
        assert!(FirstResponseSla::evaluate(Some(due), None, ts("2026-03-01T10:30:01Z")).breached);
        assert!(
            !FirstResponseSla::evaluate(
                Some(due),
                Some(ts("2026-03-01T10:29:00Z")),
                ts("2026-03-01T11:00:00Z")
            )
            .breached
        );
    }

    #[test]
    fn targets_parse_from_toml_down_to_one_second() {
        let t: SlaSettings = toml::from_str("[first_response]\nhigh_intent_return = \"1s\"\nfresh_high_intent = \"30m\"\ninformation_request = \"2h\"\npassive_engagement = \"same_business_day\"\n").unwrap();
        assert_eq!(t.first_response.high_intent_return, within(1));
        assert_eq!(
            t.first_response.passive_engagement,
            SlaTarget::SameBusinessDay
        );
    }

    #[test]
    fn most_specific_override_wins() {
        let s: SlaSettings = toml::from_str(
            r#"
            [[policies]]
            name = "urgent"
            priority = "urgent"
            first_response = "5m"
            [[policies]]
            name = "urgent-vip-inbox"
            priority = "urgent"
            inbox = "123"
            first_response = "1m"
            warn_at_percent = 50
            "#,
        )
        .unwrap();
        s.validate(|_| true).unwrap();
        let p = s.policy_for(Category::InformationRequest, Priority::Urgent, "123");
        assert_eq!(
            (p.name.as_str(), p.first_response, p.warn_at_percent),
            ("urgent-vip-inbox", within(60), 50)
        );
        let p = s.policy_for(Category::InformationRequest, Priority::Urgent, "999");
        assert_eq!((p.name.as_str(), p.first_response), ("urgent", within(300)));
        assert_eq!(
            p.resolution,
            within(2 * 24 * 3600),
            "unset fields fall back to the category defaults"
        );
        let p = s.policy_for(Category::InformationRequest, Priority::Medium, "123");
        assert_eq!(p.name, "default");
    }

    #[test]
    fn warning_at_eighty_percent_in_calendar_and_business_time() {
        let s = SlaSettings::default();
        let p = s.policy_for(Category::InformationRequest, Priority::Medium, "1");
        let d = p.deadline(
            SlaClock::FirstResponse,
            &BusinessCalendar::always_open(),
            ts("2026-03-02T10:00:00Z"),
        );
        assert_eq!(d.warn_at, ts("2026-03-02T11:36:00Z"));
        assert_eq!(d.due_at, ts("2026-03-02T12:00:00Z"));

        let spec = CalendarSpec {
            time_zone: "UTC".into(),
            hours: WeeklyHours {
                mon: vec!["09:00-17:00".into()],
                ..WeeklyHours::default()
            },
            holidays: vec![],
            holidays_ics: None,
        };
        let cal = BusinessCalendar::new(&spec).unwrap();
        let mut p = p;
        p.business_hours = true;
        // 16:00 Monday + 2h business time = 16:00 next Monday + 1h = 10:00.
        let d = p.deadline(SlaClock::FirstResponse, &cal, ts("2026-03-02T16:00:00Z"));
        assert_eq!(d.due_at, ts("2026-03-09T10:00:00Z"));
        assert_eq!(d.warn_at, ts("2026-03-09T09:36:00Z"));
    }

    #[test]
    fn status_machine() {
        assert_eq!(SlaStatus::Active.on_miss(), SlaStatus::ActiveWithMisses);
        assert_eq!(
            SlaStatus::ActiveWithMisses.on_miss(),
            SlaStatus::ActiveWithMisses
        );
        assert_eq!(SlaStatus::Active.on_resolve(), SlaStatus::Hit);
        assert_eq!(SlaStatus::ActiveWithMisses.on_resolve(), SlaStatus::Missed);
        assert_eq!(SlaStatus::Missed.on_reopen(), SlaStatus::ActiveWithMisses);
    }

    #[test]
    fn validation_names_the_problem() {
        let s = SlaSettings {
            warn_at_percent: 100,
            ..SlaSettings::default()
        };
        assert!(
            s.validate(|_| true)
                .unwrap_err()
                .to_string()
                .contains("1-99")
        );
        let s = SlaSettings {
            calendar: Some("nope".into()),
            ..SlaSettings::default()
        };
        assert!(
            s.validate(|_| false)
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    }
}
