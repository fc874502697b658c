//! Reference data: the municipality's wijken, grouped in gebieden, with each gebied's team
//! Leefomgeving.
//!
//! The list is data, not code. Arnhem's ships in `data/wijken-arnhem.json` with its provenance
//! ([`ReferenceData::arnhem`]); an operator can load another municipality's list from a file in
//! the same format ([`ReferenceData::parse`] takes its text: reading the file is the caller's
//! job). Either way it enters the log once, as events, through
//! [`Command::RegisterReferenceData`](crate::commands::Command::RegisterReferenceData), so
//! history and time travel include it.
//!
//! # The format (`wijkpuls-wijken/1`)
//!
//! A JSON object; unknown fields are refused so a typo is not silently ignored:
//!
//! ```json
//! {
//!   "format": "wijkpuls-wijken/1",
//!   "municipality": { "code": "GM0202", "name": "Arnhem" },
//!   "provenance": "Where the codes and the grouping come from, and how sure we are.",
//!   "gebieden": [
//!     {
//!       "code": "W2",
//!       "name": "Noordwest",
//!       "team": { "email": "leefomgeving.w2@arnhem.nl", "phone": "14 026" },
//!       "wijken": [ { "code": "WK020207", "name": "Klarendal" } ]
//!     }
//!   ]
//! }
//! ```
//!
//! - `municipality.code`: the CBS municipality code, `GM` + 4 digits.
//! - `provenance`: 1–5,000 characters, recorded in the log with the list.
//! - `gebieden`: at least one; `code` is `W` + a number 1–999, unique; `name` 1–100 characters;
//!   `team` the team Leefomgeving's public e-mail address and phone number.
//! - `wijken`: at least one per gebied, every wijk in exactly one gebied; `code` is the CBS wijk
//!   code (`WK` + 6 digits, whose first 4 are the municipality's), unique; `name` 1–100
//!   characters.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::codes::{GebiedCode, MunicipalityCode, WijkCode};
use crate::error::DomainError;
use crate::text::{Email, Phone, PlaceName};

/// The format tag this version reads and writes.
pub const FORMAT: &str = "wijkpuls-wijken/1";

/// The most characters a provenance may have.
pub const MAX_PROVENANCE_CHARS: usize = 5000;

const ARNHEM: &str = include_str!("../data/wijken-arnhem.json");

/// A municipality's wijken and gebieden, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferenceData {
    pub format: String,
    pub municipality: Municipality,
    pub provenance: String,
    pub gebieden: Vec<GebiedData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Municipality {
    pub code: MunicipalityCode,
    pub name: PlaceName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GebiedData {
    pub code: GebiedCode,
    pub name: PlaceName,
    pub team: TeamContact,
    pub wijken: Vec<WijkData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WijkData {
    pub code: WijkCode,
    pub name: PlaceName,
}

/// The public contact details of a gebied's team Leefomgeving ("Mijn wijk").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamContact {
    pub email: Email,
    pub phone: Phone,
}

// The file as written, before any check, so each problem can be reported with its place.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: String,
    municipality: RawMunicipality,
    provenance: String,
    gebieden: Vec<RawGebied>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMunicipality {
    code: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGebied {
    code: String,
    name: String,
    team: RawTeam,
    wijken: Vec<RawWijk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    email: String,
    phone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWijk {
    code: String,
    name: String,
}

fn at(place: &str) -> impl Fn(DomainError) -> DomainError + '_ {
    move |err| DomainError::InvalidReferenceData {
        reason: format!("{place}: {err}"),
    }
}

fn problem(reason: String) -> DomainError {
    DomainError::InvalidReferenceData { reason }
}

impl ReferenceData {
    /// Arnhem's 24 wijken in 8 gebieden, as shipped in `data/wijken-arnhem.json`.
    pub fn arnhem() -> ReferenceData {
        // The shipped file is checked by this crate's tests, so this cannot fail at run time.
        ReferenceData::parse(ARNHEM).expect("the shipped Arnhem wijken file is valid")
    }

    /// The text of the shipped Arnhem file, for operators who want a template.
    pub fn arnhem_file() -> &'static str {
        ARNHEM
    }

    /// Reads and checks a wijken file's text (see the module docs for the format). The error
    /// says where in the file the problem is.
    pub fn parse(text: &str) -> Result<ReferenceData, DomainError> {
        let raw: RawFile = serde_json::from_str(text)
            .map_err(|err| problem(format!("not a wijken file in the expected form: {err}")))?;
        if raw.format != FORMAT {
            return Err(problem(format!(
                "\"format\" is {:?}; this version reads {FORMAT:?}",
                raw.format
            )));
        }
        let municipality = Municipality {
            code: MunicipalityCode::parse(&raw.municipality.code).map_err(at("municipality"))?,
            name: PlaceName::parse(&raw.municipality.name).map_err(at("municipality"))?,
        };
        let provenance = raw.provenance.trim().to_owned();
        if provenance.is_empty() || provenance.chars().count() > MAX_PROVENANCE_CHARS {
            return Err(problem(format!(
                "\"provenance\" must say where the list comes from, in 1-{MAX_PROVENANCE_CHARS} characters"
            )));
        }
        if raw.gebieden.is_empty() {
            return Err(problem(
                "\"gebieden\" is empty: list at least one gebied".to_owned(),
            ));
        }

        let mut gebied_codes = BTreeSet::new();
        let mut wijk_codes = BTreeSet::new();
        let mut gebieden = Vec::with_capacity(raw.gebieden.len());
        for (g, raw_gebied) in raw.gebieden.into_iter().enumerate() {
            let place = format!("gebied {} ({:?})", g + 1, raw_gebied.code);
            let code = GebiedCode::parse(&raw_gebied.code).map_err(at(&place))?;
            if !gebied_codes.insert(code) {
                return Err(problem(format!("{place}: gebied {code} is listed twice")));
            }
            let name = PlaceName::parse(&raw_gebied.name).map_err(at(&place))?;
            let team = TeamContact {
                email: Email::parse(&raw_gebied.team.email).map_err(at(&place))?,
                phone: Phone::parse(&raw_gebied.team.phone).map_err(at(&place))?,
            };
            if raw_gebied.wijken.is_empty() {
                return Err(problem(format!("{place}: has no wijken")));
            }
            let mut wijken = Vec::with_capacity(raw_gebied.wijken.len());
            for (w, raw_wijk) in raw_gebied.wijken.into_iter().enumerate() {
                let place = format!("{place}, wijk {} ({:?})", w + 1, raw_wijk.code);
                let code = WijkCode::parse(&raw_wijk.code).map_err(at(&place))?;
                if code.municipality_digits() != municipality.code.digits() {
                    return Err(problem(format!(
                        "{place}: wijk {code} is not in municipality {} (its code should start with WK{})",
                        municipality.code,
                        municipality.code.digits()
                    )));
                }
                if !wijk_codes.insert(code) {
                    return Err(problem(format!(
                        "{place}: wijk {code} is listed twice (a wijk belongs to exactly one gebied)"
                    )));
                }
                let name = PlaceName::parse(&raw_wijk.name).map_err(at(&place))?;
                wijken.push(WijkData { code, name });
            }
            gebieden.push(GebiedData {
                code,
                name,
                team,
                wijken,
            });
        }
        Ok(ReferenceData {
            format: raw.format,
            municipality,
            provenance,
            gebieden,
        })
    }

    /// Every wijk with the code of its gebied, in file order.
    pub fn wijken(&self) -> impl Iterator<Item = (&WijkData, GebiedCode)> {
        self.gebieden
            .iter()
            .flat_map(|g| g.wijken.iter().map(move |w| (w, g.code)))
    }
}
