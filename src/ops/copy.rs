//! `wijkpuls copy --from URL --to URL`: the whole store into an empty one, verified.

use anyhow::Context as _;
use wijkpuls_event_store::transfer::EmptyStoreWriter;

use super::{into_target, progress, redact, CopyArgs, Source};

/// Runs `wijkpuls copy`: reads the source from one snapshot, writes the target in one
/// transaction (every event read back and compared with the source's before it commits), and
/// finally compares the committed target's counts with what was copied.
pub async fn run(args: CopyArgs) -> anyhow::Result<()> {
    let mut source = Source::open(&args.from).await?;
    let to = redact(&args.to);
    let written = into_target(&args.to, async {
        let mut target = EmptyStoreWriter::begin(&args.to)
            .await
            .with_context(|| format!("cannot copy into {to}"))?;
        let bar = progress(Some(source.counts().events), "copy");
        loop {
            let page = source.next_events().await?;
            if page.is_empty() {
                break;
            }
            let n = page.len() as u64;
            for event in page {
                target.push(event)?;
            }
            target.flush().await?;
            bar.inc(n);
        }
        bar.finish_and_clear();
        target
            .write_idempotency_keys(&source.idempotency_keys().await?)
            .await?;
        target
            .write_subject_keys(&source.subject_keys().await?)
            .await?;
        target.write_settings(&source.settings().await?).await?;
        Ok(target.commit().await?)
    })
    .await?;
    let copied = wijkpuls_event_store::transfer::SnapshotReader::open(&args.to)
        .await?
        .counts();
    if copied.events != source.counts().events || copied != written {
        anyhow::bail!(
            "the copy in {to} holds {} events, the source {}: check the target before using it",
            copied.events,
            source.counts().events
        );
    }
    eprintln!(
        "copied {} events, {} idempotency keys, {} subject keys and {} settings into {to}",
        written.events, written.idempotency_keys, written.subject_keys, written.settings
    );
    Ok(())
}
