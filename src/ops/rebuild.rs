//! `wijkpuls rebuild --check`: refolds the read model from the log and compares it with what
//! else says what the log means, reporting every difference on a line of its own.
//!
//! - The **fold**: the whole log, page by page as the server's tailer reads it, applied to a
//!   fresh [`CityState`] — exactly what a server builds at start-up.
//! - The **recount**: the same events counted again the plain way, without the fold's
//!   incremental bookkeeping: each budget line's allocation, commitments and spending summed
//!   from the events, each initiative's status followed through the domain's transition table,
//!   each wijk's status counts tallied from those statuses. A fold whose running totals drifted
//!   (a count not moved on a status change, an amount not returned) differs from it.
//! - With `--server URL`, **a running server**: its budget lines and status counts of every
//!   wijk, for every budget year, over its GraphQL API. The log is folded up to the position
//!   the server says it shows, so a server that is up to date and right matches exactly; one
//!   whose live state went wrong (or a log altered under it) does not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::{json, Value};
use wijkpuls_domain::{
    Action, BudgetLineKey, CityState, DomainEvent, GebiedCode, InitiativeId, InitiativeStatus,
    Recorded, Theme, WijkCode,
};
use wijkpuls_event_store::{EventStore, Position, StoreOptions};

use super::{progress, redact, PAGE};

/// `wijkpuls rebuild`.
#[derive(Args)]
pub struct RebuildArgs {
    /// Compare only (the read models live in the servers' memory: a restart rebuilds them).
    #[arg(long, required = true)]
    pub check: bool,
    /// The store whose log to refold: `sqlite://PATH` (must exist) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://wijkpuls.db")]
    pub database_url: String,
    /// A running server on this store (its base URL, e.g. `http://127.0.0.1:8080`) whose
    /// budgets and status counts to compare with the refold.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
}

/// Runs the check: `Ok` when everything agrees, an error (non-zero exit) after printing every
/// difference.
pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let shown = match &args.server {
        Some(url) => Some(Server::new(url)?.position().await?),
        None => None,
    };
    let store = open(&args.database_url).await?;
    let head = store
        .head_position()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the event log: {e}"))?;
    let until = shown
        .as_ref()
        .map_or(head, |(_, position)| Position(*position));
    if until > head {
        anyhow::bail!(
            "the server shows position {}, but the log at {} ends at {}: is it the server's store?",
            until.0,
            redact(&args.database_url),
            head.0
        );
    }
    let bar = progress(Some(until.0), "refold");
    let mut fold = CityState::new();
    let mut recount = Recount::default();
    let mut after = Position::START;
    while after < until {
        let page = store
            .read_batch(after, PAGE)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the event log: {e}"))?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for record in page.iter().filter(|r| r.position <= until) {
            let recorded = wijkpuls_api::codec::to_recorded(record)
                .map_err(|e| anyhow::anyhow!("the event at position {}: {e}", record.position.0))?;
            fold.apply(&recorded);
            recount.apply(&recorded);
        }
        bar.set_position(after.0.min(until.0));
    }
    bar.finish_and_clear();
    store.close().await;
    let mut differences = recount.compare(&fold);
    if let Some((server, _)) = shown {
        differences.extend(server.compare(&fold).await?);
    }
    for difference in &differences {
        println!("{difference}");
    }
    let what = match &args.server {
        Some(url) => format!("the recount and the server at {url}"),
        None => "the recount".to_owned(),
    };
    if !differences.is_empty() {
        anyhow::bail!(
            "{} differences between the fold of positions 1-{} and {what}",
            differences.len(),
            until.0
        );
    }
    println!(
        "the read model agrees: {} events folded (positions 1-{}), {} wijken, {} initiatives, \
         {} budget lines; compared with {what}",
        fold.position(),
        until.0,
        fold.wijken().count(),
        fold.initiatives().len(),
        recount.lines.len()
    );
    Ok(())
}

/// Opens an existing store (a missing SQLite file is an error, not a new database).
async fn open(url: &str) -> anyhow::Result<EventStore> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = std::path::Path::new(rest.split('?').next().unwrap_or(rest));
        if !path.exists() {
            anyhow::bail!(
                "cannot open the database: there is no database at {}",
                path.display()
            );
        }
    }
    EventStore::open(url, StoreOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))
}

/// A budget line's figures in cents: allocated, committed, spent.
type Figures = [i64; 3];

fn figures(line: wijkpuls_domain::BudgetLine) -> Figures {
    [
        line.allocated.cents(),
        line.committed.cents(),
        line.spent.cents(),
    ]
}

const FIGURES: [&str; 3] = ["allocated", "committed", "spent"];

fn euros(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The plain count of what the log says, independent of [`CityState`]'s bookkeeping. It skips
/// what the fold skips (events about unknown wijken or initiatives), so a log the fold reads
/// well gives the same answers.
#[derive(Default)]
struct Recount {
    gebieden: BTreeSet<GebiedCode>,
    wijken: BTreeSet<WijkCode>,
    lines: BTreeMap<BudgetLineKey, Figures>,
    initiatives: HashMap<InitiativeId, (WijkCode, InitiativeStatus)>,
}

impl Recount {
    fn apply(&mut self, recorded: &Recorded) {
        match &recorded.event {
            DomainEvent::GebiedRegistered(e) => {
                self.gebieden.insert(e.code);
            }
            DomainEvent::WijkRegistered(e) if self.gebieden.contains(&e.gebied) => {
                self.wijken.insert(e.code);
            }
            DomainEvent::BudgetAllocated(e) => {
                self.line(&e.line, |f| f[0] = e.allocated.cents());
            }
            DomainEvent::InitiativeSubmitted(e) if self.wijken.contains(&e.wijk) => {
                self.initiatives
                    .entry(e.id)
                    .or_insert((e.wijk, InitiativeStatus::Submitted));
            }
            DomainEvent::InitiativeConnected(e) => {
                if let wijkpuls_domain::ConnectionTarget::Initiative(target) = &e.target {
                    if !self.initiatives.contains_key(target) {
                        return;
                    }
                }
                self.step(&e.id, Action::Connect);
            }
            DomainEvent::InitiativeFunded(e) => {
                let known = self.step(&e.id, Action::Fund);
                if known {
                    self.line(&e.line, |f| f[1] = f[1].saturating_add(e.amount.cents()));
                }
            }
            DomainEvent::InitiativeCompleted(e) => {
                let known = self.step(&e.id, Action::Complete);
                if known {
                    self.line(&e.line, |f| {
                        f[1] = f[1].saturating_sub(e.funded.cents()).max(0);
                        f[2] = f[2].saturating_add(e.spent.cents());
                    });
                }
            }
            DomainEvent::InitiativeRejected(e) => {
                self.step(&e.id, Action::Reject);
            }
            DomainEvent::InitiativeReferred(e) => {
                self.step(&e.id, Action::Refer);
            }
            DomainEvent::InitiativeWithdrawn(e) => {
                let known = self.step(&e.id, Action::Withdraw);
                if known {
                    if let Some(returned) = &e.returned {
                        self.line(&returned.line, |f| {
                            f[1] = f[1].saturating_sub(returned.amount.cents()).max(0)
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// Moves an initiative on by `action` (an action its status does not allow leaves it);
    /// false when the initiative is unknown.
    fn step(&mut self, id: &InitiativeId, action: Action) -> bool {
        match self.initiatives.get_mut(id) {
            Some((_, status)) => {
                *status = status.after(action).unwrap_or(*status);
                true
            }
            None => false,
        }
    }

    fn line(&mut self, key: &BudgetLineKey, f: impl FnOnce(&mut Figures)) {
        if self.wijken.contains(&key.wijk) {
            f(self.lines.entry(*key).or_default());
        }
    }

    /// Every place where the fold and the recount disagree.
    fn compare(&self, fold: &CityState) -> Vec<String> {
        let mut differences = Vec::new();
        let folded: BTreeSet<WijkCode> = fold.wijken().map(|w| w.code).collect();
        if folded != self.wijken {
            differences.push(format!(
                "wijken: the fold has {}, the recount {}",
                folded.len(),
                self.wijken.len()
            ));
        }
        let mut keys: BTreeSet<BudgetLineKey> = self.lines.keys().copied().collect();
        for wijk in fold.wijken() {
            for year in wijk.budget_years() {
                for theme in Theme::ALL {
                    keys.insert(BudgetLineKey {
                        wijk: wijk.code,
                        year,
                        theme,
                    });
                }
            }
        }
        for key in keys {
            let counted = self.lines.get(&key).copied().unwrap_or_default();
            let shown = figures(fold.budget_line(&key));
            for (i, name) in FIGURES.iter().enumerate() {
                if counted[i] != shown[i] {
                    differences.push(format!(
                        "wijk {} line {} {}: {name} is {} by the recount, {} by the fold",
                        key.wijk,
                        key.year,
                        key.theme.as_str(),
                        euros(counted[i]),
                        euros(shown[i])
                    ));
                }
            }
        }
        let mut counts: BTreeMap<WijkCode, BTreeMap<InitiativeStatus, u64>> = BTreeMap::new();
        for (&id, &(wijk, status)) in &self.initiatives {
            *counts.entry(wijk).or_default().entry(status).or_default() += 1;
            match fold.initiative(&id) {
                None => differences.push(format!("initiative {id}: missing from the fold")),
                Some(view) if view.status != status => differences.push(format!(
                    "initiative {id}: status {} by the recount, {} by the fold",
                    status, view.status
                )),
                Some(_) => {}
            }
        }
        for wijk in fold.wijken() {
            let shown = fold.wijk_counts(&wijk.code);
            for status in InitiativeStatus::ALL {
                let counted = counts
                    .get(&wijk.code)
                    .and_then(|c| c.get(&status))
                    .copied()
                    .unwrap_or(0);
                if counted != shown.get(status) {
                    differences.push(format!(
                        "wijk {} count {status}: {counted} by the recount, {} by the fold",
                        wijk.code,
                        shown.get(status)
                    ));
                }
            }
        }
        differences
    }
}

/// A running server's GraphQL API.
struct Server {
    url: String,
    client: reqwest::Client,
}

/// Every wijk's status counts (of all years: `wijken`, as `cityOverview(year:)` counts only
/// that year's submissions) and, for the year asked, budget lines.
const OVERVIEW: &str = "query($year: Int) { \
     wijken { code initiativeCounts { submitted connected funded completed rejected withdrawn referred } } \
     cityOverview(year: $year) { position wijken { code \
     budget { lines { theme allocated committed spent } } } } }";

impl Server {
    fn new(url: &str) -> anyhow::Result<Server> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("cannot make an HTTP client")?;
        Ok(Server {
            url: format!("{}/graphql", url.trim_end_matches('/')),
            client,
        })
    }

    async fn query(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let answer: Value = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.url))?
            .json()
            .await
            .with_context(|| format!("the server at {} did not answer GraphQL", self.url))?;
        if let Some(errors) = answer.get("errors") {
            anyhow::bail!("the server at {} refused the query: {errors}", self.url);
        }
        Ok(answer["data"].clone())
    }

    /// The position the server's read model shows.
    async fn position(self) -> anyhow::Result<(Server, u64)> {
        let data = self
            .query("{ cityOverview { position } }", json!({}))
            .await?;
        let position = position_of(&data["cityOverview"]["position"])
            .with_context(|| format!("the server at {} shows no position", self.url))?;
        Ok((self, position))
    }

    /// Every place where the server shows something else than the fold, for every budget year
    /// the fold knows.
    async fn compare(&self, fold: &CityState) -> anyhow::Result<Vec<String>> {
        let mut differences = Vec::new();
        let years = fold.budget_years();
        let years: Vec<Option<i32>> = if years.is_empty() {
            vec![None]
        } else {
            years.into_iter().map(Some).collect()
        };
        for (i, year) in years.into_iter().enumerate() {
            let data = self.query(OVERVIEW, json!({ "year": year })).await?;
            let overview = &data["cityOverview"];
            if position_of(&overview["position"]) != Some(fold.position()) {
                anyhow::bail!(
                    "the server moved on from position {} while it was compared (now at {}): \
                     run the check again when it is quiet",
                    fold.position(),
                    overview["position"]
                );
            }
            let shown: BTreeMap<String, &Value> = overview["wijken"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| Some((w["code"].as_str()?.to_owned(), w)))
                .collect();
            let counted: BTreeMap<String, &Value> = data["wijken"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| Some((w["code"].as_str()?.to_owned(), &w["initiativeCounts"])))
                .collect();
            for wijk in fold.wijken() {
                let code = wijk.code.to_string();
                let Some(server) = shown.get(&code) else {
                    differences.push(format!("wijk {code}: not shown by the server"));
                    continue;
                };
                if i == 0 {
                    let counts = fold.wijk_counts(&wijk.code);
                    for status in InitiativeStatus::ALL {
                        let field = status.as_str().to_lowercase();
                        let theirs = counted.get(&code).and_then(|c| c[&field].as_u64());
                        if theirs != Some(counts.get(status)) {
                            differences.push(format!(
                                "wijk {code} count {status}: {} in the log, {} shown by the server",
                                counts.get(status),
                                theirs.map_or("nothing".to_owned(), |n| n.to_string())
                            ));
                        }
                    }
                }
                let Some(year) = year else { continue };
                for theme in Theme::ALL {
                    let line = fold.budget_line(&BudgetLineKey {
                        wijk: wijk.code,
                        year,
                        theme,
                    });
                    let theirs = server["budget"]["lines"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|l| {
                            l["theme"]
                                .as_str()
                                .is_some_and(|t| t.eq_ignore_ascii_case(theme.as_str()))
                        });
                    for (n, name) in FIGURES.iter().enumerate() {
                        let ours = euros(figures(line)[n]);
                        let shown = theirs.and_then(|l| l[*name].as_str());
                        if shown != Some(ours.as_str()) {
                            differences.push(format!(
                                "wijk {code} line {year} {}: {name} is {ours} in the log, {} \
                                 shown by the server",
                                theme.as_str(),
                                shown.unwrap_or("nothing")
                            ));
                        }
                    }
                }
            }
        }
        Ok(differences)
    }
}

/// A `Position` scalar: a number or a string of digits.
fn position_of(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use wijkpuls_domain::demo::demo_year;
    use wijkpuls_domain::{decide, Command, ReferenceData, SealedInitiator};

    /// A demo year decided and folded, with the recount beside it.
    fn demo() -> (CityState, Recount) {
        let mut state = CityState::new();
        let mut recount = Recount::default();
        let mut position = 0;
        let mut record = |state: &mut CityState, command: Command| {
            let decision = decide(state, command).expect("a legal demo step");
            for event in decision.events {
                position += 1;
                let recorded = Recorded {
                    position,
                    recorded_at: Utc::now(),
                    event,
                };
                state.apply(&recorded);
                recount.apply(&recorded);
            }
        };
        record(
            &mut state,
            Command::RegisterReferenceData(ReferenceData::arnhem()),
        );
        let until = "2025-12-31T00:00:00Z".parse().unwrap();
        for step in demo_year(2025, 7, until).unwrap() {
            let command = step.step.into_command(|_, _, _| {
                (
                    SealedInitiator {
                        key_id: "k".into(),
                        ciphertext: "c".into(),
                    },
                    "ab12".into(),
                )
            });
            record(&mut state, command);
        }
        (state, recount)
    }

    #[test]
    fn the_fold_and_the_recount_of_a_demo_year_agree() {
        let (state, recount) = demo();
        assert!(state.initiatives().len() > 100);
        assert_eq!(recount.compare(&state), Vec::<String>::new());
    }

    #[test]
    fn a_line_or_a_status_that_drifted_is_named() {
        let (state, mut recount) = demo();
        let (&key, figures) = recount.lines.iter_mut().next().unwrap();
        figures[1] += 1;
        let (&id, entry) = recount
            .initiatives
            .iter_mut()
            .find(|(_, (_, s))| *s == InitiativeStatus::Submitted)
            .unwrap();
        entry.1 = InitiativeStatus::Rejected;
        let wijk = entry.0;
        let differences = recount.compare(&state);
        let line = format!(
            "wijk {} line {} {}: committed is",
            key.wijk,
            key.year,
            key.theme.as_str()
        );
        assert!(
            differences.iter().any(|d| d.starts_with(&line)),
            "{differences:?}"
        );
        let status =
            format!("initiative {id}: status rejected by the recount, submitted by the fold");
        assert!(differences.contains(&status), "{differences:?}");
        for status in ["submitted", "rejected"] {
            let prefix = format!("wijk {wijk} count {status}:");
            assert!(
                differences.iter().any(|d| d.starts_with(&prefix)),
                "{differences:?}"
            );
        }
        assert_eq!(differences.len(), 4, "{differences:?}");
    }
}
