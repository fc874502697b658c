//! Money: an exact amount of euros, held as integer cents.
//!
//! Budgets and initiatives are about public money, so amounts are never floating point. A
//! [`Money`] is always between zero and [`Money::MAX`]: a negative amount or one beyond any
//! municipal budget cannot exist past the edge. Amounts travel as decimal strings with exactly two
//! decimals (`"1250.00"`), the way people and the GraphQL `Money` scalar write them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// An amount of euros in whole cents, `0 ..= Money::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why a text or a number of cents is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("an amount must not be empty")]
    Empty,
    #[error("{0:?} is not an amount: write euros with an optional point and at most two decimals, e.g. 1250.00")]
    Malformed(String),
    #[error("an amount has at most two decimals (whole cents)")]
    TooManyDecimals,
    #[error("an amount cannot be negative")]
    Negative,
    #[error("an amount cannot be more than {max}", max = Money::MAX)]
    TooLarge,
}

impl MoneyError {
    /// This error as the [`DomainError::Invalid`] of the input field it came from.
    pub fn for_field(self, field: &'static str) -> DomainError {
        DomainError::Invalid {
            field,
            reason: self.to_string(),
        }
    }
}

impl Money {
    /// No money.
    pub const ZERO: Money = Money(0);
    /// The largest amount: €1,000,000,000.00. Ten times what Arnhem moves to all its
    /// wijkprogramma's in a year, so no real amount or total comes near it, and sums of many
    /// amounts stay far from `i64` overflow.
    pub const MAX: Money = Money(100_000_000_000);

    /// An amount of whole cents.
    pub fn from_cents(cents: i64) -> Result<Money, MoneyError> {
        if cents < 0 {
            Err(MoneyError::Negative)
        } else if cents > Money::MAX.0 {
            Err(MoneyError::TooLarge)
        } else {
            Ok(Money(cents))
        }
    }

    /// An amount of whole euros.
    pub fn from_euros(euros: i64) -> Result<Money, MoneyError> {
        Money::from_cents(euros.checked_mul(100).ok_or(MoneyError::TooLarge)?)
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses euros as people write them: `"1250"`, `"1250.5"`, `"1250.00"`. Surrounding
    /// whitespace is ignored; signs, exponents, thousands separators, decimal commas and more than
    /// two decimals are refused, so a typo never becomes a different amount.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        if text.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let malformed = || MoneyError::Malformed(text.chars().take(40).collect());
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) {
            return Err(malformed());
        }
        let fraction_cents = match fraction {
            None => 0,
            Some(f) if !all_digits(f) => return Err(malformed()),
            Some(f) if f.len() > 2 => return Err(MoneyError::TooManyDecimals),
            Some(f) => {
                let value: i64 = f.parse().map_err(|_| malformed())?;
                if f.len() == 1 {
                    value * 10
                } else {
                    value
                }
            }
        };
        // More than 12 digits of euros is beyond MAX whatever they are; checking the length first
        // keeps the arithmetic below from overflowing.
        if whole.trim_start_matches('0').len() > 12 {
            return Err(MoneyError::TooLarge);
        }
        let euros: i64 = whole.parse().map_err(|_| malformed())?;
        Money::from_cents(euros * 100 + fraction_cents)
    }

    /// The sum, or `None` when it would exceed [`Money::MAX`].
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0
            .checked_add(other.0)
            .filter(|&c| c <= Money::MAX.0)
            .map(Money)
    }

    /// The difference, or `None` when it would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        let c = self.0 - other.0; // both within 0..=MAX: cannot overflow
        (c >= 0).then_some(Money(c))
    }

    /// The difference, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Money) -> Money {
        Money((self.0 - other.0).max(0))
    }

    /// The sum, or [`Money::MAX`] when it would exceed it.
    pub fn saturating_add(self, other: Money) -> Money {
        Money((self.0 + other.0).min(Money::MAX.0))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Money {
    /// The amount as Dutch readers write it: `€ 12.500`, or `€ 12.500,50` with cents.
    pub fn dutch(self) -> Dutch {
        Dutch(self)
    }
}

/// [`Money`] in Dutch notation (see [`Money::dutch`]).
#[derive(Debug, Clone, Copy)]
pub struct Dutch(Money);

impl fmt::Display for Dutch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let euros = (self.0 .0 / 100).to_string();
        f.write_str("€ ")?;
        for (i, digit) in euros.chars().enumerate() {
            if i > 0 && (euros.len() - i) % 3 == 0 {
                f.write_str(".")?;
            }
            write!(f, "{digit}")?;
        }
        match self.0 .0 % 100 {
            0 => Ok(()),
            cents => write!(f, ",{cents:02}"),
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Money::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(text: &str) -> Result<i64, MoneyError> {
        Money::parse(text).map(Money::cents)
    }

    #[test]
    fn parses_the_ways_people_write_euros() {
        assert_eq!(cents("1250"), Ok(125_000));
        assert_eq!(cents("1250.5"), Ok(125_050));
        assert_eq!(cents("1250.00"), Ok(125_000));
        assert_eq!(cents("0.07"), Ok(7));
        assert_eq!(cents(" 12.30 "), Ok(1_230));
        assert_eq!(cents("1000000000.00"), Ok(Money::MAX.cents()));
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        assert_eq!(cents(""), Err(MoneyError::Empty));
        assert_eq!(cents("   "), Err(MoneyError::Empty));
        assert_eq!(cents("-1"), Err(MoneyError::Negative));
        assert_eq!(cents("1.234"), Err(MoneyError::TooManyDecimals));
        for text in [
            "1e3", "1,50", "12 50", "+5", ".5", "5.", "1.2.3", "abc", "€5", "1_000", "0x10",
        ] {
            assert!(
                matches!(cents(text), Err(MoneyError::Malformed(_))),
                "{text:?} gave {:?}",
                cents(text)
            );
        }
        assert_eq!(cents("1000000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(cents("99999999999999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn prints_two_decimals() {
        assert_eq!(Money::from_cents(125_000).unwrap().to_string(), "1250.00");
        assert_eq!(Money::from_cents(5).unwrap().to_string(), "0.05");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::MAX.to_string(), "1000000000.00");
    }

    #[test]
    fn cents_outside_the_range_are_refused() {
        assert_eq!(Money::from_cents(-1), Err(MoneyError::Negative));
        assert_eq!(
            Money::from_cents(Money::MAX.cents() + 1),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(Money::from_euros(i64::MAX), Err(MoneyError::TooLarge));
    }

    #[test]
    fn arithmetic_never_leaves_the_range() {
        let ten = Money::from_euros(10).unwrap();
        let three = Money::from_euros(3).unwrap();
        assert_eq!(ten.checked_sub(three), Some(Money::from_euros(7).unwrap()));
        assert_eq!(three.checked_sub(ten), None);
        assert_eq!(three.saturating_sub(ten), Money::ZERO);
        assert_eq!(Money::MAX.checked_add(Money::from_cents(1).unwrap()), None);
        assert_eq!(Money::MAX.saturating_add(ten), Money::MAX);
        assert_eq!(ten.checked_add(three), Some(Money::from_euros(13).unwrap()));
    }

    proptest::proptest! {
        #[test]
        fn every_amount_prints_and_parses_back(cents in 0..=Money::MAX.cents()) {
            let money = Money::from_cents(cents).unwrap();
            let printed = money.to_string();
            proptest::prop_assert_eq!(Money::parse(&printed), Ok(money));
            proptest::prop_assert_eq!(printed.split_once('.').map(|(_, c)| c.len()), Some(2));
        }

        #[test]
        fn any_text_parses_to_an_amount_or_an_error(text in "\\PC{0,20}|[0-9.,+-]{1,20}") {
            // Never panics; what parses prints back as the same amount.
            if let Ok(money) = Money::parse(&text) {
                proptest::prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
                proptest::prop_assert!(money <= Money::MAX);
            }
        }
    }

    #[test]
    fn serde_uses_the_decimal_string() {
        let m = Money::from_cents(125_050).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"1250.50\"");
        assert_eq!(serde_json::from_str::<Money>("\"1250.50\"").unwrap(), m);
        assert!(serde_json::from_str::<Money>("\"-3.00\"").is_err());
        assert!(serde_json::from_str::<Money>("1250").is_err());
    }

    #[test]
    fn dutch_notation() {
        let m = |c| Money::from_cents(c).unwrap().dutch().to_string();
        assert_eq!(m(0), "€ 0");
        assert_eq!(m(125_000), "€ 1.250");
        assert_eq!(m(1_250_000), "€ 12.500");
        assert_eq!(m(123_456_789), "€ 1.234.567,89");
        assert_eq!(m(105), "€ 1,05");
    }
}
