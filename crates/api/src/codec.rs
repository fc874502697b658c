//! Between the domain's events and the store's records: the one place that knows how a
//! [`DomainEvent`] is written to and read from the log.

use wijkpuls_domain::{DomainError, DomainEvent, Recorded};
use wijkpuls_event_store::{NewEvent, RecordedEvent, StoreError, StreamId};

pub fn to_new_event(event: &DomainEvent) -> Result<NewEvent, StoreError> {
    Ok(NewEvent {
        stream_id: StreamId::parse(event.stream_id())?,
        event_type: event.event_type().to_owned(),
        schema_version: DomainEvent::SCHEMA_VERSION,
        tags: event.tags(),
        payload: event.to_payload(),
    })
}

/// The event with its position and the time it is about ([`RecordedEvent::occurred_at`]: when
/// it was recorded, unless trusted server code back-dated it), which every projection shows.
pub fn to_recorded(record: &RecordedEvent) -> Result<Recorded, DomainError> {
    Ok(Recorded {
        position: record.position.0,
        recorded_at: record.occurred_at(),
        event: DomainEvent::from_payload_ref(
            &record.event_type,
            record.schema_version,
            &record.payload,
        )?,
    })
}
