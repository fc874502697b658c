//! The themes a wijk budget is spent on.
//!
//! The list is Arnhem's own (see the glossary of docs/domain.md): every budget line and every
//! initiative has exactly one theme. The Dutch words are the domain's language and are kept as
//! they are in code, data and the API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Groen,
    Wijkonderhoud,
    Speeltuinen,
    Veiligheid,
    Welzijn,
    Participatie,
    Sport,
    Cultuur,
}

impl Theme {
    /// Every theme, in the order of docs/domain.md (and of [`Theme::index`]).
    pub const ALL: [Theme; 8] = [
        Theme::Groen,
        Theme::Wijkonderhoud,
        Theme::Speeltuinen,
        Theme::Veiligheid,
        Theme::Welzijn,
        Theme::Participatie,
        Theme::Sport,
        Theme::Cultuur,
    ];

    /// The lowercase Dutch word: `"groen"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Groen => "groen",
            Theme::Wijkonderhoud => "wijkonderhoud",
            Theme::Speeltuinen => "speeltuinen",
            Theme::Veiligheid => "veiligheid",
            Theme::Welzijn => "welzijn",
            Theme::Participatie => "participatie",
            Theme::Sport => "sport",
            Theme::Cultuur => "cultuur",
        }
    }

    /// The Dutch label for people: `"Groen"`.
    pub fn label_nl(self) -> &'static str {
        match self {
            Theme::Groen => "Groen",
            Theme::Wijkonderhoud => "Wijkonderhoud",
            Theme::Speeltuinen => "Speeltuinen",
            Theme::Veiligheid => "Veiligheid",
            Theme::Welzijn => "Welzijn",
            Theme::Participatie => "Participatie",
            Theme::Sport => "Sport",
            Theme::Cultuur => "Cultuur",
        }
    }

    /// The position in [`Theme::ALL`], for per-theme arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Theme {
    type Err = DomainError;

    /// Case-insensitive: `"groen"`, `"Groen"` and `"GROEN"` (the GraphQL enum) all parse.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Theme::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DomainError::Invalid {
                field: "theme",
                reason: format!(
                    "{:?} is not a theme; the themes are {}",
                    s.chars().take(40).collect::<String>(),
                    Theme::ALL.map(Theme::as_str).join(", ")
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_every_case() {
        for (i, theme) in Theme::ALL.into_iter().enumerate() {
            assert_eq!(theme.index(), i);
            assert_eq!(theme.as_str().parse::<Theme>().unwrap(), theme);
            assert_eq!(
                theme.as_str().to_uppercase().parse::<Theme>().unwrap(),
                theme
            );
            assert_eq!(theme.label_nl().parse::<Theme>().unwrap(), theme);
            let json = serde_json::to_string(&theme).unwrap();
            assert_eq!(json, format!("\"{}\"", theme.as_str()));
            assert_eq!(serde_json::from_str::<Theme>(&json).unwrap(), theme);
        }
        assert!("kunst".parse::<Theme>().is_err());
    }
}
