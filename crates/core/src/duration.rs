//! The duration format of configuration files: `"1s"`, `"90s"`, `"15m"`,
//! `"2h"`, `"1h30m"`, `"1d"`.
//!
//! Units: `s` seconds, `m` minutes, `h` hours, `d` days (24 h of elapsed
//! time). Components may repeat in any order and are summed. Any positive
//! duration down to one second is valid; zero is valid only where a caller
//! allows it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {why} (expected e.g. \"1s\", \"15m\", \"2h\", \"1h30m\", \"1d\")"
)]
pub struct DurationError {
    input: String,
    why: &'static str,
}

/// A configuration duration with one-second resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigDuration(Duration);

impl ConfigDuration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// Parses `"15m"`-style text; see the module docs for the grammar.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let err = |why| DurationError {
            input: input.to_owned(),
            why,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if c.is_whitespace() {
                continue;
            }
            if digits.is_empty() {
                return Err(err("a unit must follow a number"));
            }
            let n: u64 = digits.parse().map_err(|_| err("number too large"))?;
            digits.clear();
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(err("unknown unit")),
            };
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| err("too large"))?;
        }
        if !digits.is_empty() {
            return Err(err("missing unit after the last number"));
        }
        Ok(Self(Duration::from_secs(total)))
    }

    /// The duration as a std value.
    pub const fn as_std(self) -> Duration {
        self.0
    }

    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    /// As a signed jiff duration, for timestamp arithmetic.
    pub fn as_signed(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.as_secs();
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= len {
                write!(f, "{}{unit}", s / len)?;
                s %= len;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for ConfigDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(ConfigDuration::parse("1s").unwrap().as_secs(), 1);
        assert_eq!(ConfigDuration::parse("15m").unwrap().as_secs(), 900);
        assert_eq!(ConfigDuration::parse("2h").unwrap().as_secs(), 7200);
        assert_eq!(ConfigDuration::parse("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(ConfigDuration::parse("1d").unwrap().as_secs(), 86_400);
        assert_eq!(ConfigDuration::parse(" 1h 30m ").unwrap().as_secs(), 5400);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["", "15", "m", "15x", "1.5h", "-1m"] {
            assert!(ConfigDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["1s", "15m", "2h", "1h30m", "1d", "1d2h3m4s"] {
            assert_eq!(ConfigDuration::parse(s).unwrap().to_string(), s);
        }
    }
}
