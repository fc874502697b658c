//! `wijkpuls export`: the whole store as NDJSON (to a file or stdout), or with `--open-data`
//! the public CSV files.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use super::{open_data, progress, EventLine, ExportArgs, Line, Source, FORMAT, VERSION};

/// Runs `wijkpuls export`.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut source = Source::open(&args.database_url).await?;
    if let Some(dir) = &args.open_data {
        return open_data::write(&mut source, dir).await;
    }
    if args.file == Path::new("-") {
        let stdout = std::io::stdout().lock();
        let mut out = std::io::BufWriter::new(stdout);
        write_ndjson(&mut source, &mut out).await?;
        out.flush().context("cannot write to stdout")?;
        return Ok(());
    }
    // Into a temporary file beside the target, renamed when complete: a failed export leaves
    // no file that looks like one.
    let dir = match args.file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temporary = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(temporary);
    write_ndjson(&mut source, &mut out).await?;
    let temporary = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    temporary
        .as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    temporary
        .persist(&args.file)
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    eprintln!("exported to {}", args.file.display());
    Ok(())
}

/// Header, events in position order, idempotency keys, subject keys, settings, trailer.
async fn write_ndjson(source: &mut Source, out: &mut impl Write) -> anyhow::Result<()> {
    let counts = source.counts();
    let bar = progress(Some(counts.events), "export");
    let mut line = |value: &dyn erased::Line| -> anyhow::Result<()> {
        value.write(out)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(&Line::Header {
        format: FORMAT.into(),
        version: VERSION,
    })?;
    let mut written = wijkpuls_event_store::transfer::Counts::default();
    loop {
        let page = source.next_events().await?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            line(&EventLine {
                kind: "event",
                event,
            })?;
        }
        written.events += page.len() as u64;
        bar.inc(page.len() as u64);
    }
    let keys = source.idempotency_keys().await?;
    written.idempotency_keys = keys.len() as u64;
    for key in keys {
        line(&Line::IdempotencyKey(key))?;
    }
    let keys = source.subject_keys().await?;
    written.subject_keys = keys.len() as u64;
    for key in keys {
        line(&Line::SubjectKey(key))?;
    }
    let settings = source.settings().await?;
    written.settings = settings.len() as u64;
    for setting in settings {
        line(&Line::Setting(setting))?;
    }
    line(&Line::End(written))?;
    bar.finish_and_clear();
    Ok(())
}

/// Serialising either kind of line through one closure.
mod erased {
    pub trait Line {
        fn write(&self, out: &mut dyn std::io::Write) -> anyhow::Result<()>;
    }

    impl<T: serde::Serialize> Line for T {
        fn write(&self, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
            serde_json::to_writer(out, self).map_err(|e| anyhow::anyhow!("cannot write: {e}"))
        }
    }
}
