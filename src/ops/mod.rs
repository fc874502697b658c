//! Operator commands that look at the event log itself (see docs/operations.md).

pub mod verify;
