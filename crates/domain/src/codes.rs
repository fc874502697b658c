//! The codes that name places: CBS wijk codes, gebied codes and CBS municipality codes.
//!
//! A code is checked for its shape when parsed. Whether a wijk or gebied actually exists is a
//! question for the registry in the state (a command naming an unknown one fails with
//! [`DomainError::NotFound`]). The codes are small `Copy` values so the read models can key on
//! them without allocating.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// A CBS wijk code: `WK` followed by 6 digits (4 for the municipality, 2 for the wijk), e.g.
/// `WK020207` (Klarendal, Arnhem).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WijkCode([u8; 8]);

impl WijkCode {
    pub fn parse(text: &str) -> Result<WijkCode, DomainError> {
        let text = text.trim();
        let bytes = text.as_bytes();
        let valid = bytes.len() == 8
            && bytes[..2].eq_ignore_ascii_case(b"WK")
            && bytes[2..].iter().all(u8::is_ascii_digit);
        if !valid {
            return Err(DomainError::Invalid {
                field: "wijk_code",
                reason: format!(
                    "{:?} is not a CBS wijk code (WK followed by 6 digits, e.g. WK020207)",
                    shorten(text)
                ),
            });
        }
        let mut code = [0; 8];
        code.copy_from_slice(bytes);
        code[..2].copy_from_slice(b"WK");
        Ok(WijkCode(code))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("WK??????")
    }

    /// The 4 digits of the CBS municipality this wijk belongs to: `"0202"` for Arnhem.
    pub fn municipality_digits(&self) -> &str {
        &self.as_str()[2..6]
    }
}

/// The code of a gebied (a cluster of wijken with one wijkprogramma): `W` followed by a number
/// 1–999 without leading zeros, e.g. `W2`. Ordered by number, so `W2` comes before `W10`.
#[derive(Debug, Clone, Copy)]
pub struct GebiedCode {
    number: u16,
    text: [u8; 4],
    len: u8,
}

impl GebiedCode {
    pub fn parse(text: &str) -> Result<GebiedCode, DomainError> {
        let text = text.trim();
        let bytes = text.as_bytes();
        let digits = bytes.get(1..).unwrap_or_default();
        let valid = (2..=4).contains(&bytes.len())
            && bytes[0].eq_ignore_ascii_case(&b'W')
            && digits.iter().all(u8::is_ascii_digit)
            && digits[0] != b'0';
        if !valid {
            return Err(DomainError::Invalid {
                field: "gebied_code",
                reason: format!(
                    "{:?} is not a gebied code (W followed by a number 1-999, e.g. W2)",
                    shorten(text)
                ),
            });
        }
        let number = digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        let mut code = [0; 4];
        code[..bytes.len()].copy_from_slice(bytes);
        code[0] = b'W';
        Ok(GebiedCode {
            number,
            text: code,
            len: bytes.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or("W?")
    }

    /// The number after the `W`.
    pub fn number(&self) -> u16 {
        self.number
    }
}

// The text is a function of the number, so comparing and hashing the number is enough.
impl PartialEq for GebiedCode {
    fn eq(&self, other: &Self) -> bool {
        self.number == other.number
    }
}
impl Eq for GebiedCode {}
impl PartialOrd for GebiedCode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for GebiedCode {
    fn cmp(&self, other: &Self) -> Ordering {
        self.number.cmp(&other.number)
    }
}
impl Hash for GebiedCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.number.hash(state);
    }
}

/// A CBS municipality code: `GM` followed by 4 digits, e.g. `GM0202` (Arnhem).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MunicipalityCode([u8; 6]);

impl MunicipalityCode {
    pub fn parse(text: &str) -> Result<MunicipalityCode, DomainError> {
        let text = text.trim();
        let bytes = text.as_bytes();
        let valid = bytes.len() == 6
            && bytes[..2].eq_ignore_ascii_case(b"GM")
            && bytes[2..].iter().all(u8::is_ascii_digit);
        if !valid {
            return Err(DomainError::Invalid {
                field: "municipality_code",
                reason: format!(
                    "{:?} is not a CBS municipality code (GM followed by 4 digits, e.g. GM0202)",
                    shorten(text)
                ),
            });
        }
        let mut code = [0; 6];
        code.copy_from_slice(bytes);
        code[..2].copy_from_slice(b"GM");
        Ok(MunicipalityCode(code))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("GM????")
    }

    /// The 4 digits: `"0202"`.
    pub fn digits(&self) -> &str {
        &self.as_str()[2..]
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

macro_rules! code_traits {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

code_traits!(WijkCode, GebiedCode, MunicipalityCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wijk_codes_are_wk_and_six_digits() {
        let code = WijkCode::parse("WK020207").unwrap();
        assert_eq!(code.as_str(), "WK020207");
        assert_eq!(code.municipality_digits(), "0202");
        assert_eq!(WijkCode::parse("wk020207").unwrap(), code);
        for bad in [
            "",
            "WK02027",
            "WK0202071",
            "WKO20207",
            "BU020207",
            "WK02020x",
            "WK0202 7",
        ] {
            assert!(WijkCode::parse(bad).is_err(), "{bad:?}");
        }
        assert!(WijkCode::parse("WK020201").unwrap() < code);
    }

    #[test]
    fn gebied_codes_are_w_and_a_number() {
        let w2 = GebiedCode::parse("W2").unwrap();
        assert_eq!(w2.as_str(), "W2");
        assert_eq!(w2.number(), 2);
        let w10 = GebiedCode::parse("w10").unwrap();
        assert_eq!(w10.as_str(), "W10");
        assert!(w2 < w10);
        assert_eq!(GebiedCode::parse("W999").unwrap().number(), 999);
        for bad in ["", "W", "W0", "W02", "W1000", "X2", "W2a", "2", "W-1"] {
            assert!(GebiedCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn municipality_codes_are_gm_and_four_digits() {
        assert_eq!(MunicipalityCode::parse("GM0202").unwrap().digits(), "0202");
        assert!(MunicipalityCode::parse("GM202").is_err());
    }

    #[test]
    fn codes_serialise_as_strings() {
        let code = WijkCode::parse("WK020207").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"WK020207\"");
        assert_eq!(
            serde_json::from_str::<GebiedCode>("\"W8\"").unwrap(),
            GebiedCode::parse("W8").unwrap()
        );
        assert!(serde_json::from_str::<WijkCode>("\"WK1\"").is_err());
    }
}
