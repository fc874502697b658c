//! `wijkpuls export --open-data DIR`: the city's open data, folded from the log: every
//! initiative and every budget line, as CSV files for the open-data portal. Only public facts:
//! no initiator, no staff notes, no tracking code, no free text but the title (the columns
//! are documented in docs/operations.md).

use std::path::Path;

use anyhow::Context as _;
use wijkpuls_domain::projection::{CityState, InitiativeView, WijkView};
use wijkpuls_domain::{Money, Theme};
use wijkpuls_event_store::RecordedEvent;

use super::{progress, Source};

/// The columns of `initiatives.csv`.
pub const INITIATIVE_COLUMNS: [&str; 14] = [
    "id",
    "wijk_code",
    "wijk_name",
    "gebied_code",
    "theme",
    "status",
    "channel",
    "title",
    "requested_amount",
    "funded_amount",
    "funded_year",
    "spent_amount",
    "submitted_at",
    "updated_at",
];

/// The columns of `budget_lines.csv`.
pub const BUDGET_LINE_COLUMNS: [&str; 9] = [
    "year",
    "wijk_code",
    "wijk_name",
    "gebied_code",
    "theme",
    "allocated",
    "committed",
    "spent",
    "remaining",
];

/// Folds the snapshot and writes `initiatives.csv` and `budget_lines.csv` into `dir` (created
/// if missing; each file written whole or not at all).
pub async fn write(source: &mut Source, dir: &Path) -> anyhow::Result<()> {
    let bar = progress(Some(source.counts().events), "fold");
    let mut state = CityState::new();
    loop {
        let page = source.next_events().await?;
        if page.is_empty() {
            break;
        }
        for raw in &page {
            let recorded = RecordedEvent::try_from(raw)?;
            let recorded = wijkpuls_api::codec::to_recorded(&recorded)
                .with_context(|| format!("the event at position {} is unreadable", raw.position))?;
            state.apply(&recorded);
        }
        bar.inc(page.len() as u64);
    }
    bar.finish_and_clear();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let wijk = |code| state.wijk(code);
    write_csv(dir, "initiatives.csv", &INITIATIVE_COLUMNS, |out| {
        for view in state.initiatives() {
            out.write_record(initiative_row(view, wijk(&view.wijk)))?;
        }
        Ok(())
    })?;
    write_csv(dir, "budget_lines.csv", &BUDGET_LINE_COLUMNS, |out| {
        for wijk in state.wijken() {
            for year in wijk.budget_years() {
                for theme in Theme::ALL {
                    let line = wijk.budget_line(year, theme);
                    out.write_record([
                        year.to_string(),
                        wijk.code.to_string(),
                        wijk.name.as_str().to_owned(),
                        wijk.gebied.to_string(),
                        theme.as_str().to_owned(),
                        line.allocated.to_string(),
                        line.committed.to_string(),
                        line.spent.to_string(),
                        line.remaining().to_string(),
                    ])?;
                }
            }
        }
        Ok(())
    })?;
    eprintln!(
        "wrote initiatives.csv and budget_lines.csv into {}",
        dir.display()
    );
    Ok(())
}

fn initiative_row(view: &InitiativeView, wijk: Option<&WijkView>) -> [String; 14] {
    let money = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_default();
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    [
        view.id.to_string(),
        view.wijk.to_string(),
        wijk.map(|w| w.name.as_str().to_owned()).unwrap_or_default(),
        view.gebied.to_string(),
        view.theme.as_str().to_owned(),
        view.status.as_str().to_owned(),
        view.channel.as_str().to_owned(),
        view.title.as_str().to_owned(),
        view.requested_amount.to_string(),
        money(view.funded_amount),
        view.funded_line
            .map(|line| line.year.to_string())
            .unwrap_or_default(),
        money(view.spent_amount),
        time(view.submitted_at),
        time(view.updated_at),
    ]
}

/// Writes `dir/name` through a temporary file renamed when complete.
fn write_csv(
    dir: &Path,
    name: &str,
    columns: &[&str],
    rows: impl FnOnce(&mut csv::Writer<&mut tempfile::NamedTempFile>) -> csv::Result<()>,
) -> anyhow::Result<()> {
    let path = dir.join(name);
    let cannot = || format!("cannot write {}", path.display());
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(cannot)?;
    {
        let mut out = csv::Writer::from_writer(&mut file);
        out.write_record(columns).with_context(cannot)?;
        rows(&mut out).with_context(cannot)?;
        out.flush().with_context(cannot)?;
    }
    file.as_file().sync_all().with_context(cannot)?;
    file.persist(&path).with_context(cannot)?;
    Ok(())
}
