//! `wijkpuls import [FILE]`: an export into an empty store, all or nothing.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use wijkpuls_event_store::transfer::{Counts, EmptyStoreWriter, RawEvent};

use super::{into_target, progress, redact, Erased, ImportArgs, Line, FORMAT, PAGE, VERSION};

/// Runs `wijkpuls import`. The file is checked before any database is touched (it must be
/// readable); then every line is read, checked and written in one transaction, which commits
/// only when the trailer's counts match what was read.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let (input, len): (Box<dyn BufRead>, Option<u64>) = if args.file == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(std::io::BufReader::new(file)), len)
    };
    let name = if args.file == Path::new("-") {
        "stdin".to_owned()
    } else {
        args.file.display().to_string()
    };
    let target = redact(&args.database_url);
    let written = into_target(&args.database_url, async {
        let writer = EmptyStoreWriter::begin(&args.database_url)
            .await
            .with_context(|| format!("cannot import into {target}"))?;
        read_into(input, len, writer)
            .await
            .with_context(|| format!("{name}: nothing was imported"))
    })
    .await?;
    eprintln!(
        "imported {} events, {} idempotency keys, {} subject keys and {} settings into {target}",
        written.events, written.idempotency_keys, written.subject_keys, written.settings
    );
    Ok(())
}

/// Only the kind of a line, to know how to read the rest.
#[derive(Deserialize)]
struct Kind {
    kind: String,
}

async fn read_into(
    input: Box<dyn BufRead>,
    len: Option<u64>,
    mut writer: EmptyStoreWriter,
) -> anyhow::Result<Counts> {
    let bar = progress(len, "import");
    let mut erased = Erased::default();
    let lines = input.split(b'\n');
    let mut number = 0u64;
    let mut end = None;
    let mut queued = 0;
    for line in lines {
        number += 1;
        let line = line.with_context(|| format!("line {number}: cannot read"))?;
        bar.inc(line.len() as u64 + 1);
        let at = |e: &dyn std::fmt::Display| anyhow::anyhow!("line {number}: {e}");
        if end.is_some() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Err(at(&"there is more after the last line (\"kind\":\"end\")"));
        }
        let text = std::str::from_utf8(&line).map_err(|e| at(&e))?;
        let kind = serde_json::from_str::<Kind>(text)
            .map_err(|e| at(&format!("not a line of a wijkpuls export: {e}")))?
            .kind;
        if number == 1 {
            match serde_json::from_str::<Line>(text) {
                Ok(Line::Header { format, version }) if format == FORMAT && version == VERSION => {
                    continue
                }
                Ok(Line::Header { format, version }) if format == FORMAT => {
                    return Err(at(&format!(
                        "an export of version {version}; this wijkpuls reads version {VERSION}"
                    )))
                }
                _ => return Err(at(&"not a wijkpuls export (no header line)")),
            }
        }
        if kind == "event" {
            let event: RawEvent = serde_json::from_str(text).map_err(|e| at(&e))?;
            erased.note(&event);
            writer.push(event).map_err(|e| at(&e))?;
            queued += 1;
            if queued == PAGE {
                writer.flush().await?;
                queued = 0;
            }
            continue;
        }
        match serde_json::from_str::<Line>(text).map_err(|e| at(&e))? {
            Line::Header { .. } => return Err(at(&"a second header line")),
            Line::IdempotencyKey(key) => writer
                .write_idempotency_keys(&[key])
                .await
                .map_err(|e| at(&e))?,
            Line::SubjectKey(key) => writer
                .write_subject_keys(&erased.keep(vec![key]))
                .await
                .map_err(|e| at(&e))?,
            Line::Setting(setting) => writer
                .write_settings(&[setting])
                .await
                .map_err(|e| at(&e))?,
            Line::End(counts) => end = Some((number, counts)),
        }
    }
    if number == 0 {
        anyhow::bail!("the file is empty");
    }
    let Some((line, expected)) = end else {
        anyhow::bail!(
            "the file ends at line {number} without its last line (\"kind\":\"end\"): is it cut off?"
        );
    };
    writer.flush().await?;
    let read = writer.written();
    // Keys of erased data subjects are left out, so the file may name more of them.
    if read.events != expected.events
        || read.idempotency_keys != expected.idempotency_keys
        || read.settings != expected.settings
        || read.subject_keys > expected.subject_keys
    {
        anyhow::bail!(
            "line {line}: the last line counts {} events, {} idempotency keys, {} subject keys \
             and {} settings, but the file holds {}, {}, {} and {}",
            expected.events,
            expected.idempotency_keys,
            expected.subject_keys,
            expected.settings,
            read.events,
            read.idempotency_keys,
            read.subject_keys,
            read.settings
        );
    }
    let written = writer.commit().await?;
    bar.finish_and_clear();
    Ok(written)
}
