//! Texts with limits: titles, descriptions, names, contact details, notes and reports.
//!
//! Every text is trimmed and checked once, at the edge, by its `parse`: a length in characters
//! (Unicode scalar values, not bytes) and no control characters, except line breaks in the texts
//! that are meant to span lines (description, note, reason, report), where `\r\n` becomes `\n`.
//! Past `parse` a value is trusted. Deserialising (also events from the log) goes through `parse`
//! too, so an invalid value cannot enter from there either; tightening a limit later therefore
//! needs an upcaster for old events (see [`crate::events`]).
//!
//! A text is immutable and shared (`Arc<str>`): the read models keep the event's texts without
//! copying them, which keeps folding the log fast.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// The rules of one kind of text.
struct Limits {
    field: &'static str,
    min: usize,
    max: usize,
    multi_line: bool,
}

fn clean(text: &str, limits: &Limits) -> Result<String, DomainError> {
    let invalid = |reason: String| DomainError::Invalid {
        field: limits.field,
        reason,
    };
    let trimmed = text.trim();
    let text = if limits.multi_line && trimmed.contains('\r') {
        trimmed.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        trimmed.to_owned()
    };
    if let Some(c) = text
        .chars()
        .find(|&c| c.is_control() && !(limits.multi_line && c == '\n'))
    {
        return Err(invalid(if c == '\n' {
            "must be a single line".to_owned()
        } else {
            format!(
                "must not contain control characters (found U+{:04X})",
                c as u32
            )
        }));
    }
    let length = text.chars().count();
    if length < limits.min {
        return Err(invalid(if limits.min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {} characters", limits.min)
        }));
    }
    if length > limits.max {
        return Err(invalid(format!(
            "must be at most {} characters (this one has {length})",
            limits.max
        )));
    }
    Ok(text)
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident { field: $field:literal, min: $min:literal, max: $max:literal, multi_line: $multi:literal $(, check: $check:path)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The fewest characters allowed.
            pub const MIN_CHARS: usize = $min;
            /// The most characters allowed.
            pub const MAX_CHARS: usize = $max;

            /// Trims and checks `text`; the error names the field and says what is wrong.
            pub fn parse(text: &str) -> Result<$name, DomainError> {
                let text = clean(text, &Limits { field: $field, min: $min, max: $max, multi_line: $multi })?;
                $($check(&text).map_err(|reason| DomainError::Invalid { field: $field, reason })?;)?
                Ok($name(text.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_type!(
    /// The title of an initiative: 3–120 characters on one line.
    Title { field: "title", min: 3, max: 120, multi_line: false }
);
text_type!(
    /// What an initiative is about: up to 5,000 characters, line breaks allowed.
    Description { field: "description", min: 0, max: 5000, multi_line: true }
);
text_type!(
    /// A person's name (personal data): 1–100 characters on one line.
    PersonName { field: "name", min: 1, max: 100, multi_line: false }
);
text_type!(
    /// An e-mail address: at most 254 characters, `local@domain.tld`, checked for a sane shape
    /// (whether it exists is for the mail server to say).
    Email { field: "email", min: 3, max: 254, multi_line: false, check: check_email }
);
text_type!(
    /// A phone number: 6–20 characters of digits, spaces, `-`, `(`, `)` and a leading `+`, with
    /// at least 5 digits (Arnhem's general number `14 026` is valid).
    Phone { field: "phone", min: 6, max: 20, multi_line: false, check: check_phone }
);
text_type!(
    /// A note by staff, e.g. on a connection or a referral: 1–2,000 characters, line breaks
    /// allowed.
    Note { field: "note", min: 1, max: 2000, multi_line: true }
);
text_type!(
    /// A reason for a rejection or a withdrawal, written for the resident: 1–2,000 characters,
    /// line breaks allowed.
    Reason { field: "reason", min: 1, max: 2000, multi_line: true }
);
text_type!(
    /// The report on a completed initiative: up to 5,000 characters, line breaks allowed.
    Report { field: "report", min: 0, max: 5000, multi_line: true }
);
text_type!(
    /// The name of an organisation or person an initiative is connected with: 1–200 characters.
    PartyName { field: "party_name", min: 1, max: 200, multi_line: false }
);
text_type!(
    /// The name of a place (a wijk, a gebied, a municipality): 1–100 characters.
    PlaceName { field: "name", min: 1, max: 100, multi_line: false }
);
text_type!(
    /// The sociaal wijkteam an initiative is referred to, by name: 1–100 characters.
    SociaalWijkteam { field: "sociaal_wijkteam", min: 1, max: 100, multi_line: false }
);

fn check_email(text: &str) -> Result<(), String> {
    let shape = "must look like name@example.nl";
    let (local, domain) = text.rsplit_once('@').ok_or_else(|| shape.to_owned())?;
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(shape.to_owned())
    }
}

fn check_phone(text: &str) -> Result<(), String> {
    let allowed = |(i, c): (usize, char)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
    };
    if !text.chars().enumerate().all(allowed) {
        return Err(
            "may only hold digits, spaces, '-', '(' and ')', and a '+' at the start".to_owned(),
        );
    }
    if text.chars().filter(char::is_ascii_digit).count() < 5 {
        return Err("must have at least 5 digits".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: DomainError) -> &'static str {
        match err {
            DomainError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn title_is_trimmed_and_limited() {
        assert_eq!(Title::parse("  Moestuin  ").unwrap().as_str(), "Moestuin");
        assert_eq!(field_of(Title::parse("ab").unwrap_err()), "title");
        assert!(Title::parse("abc").is_ok());
        assert!(
            Title::parse(&"é".repeat(120)).is_ok(),
            "characters, not bytes"
        );
        assert!(Title::parse(&"a".repeat(121)).is_err());
        assert!(Title::parse("two\nlines").is_err());
        assert!(Title::parse("bell\u{7}").is_err());
    }

    #[test]
    fn multi_line_texts_keep_line_breaks_but_not_other_controls() {
        let d = Description::parse("eerste regel\r\ntweede regel\n").unwrap();
        assert_eq!(d.as_str(), "eerste regel\ntweede regel");
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"x".repeat(5000)).is_ok());
        assert!(Description::parse(&"x".repeat(5001)).is_err());
        assert!(Description::parse("tab\there").is_err());
        assert!(Note::parse("   ").is_err());
        assert!(Note::parse(&"n".repeat(2000)).is_ok());
        assert!(Note::parse(&"n".repeat(2001)).is_err());
        assert_eq!(field_of(Reason::parse("").unwrap_err()), "reason");
        assert!(Report::parse("").is_ok());
        assert!(Report::parse(&"r".repeat(5001)).is_err());
    }

    #[test]
    fn names_have_limits() {
        assert!(PersonName::parse("Fatima el Amrani").is_ok());
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse(&"a".repeat(101)).is_err());
        assert!(PartyName::parse(&"a".repeat(200)).is_ok());
        assert!(PartyName::parse(&"a".repeat(201)).is_err());
        assert!(SociaalWijkteam::parse("Sociaal wijkteam Noord").is_ok());
        assert!(PlaceName::parse("St. Marten/Sonsbeek").is_ok());
    }

    #[test]
    fn email_addresses_have_a_sane_shape() {
        for good in [
            "leefomgeving.w2@arnhem.nl",
            "a@b.nl",
            "jan+wijk@example.com",
            "zoë@voorbeeld.nl",
        ] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "no-at.nl",
            "@arnhem.nl",
            "jan@",
            "jan@arnhem",
            "jan@arnhem.",
            "jan@.nl",
            "jan @arnhem.nl",
            "jan..de@arnhem.nl",
            "jan@arnhem.n1",
            "jan@-arnhem.nl",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long_local = format!("{}@arnhem.nl", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long = format!("a@{}.nl", vec!["b".repeat(60); 5].join("."));
        assert!(Email::parse(&long).is_err(), "over 254 characters");
    }

    #[test]
    fn phone_numbers_have_a_sane_shape() {
        for good in [
            "14 026",
            "026-3775555",
            "+31 26 377 5555",
            "(026) 377 55 55",
        ] {
            assert!(Phone::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "12345",
            "026 377 x",
            "31+26 3775555",
            "1 2 3 4",
            "0612345678901234567890",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deserialising_checks_too() {
        assert!(serde_json::from_str::<Title>("\"ok title\"").is_ok());
        assert!(serde_json::from_str::<Title>("\"x\"").is_err());
    }
}
