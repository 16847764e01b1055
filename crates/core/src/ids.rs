//! Identifiers.
//!
//! Database ids are 64-bit integers wrapped in one newtype per table so a
//! conversation id can never be passed where an agent id is expected.
//! WhatsApp identities are parsed once, at the edge, into types whose
//! constructors are the only way to make one.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! db_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

db_id!(
    /// Id of a conversation (one open thread between a contact and an inbox).
    ConversationId
);
db_id!(
    /// Id of a contact (a WhatsApp user, by wa_id and/or BSUID).
    ContactId
);
db_id!(
    /// Id of an agent (a person who answers conversations).
    AgentId
);
db_id!(
    /// Id of a team of agents.
    TeamId
);
db_id!(
    /// Id of an inbox (one WhatsApp business phone number).
    InboxId
);
db_id!(
    /// Id of a stored message.
    MessageId
);
db_id!(
    /// Id of a raw webhook delivery as received.
    DeliveryId
);

/// Why an identity string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A wa_id must be 5 to 20 ASCII digits (a phone number without `+`).
    #[error("invalid wa_id {0:?}: expected 5-20 digits")]
    WaId(String),
    /// A BSUID is a country code, a dot, then letters, digits and dots.
    #[error("invalid BSUID {0:?}: expected CC.alphanumerics")]
    Bsuid(String),
    /// A phone_number_id is Meta's numeric id of a business number.
    #[error("invalid phone_number_id {0:?}: expected digits")]
    PhoneNumberId(String),
}

/// A WhatsApp user id (`wa_id` / `from`): the user's phone number in
/// international form, digits only, no `+`.
///
/// Meta's own examples sometimes carry a trailing space (`"48XXXXXXXXX "`), so
/// surrounding white space is trimmed; masked digits (`X`) in documentation
/// payloads are accepted as well so that Meta's examples parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct WaId(String);

impl WaId {
    /// Parses a wa_id. Errors with [`IdError::WaId`] unless the trimmed value
    /// is 5–20 characters of digits (or documentation `X` masks), optionally
    /// after a leading `+` which is dropped.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        let s = s.strip_prefix('+').unwrap_or(s);
        let ok = (5..=20).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b == b'X' || b == b'x')
            && s.bytes().any(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::WaId(raw.to_owned()))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the last four digits masked (`XXXXXXXX1234`),
    /// for logs and exported samples.
    pub fn masked(&self) -> String {
        let keep = self.0.len().saturating_sub(4);
        let mut out = "X".repeat(keep);
        out.push_str(self.0.get(keep..).unwrap_or_default());
        out
    }
}

impl fmt::Display for WaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A business-scoped user id (BSUID), Meta's stable key for users who adopted
/// a WhatsApp username (webhooks since April 2026; `contacts[].user_id`,
/// `messages[].from_user_id`). Shape: a two-letter country code, a dot, then
/// alphanumerics (managed businesses add further dotted parts, e.g.
/// `US.ENT.…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bsuid(String);

impl Bsuid {
    /// Parses a BSUID; errors with [`IdError::Bsuid`] on any other shape.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        let mut parts = s.split('.');
        let cc = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let ok = cc.len() == 2
            && cc.bytes().all(|b| b.is_ascii_alphabetic())
            && !rest.is_empty()
            && rest
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
            && s.len() <= 128;
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Bsuid(raw.to_owned()))
        }
    }

    /// The id as Meta sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Meta's id of a business phone number (`metadata.phone_number_id`), the key
/// of an inbox and the path segment of `POST /{phone_number_id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PhoneNumberId(String);

impl PhoneNumberId {
    /// Parses a phone_number_id: 1–32 ASCII digits. Errors with
    /// [`IdError::PhoneNumberId`] otherwise (a path segment must never carry
    /// anything else).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::PhoneNumberId(raw.to_owned()))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WaId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Bsuid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for PhoneNumberId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wa_id_trims_and_rejects_garbage() {
        assert_eq!(
            WaId::parse(" 16505551234 ").unwrap().as_str(),
            "16505551234"
        );
        assert_eq!(
            WaId::parse("+919812345678").unwrap().as_str(),
            "919812345678"
        );
        assert_eq!(WaId::parse("48XXXXXXXXX ").unwrap().as_str(), "48XXXXXXXXX");
        assert!(WaId::parse("abc").is_err());
        assert!(WaId::parse("123").is_err());
        assert!(WaId::parse("").is_err());
    }

    #[test]
    fn masking_keeps_last_four() {
        assert_eq!(
            WaId::parse("919812345678").unwrap().masked(),
            "XXXXXXXX5678"
        );
    }

    #[test]
    fn bsuid_shapes() {
        assert!(Bsuid::parse("US.13491208655302741918").is_ok());
        assert!(Bsuid::parse("US.ENT.11815799212886844830").is_ok());
        assert!(Bsuid::parse("13491208655302741918").is_err());
        assert!(Bsuid::parse("US.").is_err());
    }

    #[test]
    fn phone_number_id_digits_only() {
        assert!(PhoneNumberId::parse("106540352242922").is_ok());
        assert!(PhoneNumberId::parse("../etc").is_err());
    }
}
