//! What an admin command prints: a JSON document (`--json`) or text — `name  value` fields or an
//! aligned table, control characters neutralised — and a note for stderr.

use std::fmt::Write as _;

use anyhow::Context;
use livecert_core::secret::Secret;
use serde_json::Value;

/// What a command prints: a JSON document (`--json`) or text, and an optional note for stderr.
pub(super) struct Report {
    pub(super) json: Value,
    pub(super) text: String,
    pub(super) note: Option<String>,
}

impl Report {
    pub(super) fn new(json: Value, text: String) -> Self {
        Self {
            json,
            text,
            note: None,
        }
    }
}

/// `name  value` lines, names padded to one width.
pub(super) fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k:<width$}  {}", printable(v));
    }
    out
}

/// An aligned table: a header line, then one line per row; columns two spaces apart.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

pub(super) fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

pub(super) fn secret_text(secret: &Secret) -> anyhow::Result<String> {
    secret
        .expose_str()
        .map(str::to_owned)
        .context("a generated secret is not text")
}

/// `text` with control characters replaced, so that stored text cannot drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_neutralise_control_characters() {
        let text = table(
            &["A", "LONGER"],
            &[
                vec!["wide-cell".into(), "x".into()],
                vec!["b\u{1b}[31m".into(), String::new()],
            ],
        );
        assert_eq!(text, "A          LONGER\nwide-cell  x\nb?[31m\n");
        assert_eq!(
            fields(&[("Id", "1".into()), ("Status", "ok".into())]),
            "Id      1\nStatus  ok\n"
        );
    }
}
