//! Upcasting: a stored payload of an older schema version, rewritten step by step into the
//! current shape before it is deserialised (see [the module docs](super)).

use serde_json::Value;

use super::DomainEvent;

/// The payload of `event_type` written at `version`, in the shape of
/// [`DomainEvent::SCHEMA_VERSION`]. An error says why it cannot be read.
pub(super) fn to_current(event_type: &str, version: u32, payload: Value) -> Result<Value, String> {
    if !(1..=DomainEvent::SCHEMA_VERSION).contains(&version) {
        return Err(format!(
            "this version reads schema versions 1 to {}",
            DomainEvent::SCHEMA_VERSION
        ));
    }
    (version..DomainEvent::SCHEMA_VERSION)
        .try_fold(payload, |payload, from| step(event_type, from, payload))
}

/// One version up: `payload` of `event_type` at version `from` → version `from + 1`. Only the
/// types whose shape changed in that version are rewritten.
fn step(event_type: &str, from: u32, payload: Value) -> Result<Value, String> {
    match (from, event_type) {
        // Version 2: the allocation is named as on the budget line; "amount" read as an
        // increment, but the event sets the line's allocation.
        (1, "BudgetAllocated") => rename(payload, "amount", "allocated"),
        _ => Ok(payload),
    }
}

/// The object with field `from` named `to`.
fn rename(mut payload: Value, from: &str, to: &str) -> Result<Value, String> {
    let object = payload
        .as_object_mut()
        .ok_or_else(|| "the payload is not a JSON object".to_owned())?;
    let value = object
        .remove(from)
        .ok_or_else(|| format!("missing field `{from}`"))?;
    object.insert(to.to_owned(), value);
    Ok(payload)
}
