//! Printing scan results: a table for people, JSON (DESIGN §5) for machines.

use std::io::Write;

use crate::image::ScanReport;
use crate::inspect::Verdict;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

pub fn print_reports(reports: &[ScanReport], format: OutputFormat) -> anyhow::Result<()> {
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

fn write_table(out: &mut impl Write, r: &ScanReport) -> std::io::Result<()> {
    writeln!(out, "{}: {}", r.target, r.outcome.as_str().to_uppercase())?;
    let width = r
        .binaries
        .iter()
        .map(|b| b.path.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    writeln!(
        out,
        "  {:<16}  {:<36}  {:<width$}  EVIDENCE",
        "VERDICT", "MODULE", "PATH"
    )?;
    for b in &r.binaries {
        let module = b.module.as_ref().map_or("-".to_string(), |m| {
            let validation = serde_json::to_value(m.validation)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "{} {} ({validation})",
                m.name,
                m.version.as_deref().unwrap_or("")
            )
        });
        let evidence = match b.verdict {
            Verdict::NotFipsCapable | Verdict::Unknown => {
                b.reason.clone().or_else(|| b.evidence.first().cloned())
            }
            _ => b.evidence.last().cloned(),
        };
        writeln!(
            out,
            "  {:<16}  {:<36}  {:<width$}  {}",
            b.verdict.as_str(),
            module,
            b.path,
            clip(&evidence.unwrap_or_default(), 140)
        )?;
        for w in &b.warnings {
            writeln!(
                out,
                "  {:<16}  {:<36}  {:<width$}  warning: {w}",
                "", "", ""
            )?;
        }
    }
    if !r.skipped.is_empty() {
        writeln!(out, "  skipped: {} files (not ELF, links, libraries resolved as dependencies); -o json lists them", r.skipped.len())?;
    }
    for reason in &r.reasons {
        writeln!(out, "  reason: {}", clip(reason, 240))?;
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
