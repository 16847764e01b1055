//! `X-Hub-Signature-256` verification for webhook POSTs.
//!
//! Meta signs every webhook delivery with HMAC-SHA256, keyed with the app
//! secret, over the request body exactly as sent, and puts
//! `sha256=<lowercase hex>` in the `X-Hub-Signature-256` header
//! (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started/>,
//! "Validate payloads"; reference implementation `david-lev/pywa:pywa/utils.py`).
//!
//! The signed bytes keep non-ASCII text as `\uXXXX` escapes, so the check must
//! run over the raw body before any JSON parsing; re-serialising the parsed
//! JSON changes the bytes and breaks the HMAC for accented or emoji text.

use hmac::digest::{Digest, Key, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header-value prefix naming the algorithm, as Meta sends it.
const PREFIX: &str = "sha256=";

/// Length in bytes of an HMAC-SHA256 tag (64 hex characters in the header).
const TAG_LEN: usize = 32;

/// Why a webhook body failed signature verification.
///
/// Every variant means "reject the request": only a matching signature shows
/// the payload came from Meta
/// (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started/>,
/// "Validate payloads"). The variants exist so logs and metrics can tell a
/// misconfigured proxy (missing header) from a wrong app secret or a forged
/// request (mismatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carried no `X-Hub-Signature-256` header.
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits (either case).
    #[error("malformed X-Hub-Signature-256 header (expected sha256=<64 hex digits>)")]
    Malformed,
    /// The header is well formed but the HMAC does not match the body.
    #[error("X-Hub-Signature-256 does not match the request body")]
    Mismatch,
}

/// Checks Meta's `X-Hub-Signature-256` header against the raw request body.
///
/// - `app_secret`: the Meta app secret (App Dashboard → Settings → Basic), as
///   bytes. It is used as the HMAC key; an empty secret is accepted here, so
///   configuration loading must refuse one.
/// - `body`: the request body bytes exactly as received (no decoding, no
///   whitespace or escape changes).
/// - `header`: the raw header value, `sha256=<hex>`, or `None` if absent.
///   Hex digits may be upper- or lowercase; surrounding whitespace is ignored.
///
/// The tag is compared in constant time (`hmac::Mac::verify_slice`).
///
/// # Errors
/// [`SignatureError::Missing`] when `header` is `None`,
/// [`SignatureError::Malformed`] when the prefix is absent, the hex is
/// invalid or the tag is not 32 bytes, and [`SignatureError::Mismatch`] when
/// the HMAC differs.
///
/// Source: <https://developers.facebook.com/docs/graph-api/webhooks/getting-started/>
/// ("Validate payloads").
pub fn verify_signature(
    app_secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_tag = header
        .get(..PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
        .and_then(|_| header.get(PREFIX.len()..))
        .ok_or(SignatureError::Malformed)?;
    let tag = hex::decode(hex_tag).map_err(|_| SignatureError::Malformed)?;
    if tag.len() != TAG_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut mac = keyed_mac(app_secret);
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// Computes the `X-Hub-Signature-256` header value Meta would send for `body`.
///
/// Returns the full header value, `sha256=` followed by 64 lowercase hex
/// digits of HMAC-SHA256(key = `app_secret`, message = `body`). Used by tests,
/// the demo and the load harness to produce deliveries that
/// [`verify_signature`] accepts. Never fails: HMAC accepts keys of any length.
///
/// Source: <https://developers.facebook.com/docs/graph-api/webhooks/getting-started/>.
#[must_use]
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed_mac(app_secret);
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("{PREFIX}{}", hex::encode(tag))
}

/// Builds the HMAC state without a fallible constructor.
///
/// `Hmac::new_from_slice` returns a `Result` even though HMAC accepts any key
/// length, and the crate forbids `expect`. RFC 2104 §2 defines the key as the
/// secret zero-padded to one block, or its hash if longer than a block; doing
/// that here lets us call the infallible `KeyInit::new` with identical output.
fn keyed_mac(app_secret: &[u8]) -> HmacSha256 {
    let mut key = Key::<HmacSha256>::default();
    let hashed;
    let source: &[u8] = if app_secret.len() > key.len() {
        hashed = Sha256::digest(app_secret);
        &hashed
    } else {
        app_secret
    };
    for (dst, src) in key.iter_mut().zip(source) {
        *dst = *src;
    }
    <HmacSha256 as KeyInit>::new(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected tags were computed with Python's standard library, e.g.
    // python3 -c 'import hmac,hashlib;print(hmac.new(b"k"*100,b"hello",hashlib.sha256).hexdigest())'
    #[test]
    fn long_key_is_hashed_like_rfc_2104() {
        assert_eq!(
            sign(&[b'k'; 100], b"hello"),
            "sha256=3fd578d761a4f6703009e92d2e8a0aea22ab9ab50d4ad250dc95d8c369dec3f5"
        );
    }

    #[test]
    fn empty_key_matches_reference() {
        assert_eq!(
            sign(b"", b"hello"),
            "sha256=4352b26e33fe0d769a8922a6ba29004109f01688e26acc9e6cb347e5a5afc4da"
        );
    }

    #[test]
    fn key_of_exactly_one_block_round_trips() {
        let key = [7_u8; 64];
        let header = sign(&key, b"body");
        assert_eq!(verify_signature(&key, b"body", Some(&header)), Ok(()));
        assert_eq!(
            verify_signature(&key[..63], b"body", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn prefix_only_and_odd_hex_are_malformed() {
        for header in ["sha256=", "sha256=abc", "sha1=00", "", "sha256"] {
            assert_eq!(
                verify_signature(b"s", b"b", Some(header)),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn non_ascii_header_is_malformed_not_a_panic() {
        assert_eq!(
            verify_signature(b"s", b"b", Some("shä256=00")),
            Err(SignatureError::Malformed)
        );
    }
}
