//! Report scans: a read-only rusqlite connection streams rolled-up cycles
//! without sqlx's per-row thread hand-off (a million cycles must become a
//! summary in under a second; see BENCHMARKS.md).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};
use switchboard_store::{CycleQuery, CycleScan, Dimension, ScannedCycle, StoreError, StoreResult};

use crate::writer::rq_err;

/// The SQL expression a dimension groups by (text or NULL).
fn key_expr(by: Option<Dimension>) -> &'static str {
    match by {
        None => "NULL",
        Some(Dimension::Campaign) => "coalesce(source_id, 'organic')",
        Some(Dimension::Channel) => {
            "CASE WHEN source_type IS NULL THEN 'organic' ELSE 'ctwa_' || source_type END"
        }
        Some(Dimension::Audience) => "CASE WHEN returning_contact THEN 'returning' ELSE 'new' END",
        Some(Dimension::Intent) => "intent",
        Some(Dimension::Category) => "category",
        Some(Dimension::Language) => "language",
        Some(Dimension::Team) => "CAST(team_id AS TEXT)",
        Some(Dimension::Agent) => "CAST(agent_id AS TEXT)",
        Some(Dimension::Inbox) => "CAST(inbox_id AS TEXT)",
    }
}

/// Interns optional strings read as borrowed text.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    null: Option<u32>,
    values: Vec<Option<String>>,
}

impl Interner {
    fn id(&mut self, v: Option<&str>) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        match v {
            None => *self.null.get_or_insert_with(|| {
                self.values.push(None);
                next
            }),
            Some(s) => {
                if let Some(i) = self.index.get(s) {
                    return *i;
                }
                self.index.insert(s.to_owned(), next);
                self.values.push(Some(s.to_owned()));
                next
            }
        }
    }
}

/// Reads the cycles of `q` from the database file at `path`.
pub(crate) fn cycles(path: &Path, q: &CycleQuery) -> StoreResult<CycleScan> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(rq_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(rq_err)?;
    let sql = format!(
        "SELECT {}, day, disposition, recontacted, facts FROM report_cycles WHERE day >= ?1 AND day <= ?2",
        key_expr(q.by)
    );
    let mut stmt = conn.prepare(&sql).map_err(rq_err)?;
    let mut rows = stmt
        .query(params![q.from.to_string(), q.to.to_string()])
        .map_err(rq_err)?;
    let mut keys = Interner::default();
    let mut dispositions = Interner::default();
    let mut days: HashMap<String, jiff::civil::Date> = HashMap::new();
    let mut cycles = Vec::new();
    while let Some(row) = rows.next().map_err(rq_err)? {
        let key = keys.id(row
            .get_ref(0)
            .map_err(rq_err)?
            .as_str_or_null()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?);
        let day_text = row
            .get_ref(1)
            .map_err(rq_err)?
            .as_str()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let day = match days.get(day_text) {
            Some(d) => *d,
            None => {
                let d: jiff::civil::Date = day_text.parse().map_err(|e| {
                    StoreError::Corrupt(format!("report_cycles.day {day_text:?}: {e}"))
                })?;
                days.insert(day_text.to_owned(), d);
                d
            }
        };
        let disposition = dispositions.id(row
            .get_ref(2)
            .map_err(rq_err)?
            .as_str_or_null()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?);
        let recontacted: bool = row.get(3).map_err(rq_err)?;
        let blob = row
            .get_ref(4)
            .map_err(rq_err)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let facts = postcard::from_bytes(blob)
            .map_err(|e| StoreError::Corrupt(format!("report_cycles.facts: {e}")))?;
        cycles.push(ScannedCycle {
            key,
            day,
            disposition,
            recontacted,
            facts,
        });
    }
    Ok(CycleScan {
        keys: keys.values,
        dispositions: dispositions.values,
        cycles,
    })
}
