//! The upcasting hook: events are never rewritten in the log, so a reader that expects a newer
//! schema version transforms old ones as they are read.

use crate::types::RecordedEvent;

/// Turns an event of an old schema version into the current shape. Called for every event
/// read; return it unchanged when it is current. An `Err` marks the event unreadable.
pub trait Upcaster: Send + Sync + 'static {
    fn upcast(&self, event: RecordedEvent) -> Result<RecordedEvent, String>;
}

impl<F> Upcaster for F
where
    F: Fn(RecordedEvent) -> Result<RecordedEvent, String> + Send + Sync + 'static,
{
    fn upcast(&self, event: RecordedEvent) -> Result<RecordedEvent, String> {
        self(event)
    }
}
