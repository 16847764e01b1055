//! Reading labelled data for `train` and `eval`: JSON Lines or CSV.
//!
//! JSON Lines: one [`Record`] per line (`text` plus `intent` /
//! `escalation_reasons`, or the source's `label`; optional `language`,
//! `source`, `split`, `id`, `hard`, `category`). CSV: a header row naming
//! the same columns; `escalation_reasons` is a list separated by `;` or
//! `,` inside the cell. Blank lines are skipped; a malformed line is an
//! error naming the file and line, because silently dropping training data
//! changes the model.

use std::path::Path;

use anyhow::{Context, bail};
use switchboard_core::dataset::{Labels, Record};
use switchboard_core::model::EscalationReason;

/// Reads every record of a `.jsonl`/`.json` or `.csv` file.
pub fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        read_csv(path, &text)
    } else {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r: Record = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a record", path.display(), i + 1))?;
            out.push(r);
        }
        Ok(out)
    }
}

fn read_csv(path: &Path, text: &str) -> anyhow::Result<Vec<Record>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let Some(text_col) = col("text") else {
        bail!(
            "{}: no `text` column (columns: {:?})",
            path.display(),
            headers
        );
    };
    let (intent, label, reasons) = (col("intent"), col("label"), col("escalation_reasons"));
    let (language, source, split, id) = (col("language"), col("source"), col("split"), col("id"));
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let escalation_reasons = match get(reasons) {
            None => None,
            Some(cell) => Some(
                cell.split([';', ','])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<EscalationReason>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("{}: row {}", path.display(), i + 2))?,
            ),
        };
        out.push(Record {
            id: get(id),
            text: get(Some(text_col)).unwrap_or_default(),
            intent: get(intent),
            escalation_reasons,
            label: get(label).map(Labels::One),
            language: get(language),
            source: get(source),
            split: get(split),
            hard: None,
            category: None,
            sentiment: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        std::fs::write(
            &csv,
            "text,intent,escalation_reasons\n\"hi, there\",greeting,\nrefund do,refund,refund;complaint\n",
        )
        .unwrap();
        let r = read_records(&csv).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].text, "hi, there");
        assert_eq!(r[1].escalation_reasons.as_ref().unwrap().len(), 2);
        let jl = dir.path().join("a.jsonl");
        std::fs::write(
            &jl,
            "{\"text\":\"x\",\"label\":\"y\"}\n\n{\"text\":\"z\",\"label\":[\"a\"]}\n",
        )
        .unwrap();
        assert_eq!(read_records(&jl).unwrap().len(), 2);
        std::fs::write(&jl, "{\"text\":\"x\"}\nnot json\n").unwrap();
        let e = read_records(&jl).unwrap_err();
        assert!(format!("{e:#}").contains(":2:"), "{e:#}");
    }
}
