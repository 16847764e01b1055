//! Assignment v1: who gets a conversation.
//!
//! Order (Switchboard issue #2, after the seeds' "assignment logic"):
//! 1. Escalated conversations and returning high-intent prospects go to the
//!    senior tier (seeds: "Senior sales or owner"; escalation triggers "should
//!    automatically escalate to a senior team member or owner"): the
//!    contact's previous agent if that agent is senior, else the least-loaded
//!    online senior, else a supervisor or admin.
//! 2. Otherwise the agent who last handled this contact, if online and under
//!    capacity (relationship continuity: "a returning contact should always be
//!    assigned to the team member who handled their last conversation, unless
//!    that person is unavailable").
//! 3. Otherwise the online agent of the right team under capacity with the
//!    fewest open conversations (ties: least recently assigned, then lowest
//!    id).
//! 4. Otherwise nobody: the conversation waits in the unassigned queue.
//!
//! Every decision carries its rule and a sentence saying why.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, TeamId};
use crate::model::{Availability, Category, Role};

/// What the decision needs to know about one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The agent.
    pub id: AgentId,
    /// Display name, used in reasons.
    pub name: String,
    /// Authority.
    pub role: Role,
    /// Team membership.
    pub team_id: Option<TeamId>,
    /// The agent's skills plus the team's skills, lowercase.
    pub skills: Vec<String>,
    /// Maximum open conversations.
    pub capacity: u32,
    /// Open conversations assigned now (a maintained counter).
    pub open_count: u32,
    /// Presence.
    pub availability: Availability,
    /// When the agent last received a conversation.
    pub last_assigned_at: Option<Timestamp>,
}

impl Candidate {
    fn has_room(&self) -> bool {
        self.availability == Availability::Online && self.open_count < self.capacity
    }

    fn has_skill(&self, skill: Option<&str>) -> bool {
        skill.is_none_or(|s| self.skills.iter().any(|k| k.eq_ignore_ascii_case(s)))
    }
}

/// The conversation being assigned.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Triage escalated it.
    pub escalate: bool,
    /// Its triage category.
    pub category: Category,
    /// A skill the intent needs, if any (`sales`, `billing`, …).
    pub required_skill: Option<&'a str>,
    /// The team that owns the inbox, if one does.
    pub team_id: Option<TeamId>,
    /// The agent who last handled this contact.
    pub previous_agent: Option<AgentId>,
}

/// Which step of the order decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Step 1: senior tier.
    SeniorTier,
    /// Step 2: relationship continuity.
    Continuity,
    /// Step 3: least-loaded agent.
    LeastLoaded,
    /// Step 4: unassigned queue.
    Unassigned,
}

impl Rule {
    /// Every rule.
    pub const ALL: &'static [Rule] = &[
        Rule::SeniorTier,
        Rule::Continuity,
        Rule::LeastLoaded,
        Rule::Unassigned,
    ];

    /// The snake_case word used in the API, the database and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::SeniorTier => "senior_tier",
            Rule::Continuity => "continuity",
            Rule::LeastLoaded => "least_loaded",
            Rule::Unassigned => "unassigned",
        }
    }

    /// Parses the word; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The chosen agent; `None` leaves the conversation unassigned.
    pub agent_id: Option<AgentId>,
    /// The step that decided.
    pub rule: Rule,
    /// Why, in words.
    pub reason: String,
}

/// Decides who gets a conversation; see the module docs for the order.
/// Linear in the number of candidates; allocation-free apart from the reason.
pub fn decide(req: &Request<'_>, candidates: &[Candidate]) -> Decision {
    let skill = req.required_skill;
    let skilled = |c: &&Candidate| c.has_skill(skill);
    let any_skilled = skill.is_some()
        && candidates
            .iter()
            .any(|c| c.has_room() && c.has_skill(skill));
    let skill_ok = |c: &&Candidate| !any_skilled || skilled(c);
    let previous = req
        .previous_agent
        .and_then(|id| candidates.iter().find(|c| c.id == id));
    let mut notes = Vec::new();

    if req.escalate || req.category == Category::HighIntentReturn {
        let why = if req.escalate {
            "escalated"
        } else {
            "returning high-intent prospect"
        };
        if let Some(p) = previous.filter(|p| p.role.is_senior_tier() && p.has_room()) {
            return Decision {
                agent_id: Some(p.id),
                rule: Rule::SeniorTier,
                reason: format!(
                    "{why}: back to {} (senior tier, handled this contact before)",
                    p.name
                ),
            };
        }
        for (tier, label) in [
            (Role::Senior, "senior"),
            (Role::Supervisor, "supervisor"),
            (Role::Admin, "admin"),
        ] {
            // Authority matters more than skill for escalations: prefer a
            // skilled senior of the team, then any senior of the team, then
            // any senior at all.
            let tiered = |c: &&Candidate| c.role == tier && c.has_room();
            let in_team = |c: &&Candidate| req.team_id.is_none_or(|t| c.team_id == Some(t));
            let pick = least_loaded(
                candidates
                    .iter()
                    .filter(tiered)
                    .filter(in_team)
                    .filter(skill_ok),
            )
            .or_else(|| least_loaded(candidates.iter().filter(tiered).filter(in_team)))
            .or_else(|| least_loaded(candidates.iter().filter(tiered)));
            if let Some(c) = pick {
                return Decision {
                    agent_id: Some(c.id),
                    rule: Rule::SeniorTier,
                    reason: format!(
                        "{why}: {label} {} has the fewest open conversations ({}/{})",
                        c.name, c.open_count, c.capacity
                    ),
                };
            }
        }
        notes.push(format!(
            "{why} but no senior, supervisor or admin is online with capacity"
        ));
    }

    if let Some(p) = previous {
        if p.has_room() {
            let mut reason = format!(
                "relationship continuity: {} handled this contact before",
                p.name
            );
            prepend_notes(&mut reason, &notes);
            return Decision {
                agent_id: Some(p.id),
                rule: Rule::Continuity,
                reason,
            };
        }
        notes.push(format!(
            "previous agent {} is {} ({}/{} open)",
            p.name, p.availability, p.open_count, p.capacity
        ));
    }

    let pool = candidates.iter().filter(|c| {
        c.has_room() && skill_ok(c) && req.team_id.is_none_or(|t| c.team_id == Some(t))
    });
    if let Some(c) = least_loaded(pool) {
        let mut reason = format!(
            "least loaded online agent: {} ({}/{} open)",
            c.name, c.open_count, c.capacity
        );
        if any_skilled && let Some(s) = skill {
            reason.push_str(&format!(", has skill {s}"));
        }
        prepend_notes(&mut reason, &notes);
        return Decision {
            agent_id: Some(c.id),
            rule: Rule::LeastLoaded,
            reason,
        };
    }
    let mut reason = "no online agent with capacity; waiting in the unassigned queue".to_owned();
    prepend_notes(&mut reason, &notes);
    Decision {
        agent_id: None,
        rule: Rule::Unassigned,
        reason,
    }
}

fn prepend_notes(reason: &mut String, notes: &[String]) {
    if !notes.is_empty() {
        *reason = format!("{}; {reason}", notes.join("; "));
    }
}

fn least_loaded<'a>(it: impl Iterator<Item = &'a Candidate>) -> Option<&'a Candidate> {
    // Fairness (issue #4): fewest open conversations, then least recently
    // assigned (never assigned counts as longest ago), then lowest id.
    it.min_by(|a, b| {
        a.open_count
            .cmp(&b.open_count)
            .then_with(|| a.last_assigned_at.cmp(&b.last_assigned_at))
            .then_with(|| a.id.cmp(&b.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64, role: Role, open: u32, cap: u32, av: Availability) -> Candidate {
        Candidate {
            id: AgentId(id),
            name: format!("a{id}"),
            role,
            team_id: Some(TeamId(1)),
            skills: vec![],
            capacity: cap,
            open_count: open,
            availability: av,
            last_assigned_at: None,
        }
    }

    fn req() -> Request<'static> {
        Request {
            escalate: false,
            category: Category::InformationRequest,
            required_skill: None,
            team_id: None,
            previous_agent: None,
        }
    }

    #[test]
    fn least_loaded_and_capacity() {
        let c = vec![
            agent(1, Role::Agent, 3, 5, Availability::Online),
            agent(2, Role::Agent, 1, 5, Availability::Online),
            agent(3, Role::Agent, 0, 5, Availability::Offline),
            agent(4, Role::Agent, 2, 2, Availability::Online),
        ];
        let d = decide(&req(), &c);
        assert_eq!(d.agent_id, Some(AgentId(2)));
        assert_eq!(d.rule, Rule::LeastLoaded);
    }

    #[test]
    fn continuity_then_fallback() {
        let mut c = vec![
            agent(1, Role::Agent, 3, 5, Availability::Online),
            agent(2, Role::Agent, 0, 5, Availability::Online),
        ];
        let r = Request {
            previous_agent: Some(AgentId(1)),
            ..req()
        };
        assert_eq!(decide(&r, &c).rule, Rule::Continuity);
        c[0].availability = Availability::Away;
        let d = decide(&r, &c);
        assert_eq!(d.agent_id, Some(AgentId(2)));
        assert!(
            d.reason.contains("previous agent a1 is away"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn escalations_go_to_seniors() {
        let c = vec![
            agent(1, Role::Agent, 0, 5, Availability::Online),
            agent(2, Role::Senior, 4, 5, Availability::Online),
        ];
        let r = Request {
            escalate: true,
            previous_agent: Some(AgentId(1)),
            ..req()
        };
        let d = decide(&r, &c);
        assert_eq!((d.agent_id, d.rule), (Some(AgentId(2)), Rule::SeniorTier));
        let r = Request {
            category: Category::HighIntentReturn,
            ..req()
        };
        assert_eq!(decide(&r, &c).agent_id, Some(AgentId(2)));
        // A skill only the junior has does not pull an escalation away from the senior.
        let mut c = c;
        c[0].skills = vec!["billing".into()];
        let r = Request {
            escalate: true,
            required_skill: Some("billing"),
            ..req()
        };
        assert_eq!(decide(&r, &c).agent_id, Some(AgentId(2)));
    }

    #[test]
    fn nobody_available_is_unassigned() {
        let c = vec![agent(1, Role::Agent, 5, 5, Availability::Online)];
        let d = decide(&req(), &c);
        assert_eq!((d.agent_id, d.rule), (None, Rule::Unassigned));
    }

    #[test]
    fn skills_filter_when_someone_has_it() {
        let mut c = vec![
            agent(1, Role::Agent, 0, 5, Availability::Online),
            agent(2, Role::Agent, 3, 5, Availability::Online),
        ];
        c[1].skills = vec!["billing".into()];
        let r = Request {
            required_skill: Some("billing"),
            ..req()
        };
        assert_eq!(decide(&r, &c).agent_id, Some(AgentId(2)));
        let r = Request {
            required_skill: Some("legal"),
            ..req()
        };
        assert_eq!(decide(&r, &c).agent_id, Some(AgentId(1)));
    }
}
