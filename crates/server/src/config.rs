//! Configuration: built-in defaults, then an optional TOML file, then
//! environment variables (highest precedence).
//!
//! Every key is documented in `switchboard.example.toml` at the repository
//! root. Secrets are [`Secret`]s: their `Debug` and serialised forms are
//! redacted so they never reach a log or `serve --print-config`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};
use switchboard_core::calendar::CalendarSpec;
use switchboard_core::duration::ConfigDuration;
use switchboard_core::model::{EscalationReason, Role};
use switchboard_core::sla::SlaSettings;

/// A secret string (app secret, tokens). Never printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (message has line/column).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// An environment variable has an invalid value.
    #[error("invalid environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The effective configuration of `switchboard serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listen address, `host:port` (env `SWITCHBOARD_LISTEN`); default
    /// `127.0.0.1:8080`.
    pub listen: String,
    /// Database URL (env `SWITCHBOARD_DATABASE_URL`): `sqlite://PATH`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (also `postgresql://`) for
    /// PostgreSQL; default `sqlite://switchboard.db` in the working directory.
    pub database_url: String,
    /// Meta app secret, the HMAC key of `X-Hub-Signature-256` (env
    /// `SWITCHBOARD_APP_SECRET`). Without it every webhook POST is refused.
    pub app_secret: Option<Secret>,
    /// The verify token typed into Meta's dashboard for the `GET` handshake
    /// (env `SWITCHBOARD_VERIFY_TOKEN`).
    pub verify_token: Option<Secret>,
    /// Graph API access token for sends (env `SWITCHBOARD_ACCESS_TOKEN`).
    pub access_token: Option<Secret>,
    /// Graph API base URL (env `SWITCHBOARD_GRAPH_API_BASE`); default
    /// `https://graph.facebook.com/v23.0`.
    pub graph_api_base: String,
    /// Bootstrap admin bearer token (env `SWITCHBOARD_ADMIN_TOKEN`).
    pub admin_token: Option<Secret>,
    /// SLA policies: targets per category, overrides, business hours.
    pub sla: SlaSettings,
    /// Business calendars by name (`[calendars.NAME]`).
    pub calendars: BTreeMap<String, CalendarSpec>,
    /// The escalation ladder.
    pub escalation: EscalationConfig,
    /// Triage rules.
    pub triage: TriageConfig,
    /// Routing.
    pub routing: RoutingConfig,
    /// Webhook intake tuning.
    pub ingest: IngestConfig,
    /// The agent's side: dispositions, handoffs, automatic first response,
    /// consent keywords, sending.
    pub workflow: WorkflowConfig,
    /// KPIs and reports.
    pub reports: ReportsConfig,
}

/// `[reports]`: how KPIs are computed (definitions in `KPIS.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// IANA time zone of report days and weeks (`Asia/Kolkata`); default:
    /// the time zone of the business-hours calendar, else UTC.
    pub timezone: Option<String>,
    /// Calendar (under `[calendars]`) of the business-hours KPI variants;
    /// default: `[sla] calendar`. Without one, business-hours KPIs are absent.
    pub calendar: Option<String>,
    /// Dispositions that mark a lead qualified (the qualification pass rate).
    pub qualified_dispositions: Vec<String>,
    /// Dispositions that mark an opportunity (counted as qualified too).
    pub opportunity_dispositions: Vec<String>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            timezone: None,
            calendar: None,
            qualified_dispositions: vec!["follow_up".into(), "proposal_sent".into(), "won".into()],
            opportunity_dispositions: vec!["won".into(), "proposal_sent".into()],
        }
    }
}

/// `[workflow]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowConfig {
    /// Dispositions a conversation may be resolved with.
    pub dispositions: Vec<String>,
    /// Dispositions that need no next action.
    pub terminal_dispositions: Vec<String>,
    /// An unacknowledged handoff escalates after this long; default `"10m"`;
    /// `"0s"` never escalates (acknowledgement is still required to reply).
    pub handoff_ack_after: ConfigDuration,
    /// A reopened next action that nobody answers escalates after this
    /// long; default `"1h"`.
    pub next_action_grace: ConfigDuration,
    /// Messages that opt a contact out of marketing (whole message, any
    /// case): default STOP, unsubscribe, band karo, …
    pub opt_out_keywords: Vec<String>,
    /// The automatic first response.
    pub auto_ack: AutoAckConfig,
    /// The WhatsApp Business Account id, for template sync.
    pub waba_id: Option<String>,
    /// Sends per second per business number (Meta's default throughput is
    /// 80 messages/s).
    pub per_number_per_second: u32,
    /// Minimum gap between two messages to the same customer (Meta's pair
    /// rate limit, error 131056, is about one message per 6 s in bursts).
    pub per_recipient_gap: ConfigDuration,
    /// Give up (dead letter) after this many delivery attempts.
    pub max_attempts: u32,
    /// The follow-up policy for evaluating prospects.
    pub follow_up: FollowUpConfig,
}

/// `[workflow.follow_up]`: the seeds' response-time thresholds for
/// prospects in evaluation (high-intent categories) who went silent after
/// our reply: a reminder after 24 h ("a follow-up that arrives after 24
/// hours of silence is frequently perceived as disinterest"), a
/// re-engagement template offered on days 4–7, dormant after 14 days. It
/// stops when the customer writes, respects opt-out, and reminders falling
/// off shift move to the next opening.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowUpConfig {
    /// Off when false.
    pub enabled: bool,
    /// Reminder after this much silence; default `"24h"`.
    pub reminder_after: ConfigDuration,
    /// Re-engagement offer after this much silence; default `"4d"`.
    pub reengage_after: ConfigDuration,
    /// Dormant after this much silence; default `"14d"`.
    pub dormant_after: ConfigDuration,
}

impl Default for FollowUpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reminder_after: ConfigDuration::from_secs(24 * 3600),
            reengage_after: ConfigDuration::from_secs(4 * 86_400),
            dormant_after: ConfigDuration::from_secs(14 * 86_400),
        }
    }
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect();
        Self {
            dispositions: words(&[
                "won",
                "follow_up",
                "proposal_sent",
                "escalated_to_owner",
                "not_interested",
                "resolved",
                "spam",
            ]),
            terminal_dispositions: words(&["won", "not_interested", "resolved", "spam"]),
            handoff_ack_after: ConfigDuration::from_secs(10 * 60),
            next_action_grace: ConfigDuration::from_secs(3600),
            opt_out_keywords: words(&[
                "stop",
                "unsubscribe",
                "band karo",
                "message mat bhejo",
                "बंद करो",
                "opt out",
            ]),
            auto_ack: AutoAckConfig::default(),
            waba_id: None,
            per_number_per_second: 80,
            per_recipient_gap: ConfigDuration::from_secs(1),
            max_attempts: 10,
            follow_up: FollowUpConfig::default(),
        }
    }
}

/// `[workflow.auto_ack]`: one acknowledgement within 60 s of a
/// conversation's first message (seeds: "every message receives an
/// automatic first response within 60 seconds"), worded by category and by
/// whether the team is on shift. It counts as automation, never as the
/// human first response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoAckConfig {
    /// Off for every inbox when false.
    pub enabled: bool,
    /// Wait this long for the customer to finish typing (at most 60 s).
    pub quiet: ConfigDuration,
    /// Inboxes (phone_number_id) where it is off.
    pub disabled_inboxes: Vec<String>,
    /// Text on shift; `{target}` becomes the category's first-response target.
    pub on_shift: String,
    /// Text for passive engagement (greetings, thanks).
    pub passive: String,
    /// Text off shift; `{opening}` becomes the next opening time.
    pub off_shift: String,
}

impl Default for AutoAckConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            quiet: ConfigDuration::from_secs(10),
            disabled_inboxes: Vec::new(),
            on_shift: "Thanks for your message! Our team will reply within {target}.".into(),
            passive: "Thanks! We're here if you need anything.".into(),
            off_shift: "Thanks for your message! We're closed right now and open at {opening}; we'll reply then.".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://switchboard.db".into(),
            app_secret: None,
            verify_token: None,
            access_token: None,
            graph_api_base: "https://graph.facebook.com/v23.0".into(),
            admin_token: None,
            sla: SlaSettings::default(),
            calendars: BTreeMap::new(),
            escalation: EscalationConfig::default(),
            triage: TriageConfig::default(),
            routing: RoutingConfig::default(),
            ingest: IngestConfig::default(),
            workflow: WorkflowConfig::default(),
            reports: ReportsConfig::default(),
        }
    }
}

/// Which tier an escalation goes to (tiers: L1 automation, L2 agent, L3
/// senior or specialist, L4 supervisor or owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// L3: the senior roles, falling back to L4.
    Senior,
    /// L4: the team's supervisor roles.
    Supervisor,
}

/// `[escalation]`: the ladder (seeds: "any conversation not responded to
/// within the triage window should surface automatically to a supervisor").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// After a first-response breach with still no reply, escalate to the
    /// team's supervisor this much later; default `"15m"`, down to `"1s"`.
    pub supervisor_after: ConfigDuration,
    /// Where triage escalations go, per reason; reasons not listed go to
    /// the senior tier. Default: legal and security issues to the supervisor.
    pub route: BTreeMap<EscalationReason, Tier>,
    /// Roles that form the senior tier (L3); default `["senior"]`.
    pub senior_roles: Vec<Role>,
    /// Roles that form the supervisor tier (L4); default `["supervisor", "admin"]`.
    pub supervisor_roles: Vec<Role>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            supervisor_after: ConfigDuration::from_secs(15 * 60),
            route: [
                (EscalationReason::LegalRegulatory, Tier::Supervisor),
                (EscalationReason::SecurityFraud, Tier::Supervisor),
            ]
            .into_iter()
            .collect(),
            senior_roles: vec![Role::Senior],
            supervisor_roles: vec![Role::Supervisor, Role::Admin],
        }
    }
}

/// `[triage]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// A rules file replacing the built-in rules; relative paths are
    /// resolved against the working directory.
    pub rules_file: Option<PathBuf>,
    /// An intent model from `switchboard train` replacing the built-in one.
    pub model_file: Option<PathBuf>,
}

/// `[routing]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Intent → skill an agent must have (when any online agent has it).
    pub intent_skills: BTreeMap<String, String>,
    /// How long a returning contact waits for their previous agent (who is
    /// away or full) before going to the pool; `"0s"` disables waiting.
    /// Default `"5m"`.
    pub continuity_grace: ConfigDuration,
    /// Calendar of the team's shifts (`[calendars.NAME]`): when no eligible
    /// agent is on shift, conversations get a callback at the next opening.
    /// Default: none (always on shift).
    pub calendar: Option<String>,
    /// Per inbox (Meta phone_number_id): its team and shift calendar.
    pub inboxes: BTreeMap<String, InboxSettings>,
    /// Per team (by name, as created through the API): shift calendar and
    /// escalation tiers.
    pub teams: BTreeMap<String, TeamSettings>,
}

/// `[routing.inboxes."PHONE_NUMBER_ID"]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboxSettings {
    /// The team that owns this number's conversations.
    pub team: Option<String>,
    /// Shift calendar of this number (overrides the team's).
    pub calendar: Option<String>,
}

/// `[routing.teams."NAME"]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamSettings {
    /// Shift calendar of the team (overrides `[routing] calendar`).
    pub calendar: Option<String>,
    /// Roles of the team's senior tier (L3); default `[escalation] senior_roles`.
    pub senior_roles: Option<Vec<Role>>,
    /// Roles of the team's supervisor tier (L4); default `[escalation] supervisor_roles`.
    pub supervisor_roles: Option<Vec<Role>>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        let pairs = [
            ("purchase", "sales"),
            ("booking", "sales"),
            ("pricing", "sales"),
            ("price_negotiation", "sales"),
            ("availability", "sales"),
            ("refund", "billing"),
            ("payment", "billing"),
            ("order_status", "support"),
            ("complaint", "support"),
            ("cancellation", "support"),
            ("security_fraud", "support"),
        ];
        Self {
            intent_skills: pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
            continuity_grace: ConfigDuration::from_secs(5 * 60),
            calendar: None,
            inboxes: BTreeMap::new(),
            teams: BTreeMap::new(),
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Most deliveries committed in one transaction (group commit); default 256.
    pub max_batch: usize,
    /// Largest accepted webhook body in bytes; default 3 MB (Meta's
    /// documented maximum payload size).
    pub max_body_bytes: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_body_bytes: 3 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file or variable and what is wrong.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, |name| std::env::var(name).ok())
    }

    /// Like [`Config::load`] with an explicit environment lookup (tests).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
        };
        let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("SWITCHBOARD_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = non_empty("SWITCHBOARD_DATABASE_URL") {
            config.database_url = v;
        }
        if let Some(v) = non_empty("SWITCHBOARD_APP_SECRET") {
            config.app_secret = Some(Secret(v));
        }
        if let Some(v) = non_empty("SWITCHBOARD_VERIFY_TOKEN") {
            config.verify_token = Some(Secret(v));
        }
        if let Some(v) = non_empty("SWITCHBOARD_ACCESS_TOKEN") {
            config.access_token = Some(Secret(v));
        }
        if let Some(v) = non_empty("SWITCHBOARD_GRAPH_API_BASE") {
            config.graph_api_base = v;
        }
        if let Some(v) = non_empty("SWITCHBOARD_ADMIN_TOKEN") {
            config.admin_token = Some(Secret(v));
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let host_port = self
            .listen
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !host_port {
            return Err(ConfigError::Env {
                name: "SWITCHBOARD_LISTEN",
                message: format!("{:?} is not host:port", self.listen),
            });
        }
        if !self.database_url.starts_with("sqlite:") && !self.is_postgres() {
            return Err(ConfigError::Env {
                name: "SWITCHBOARD_DATABASE_URL",
                message: format!(
                    "{:?}: expected sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB",
                    redact_url_password(&self.database_url)
                ),
            });
        }
        self.sla
            .validate(|name| self.calendars.contains_key(name))
            .map_err(|e| ConfigError::Env {
                name: "sla",
                message: e.to_string(),
            })?;
        let calendar_refs = self
            .routing
            .calendar
            .iter()
            .chain(
                self.routing
                    .inboxes
                    .values()
                    .filter_map(|i| i.calendar.as_ref()),
            )
            .chain(
                self.routing
                    .teams
                    .values()
                    .filter_map(|t| t.calendar.as_ref()),
            );
        for name in calendar_refs.chain(self.reports.calendar.iter()) {
            if !self.calendars.contains_key(name) {
                return Err(ConfigError::Env {
                    name: "routing",
                    message: format!("calendar {name:?} is not defined under [calendars]"),
                });
            }
        }
        for (name, spec) in &self.calendars {
            switchboard_core::calendar::BusinessCalendar::new(spec).map_err(|e| {
                ConfigError::Env {
                    name: "calendars",
                    message: format!("{name}: {e}"),
                }
            })?;
        }
        if let Some(tz) = &self.reports.timezone
            && jiff::tz::TimeZone::get(tz).is_err()
        {
            return Err(ConfigError::Env {
                name: "reports.timezone",
                message: format!(
                    "unknown time zone {tz:?} (use an IANA name such as Asia/Kolkata)"
                ),
            });
        }
        if self.workflow.auto_ack.quiet.as_secs() > 60 {
            return Err(ConfigError::Env {
                name: "workflow.auto_ack.quiet",
                message: "must be at most 60s (the first response is due within 60 seconds)".into(),
            });
        }
        for d in &self.workflow.terminal_dispositions {
            if !self.workflow.dispositions.contains(d) {
                return Err(ConfigError::Env {
                    name: "workflow.terminal_dispositions",
                    message: format!("{d:?} is not in workflow.dispositions"),
                });
            }
        }
        if self.ingest.max_batch == 0 {
            return Err(ConfigError::Env {
                name: "ingest.max_batch",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// True when `database_url` names a PostgreSQL database
    /// (`postgres://` or `postgresql://`); anything else is SQLite.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }

    /// The configuration as TOML with every secret redacted (including a
    /// password in the database URL).
    pub fn to_redacted_toml(&self) -> String {
        let mut out = String::from("# effective configuration; secrets are redacted\n");
        for (name, secret) in [
            ("app_secret", &self.app_secret),
            ("verify_token", &self.verify_token),
            ("access_token", &self.access_token),
            ("admin_token", &self.admin_token),
        ] {
            out.push_str(&format!(
                "# {name}: {}\n",
                if secret.is_some() { "set" } else { "not set" }
            ));
        }
        let mut shown = self.clone();
        shown.database_url = redact_url_password(&self.database_url);
        out.push_str(
            &toml::to_string_pretty(&shown)
                .unwrap_or_else(|e| format!("# cannot render config: {e}\n")),
        );
        out
    }
}

/// `scheme://user:PASSWORD@host…` with the password replaced, so a
/// PostgreSQL URL can be printed and logged.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:[redacted]{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\n[sla.first_response]\nhigh_intent_return = \"1s\"\n",
        )
        .unwrap();
        let c = Config::load_with_env(Some(&file), |k| match k {
            "SWITCHBOARD_LISTEN" => Some("127.0.0.1:9100".into()),
            "SWITCHBOARD_APP_SECRET" => Some("s3cret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9100");
        assert_eq!(c.sla.first_response.high_intent_return.to_string(), "1s");
        assert_eq!(c.sla.first_response.passive_engagement.to_string(), "1d");
        let printed = c.to_redacted_toml();
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("[redacted]"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn the_shipped_example_is_valid_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../switchboard.example.toml");
        let c = Config::load_with_env(Some(&path), |_| None).unwrap();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.database_url, d.database_url);
        assert_eq!(c.sla.first_response, d.sla.first_response);
        assert_eq!(c.routing.intent_skills, d.routing.intent_skills);
        assert_eq!(c.ingest.max_body_bytes, d.ingest.max_body_bytes);
    }

    #[test]
    fn bad_file_names_the_line() {
        let dir = std::env::temp_dir().join(format!("sb-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[sla.first_response]\nfresh_high_intent = \"soon\"\n",
        )
        .unwrap();
        let e = Config::load_with_env(Some(&file), |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("soon"), "{e}");
    }
}
