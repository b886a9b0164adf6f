//! Printing scan results: a table for people, JSON for machines (its fields: README.md).

use std::io::Write;

use crate::image::ScanReport;
use crate::inspect::{BinaryVerdict, Verdict};
use crate::policy::Outcome;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Prints the reports on stdout. A closed pipe (`| head`) ends the output quietly.
pub fn print_reports(reports: &[ScanReport], format: OutputFormat) -> anyhow::Result<()> {
    match write_reports(reports, format) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn write_reports(reports: &[ScanReport], format: OutputFormat) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, reports)?;
            writeln!(out)?;
        }
        OutputFormat::Table => {
            for r in reports {
                write_table(&mut out, r)?;
            }
        }
    }
    Ok(())
}

fn module_text(b: &BinaryVerdict) -> String {
    b.module.as_ref().map_or("-".to_string(), |m| {
        let validation = serde_json::to_value(m.validation)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        match &m.version {
            Some(v) => format!("{} {v} ({validation})", m.name),
            None => format!("{} ({validation})", m.name),
        }
    })
}

fn write_table(out: &mut impl Write, r: &ScanReport) -> std::io::Result<()> {
    writeln!(out, "{}: {}", r.target, r.outcome.as_str().to_uppercase())?;
    let rows: Vec<(&BinaryVerdict, String)> =
        r.binaries.iter().map(|b| (b, module_text(b))).collect();
    let pw = rows
        .iter()
        .map(|(b, _)| b.path.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let mw = rows
        .iter()
        .map(|(_, m)| m.len())
        .max()
        .unwrap_or(6)
        .clamp(6, 60);
    if !rows.is_empty() {
        writeln!(
            out,
            "  {:<16}  {:<mw$}  {:<pw$}  EVIDENCE",
            "VERDICT", "MODULE", "PATH"
        )?;
    }
    for (b, module) in &rows {
        let evidence = match b.verdict {
            Verdict::NotFipsCapable | Verdict::Unknown => {
                b.reason.clone().or_else(|| b.evidence.first().cloned())
            }
            _ => b.evidence.last().cloned(),
        };
        writeln!(
            out,
            "  {:<16}  {:<mw$}  {:<pw$}  {}",
            b.verdict.as_str(),
            module,
            b.path,
            clip(&evidence.unwrap_or_default(), 140)
        )?;
        for w in &b.warnings {
            writeln!(out, "  {:<16}  {:<mw$}  {:<pw$}  warning: {w}", "", "", "")?;
        }
    }
    match r.skipped.len() {
        0 => {}
        // Unless the reasons already say it (a file target with nothing to judge).
        1 if r.reasons.iter().any(|x| x.contains(&r.skipped[0].reason)) => {}
        1 => writeln!(out, "  skipped: {}: {}", r.skipped[0].path, r.skipped[0].reason)?,
        n => writeln!(
            out,
            "  skipped: {n} files (not ELF, links, libraries resolved as dependencies…); -o json lists them with their reasons"
        )?,
    }
    // A compliant target's reasons are notes (nothing judged in an image), not failures.
    let label = match r.outcome {
        Outcome::Compliant => "note",
        _ => "reason",
    };
    for reason in &r.reasons {
        writeln!(out, "  {label}: {}", clip(reason, 240))?;
    }
    writeln!(out)
}

/// Shortens a line for the table; JSON always has the whole text.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max - 1).collect();
    format!("{cut}…")
}
