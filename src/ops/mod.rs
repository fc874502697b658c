//! Operating wijkpuls on its data: `copy` (one store into another, e.g. SQLite to
//! PostgreSQL), `export` (the log as NDJSON, or `--open-data` CSV files) and `import` (an
//! export into an empty store), `verify` (the log's hash chain), `rebuild --check` (the read
//! models refolded and compared) and `generate` (a realistic log into an empty store). The
//! rows move through the event store's [`transfer`](wijkpuls_event_store::transfer) module;
//! what is here knows the file format, the progress bars, and which subject keys must stay
//! behind because their data was erased.

pub mod copy;
pub mod export;
pub mod generate;
pub mod import;
mod open_data;
pub mod rebuild;
pub mod verify;

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use wijkpuls_domain::DomainEvent;
use wijkpuls_event_store::transfer::{
    Counts, IdempotencyKey, RawEvent, Setting, SnapshotReader, SubjectKey,
};
use wijkpuls_event_store::{Position, RecordedEvent, Vault};

/// `wijkpuls copy`.
#[derive(Args)]
pub struct CopyArgs {
    /// The store to copy: `sqlite://PATH` (must exist) or `postgres://...`.
    #[arg(long, env = "WIJKPULS_COPY_FROM")]
    pub from: String,
    /// An empty store to copy into (an SQLite file is created if missing; a PostgreSQL
    /// database must exist).
    #[arg(long, env = "WIJKPULS_COPY_TO")]
    pub to: String,
}

/// `wijkpuls export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The store to export: `sqlite://PATH` (must exist) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://wijkpuls.db")]
    pub database_url: String,
    /// Where to write the NDJSON export; `-` (the default) is stdout.
    #[arg(default_value = "-", conflicts_with = "open_data")]
    pub file: PathBuf,
    /// Instead of the log: write initiatives.csv and budget_lines.csv (no personal data) into
    /// this directory, for the open-data portal.
    #[arg(long, value_name = "DIR")]
    pub open_data: Option<PathBuf>,
}

/// `wijkpuls import`.
#[derive(Args)]
pub struct ImportArgs {
    /// An empty store to import into (an SQLite file is created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://wijkpuls.db")]
    pub database_url: String,
    /// The NDJSON export to read; `-` (the default) is stdin.
    #[arg(default_value = "-")]
    pub file: PathBuf,
}

/// Events read and written per round trip.
const PAGE: usize = 1000;

/// The first line of an export file.
const FORMAT: &str = "wijkpuls-export";
const VERSION: u32 = 1;

/// A line of an export file that is not an event (those are [`RawEvent`]s with
/// `"kind":"event"`). The first line is a header, the last a trailer with the counts, so a file
/// cut short is refused rather than imported in part.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header { format: String, version: u32 },
    IdempotencyKey(IdempotencyKey),
    SubjectKey(SubjectKey),
    Setting(Setting),
    End(Counts),
}

/// An event line: the event's columns after `"kind":"event"`.
#[derive(Serialize)]
struct EventLine<'a> {
    kind: &'static str,
    #[serde(flatten)]
    event: &'a RawEvent,
}

/// A bar on stderr counting `len` things (a spinner when unknown), or nothing when stderr is
/// not a terminal.
fn progress(len: Option<u64>, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{msg:8} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{msg:8} {spinner} {human_pos} {per_sec}")
                .expect("a valid template"),
        ),
    };
    bar.with_message(what)
}

/// The key id whose data `event` erases, if it erases one.
fn erased_key(event: &RawEvent) -> Option<String> {
    let recorded = RecordedEvent::try_from(event).ok()?;
    match DomainEvent::from_payload(
        &recorded.event_type,
        recorded.schema_version,
        recorded.payload,
    ) {
        Ok(DomainEvent::InitiatorDataErased(erased)) => {
            Some(wijkpuls_api::personal::key_id(&erased.id))
        }
        _ => None,
    }
}

/// The key ids of the data subjects whose data the log says was erased. A key that survived
/// its erasure (the event is recorded before the key is destroyed) must never be carried on.
#[derive(Default)]
struct Erased(BTreeSet<String>);

impl Erased {
    fn note(&mut self, event: &RawEvent) {
        if let Some(key) = erased_key(event) {
            self.0.insert(key);
        }
    }

    fn keep(&self, keys: Vec<SubjectKey>) -> Vec<SubjectKey> {
        keys.into_iter()
            .filter(|k| !self.0.contains(&k.id))
            .collect()
    }
}

/// A store read from one snapshot, page by page, for `copy` and `export`.
struct Source {
    url: String,
    reader: SnapshotReader,
    after: Position,
    erased: Erased,
}

impl Source {
    async fn open(url: &str) -> anyhow::Result<Source> {
        let reader = SnapshotReader::open(url)
            .await
            .with_context(|| format!("cannot read the store at {}", redact(url)))?;
        Ok(Source {
            url: url.to_owned(),
            reader,
            after: Position::START,
            erased: Erased::default(),
        })
    }

    fn counts(&self) -> Counts {
        self.reader.counts()
    }

    /// The next page of events; empty at the end.
    async fn next_events(&mut self) -> anyhow::Result<Vec<RawEvent>> {
        let page = self.reader.events_after(self.after, PAGE).await?;
        if let Some(last) = page.last() {
            self.after = Position(last.position);
        }
        page.iter().for_each(|e| self.erased.note(e));
        Ok(page)
    }

    async fn idempotency_keys(&mut self) -> anyhow::Result<Vec<IdempotencyKey>> {
        Ok(self.reader.idempotency_keys().await?)
    }

    /// The subject keys of the snapshot, less those the log erased and those destroyed in the
    /// source since the snapshot was taken (an erasure while the copy ran).
    async fn subject_keys(&mut self) -> anyhow::Result<Vec<SubjectKey>> {
        let keys = self.erased.keep(self.reader.subject_keys().await?);
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        let vault = Vault::open(&self.url).await?;
        let still_there = vault.keys(&ids).await?;
        Ok(keys
            .into_iter()
            .filter(|k| still_there.contains_key(&k.id))
            .collect())
    }

    async fn settings(&mut self) -> anyhow::Result<Vec<Setting>> {
        Ok(self.reader.settings().await?)
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// An SQLite file a command is about to create: removed again (with its `-wal` and `-shm`)
/// if the command fails, so a refused import leaves nothing behind.
struct NewSqliteFile(Option<PathBuf>);

impl NewSqliteFile {
    fn note(url: &str) -> NewSqliteFile {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .map(|rest| PathBuf::from(rest.split('?').next().unwrap_or(rest)));
        NewSqliteFile(path.filter(|p| !p.exists()))
    }

    fn remove(&self) {
        if let Some(path) = &self.0 {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// Runs `work` against the target at `url`; when it fails, a database file it created is
/// removed.
async fn into_target<T>(
    url: &str,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let created = NewSqliteFile::note(url);
    let result = work.await;
    if result.is_err() {
        created.remove();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_a_message() {
        assert_eq!(
            redact("postgres://user:secret@db:5432/wijkpuls"),
            "postgres://user:***@db:5432/wijkpuls"
        );
        assert_eq!(
            redact("postgres://user@db/wijkpuls"),
            "postgres://user@db/wijkpuls"
        );
        assert_eq!(redact("sqlite://a@b.db"), "sqlite://a@b.db");
    }
}
