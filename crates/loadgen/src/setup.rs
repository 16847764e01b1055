//! `--setup-agents`: a team and online agents through the admin API, so the
//! run exercises assignment (roster reads, assignment rows, senior-tier
//! escalations) instead of leaving every conversation unassigned.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The team the load agents join.
const TEAM: &str = "Load";

/// Highest capacity the API accepts (`POST /api/v1/agents` refuses more than
/// 10,000); three agents then hold 30,000 open conversations, more than the
/// default 10,000 customers of a 50,000-message run open.
const CAPACITY: u32 = 10_000;

/// Creates (or finds) the team and creates the agents; agents that already
/// exist (same email, HTTP 409) are left as they are.
pub async fn agents(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<()> {
    let team_id = team(client, base, token).await?;
    // A senior with every skill (escalations go to the senior tier), and two
    // agents covering billing/support and sales, matching the default
    // routing table's skills.
    let agents = [
        ("Load Senior", "senior", vec!["sales", "billing", "support"]),
        ("Load Agent One", "agent", vec!["billing", "support"]),
        ("Load Agent Two", "agent", vec!["sales"]),
    ];
    for (name, role, skills) in agents {
        let email = format!("{}@load.example", name.to_lowercase().replace(' ', "."));
        let resp = client
            .post(format!("{base}/api/v1/agents"))
            .bearer_auth(token)
            .json(&json!({
                "name": name, "email": email, "role": role, "team_id": team_id,
                "skills": skills, "capacity": CAPACITY, "availability": "online"
            }))
            .send()
            .await
            .context("creating an agent")?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::CONFLICT => {}
            s => bail!(
                "POST /api/v1/agents {name}: {s} {}",
                resp.text().await.unwrap_or_default()
            ),
        }
    }
    Ok(())
}

/// The load team's id, creating the team when it does not exist.
async fn team(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<i64> {
    let resp = client
        .post(format!("{base}/api/v1/teams"))
        .bearer_auth(token)
        .json(&json!({"name": TEAM, "skills": ["sales"]}))
        .send()
        .await
        .context("creating the team")?;
    let status = resp.status();
    if status.is_success() {
        let team: Value = resp.json().await.context("reading the new team")?;
        return team["id"]
            .as_i64()
            .context("POST /api/v1/teams answered without an id");
    }
    if status != StatusCode::CONFLICT {
        bail!(
            "POST /api/v1/teams: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }
    // Set up by an earlier run on the same database: look it up.
    let list: Value = client
        .get(format!("{base}/api/v1/teams"))
        .bearer_auth(token)
        .send()
        .await
        .context("listing teams")?
        .error_for_status()
        .context("listing teams")?
        .json()
        .await
        .context("reading the team list")?;
    list["teams"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == TEAM)
        .and_then(|t| t["id"].as_i64())
        .with_context(|| format!("team {TEAM:?} exists but is not listed"))
}
