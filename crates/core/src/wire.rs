//! Faster decoding of a model file's long arrays, with the same bytes.
//!
//! Serde decodes a `Vec<T>` element by element, one call into the format
//! per element, and preallocates at most 1 MiB before growing by doubling.
//! The default model's arrays hold millions of bytes and postings, so that
//! was most of its load time (issue #3's budget is 50 ms). Every function
//! here decodes the bytes serde's derived code writes for the same field in
//! postcard (see [`crate::classifier`]), so model files do not change:
//! - [`bytes`]: a `Vec<u8>` or `Vec<i8>` is a length
//!   and then one byte per element, which is what postcard's byte-string
//!   form is too; asking for a byte string lets the format hand over the
//!   whole slice at once (a copy at memory speed).
//! - [`exact`]: other vectors still go element by element, but into a
//!   vector allocated once at the length the format announces.
//!
//! Formats that have no byte string (JSON, say) send a sequence, which the
//! same visitors accept.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{Deserialize, SeqAccess, Visitor};

/// Most bytes preallocated on a length the input announces: 16 times what
/// the default model needs (its longest such array, 1.06 million postings,
/// is about 4 MB as `u32`s), so a damaged length cannot reserve more. A
/// damaged file fails when its input runs out, and the reservation, never
/// written to, cost address space only.
const MAX_PREALLOCATE: usize = 64 << 20;

/// One byte of a byte array: `u8` as it is, `i8` as its two's-complement
/// byte (how postcard writes an `i8`).
pub(crate) trait Byte: Sized {
    /// The element a byte stands for.
    fn from_byte(b: u8) -> Self;
}

impl Byte for u8 {
    fn from_byte(b: u8) -> u8 {
        b
    }
}

impl Byte for i8 {
    fn from_byte(b: u8) -> i8 {
        i8::from_le_bytes([b])
    }
}

/// Decodes a `Vec<u8>` or `Vec<i8>` written as a sequence of its elements
/// (`deserialize_with`).
///
/// # Errors
/// The format's error for input that is neither a byte string nor a
/// sequence of bytes.
pub(crate) fn bytes<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Byte + Deserialize<'de>,
{
    struct Bytes<T>(PhantomData<T>);
    impl<'de, T: Byte + Deserialize<'de>> Visitor<'de> for Bytes<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<T>, E> {
            Ok(v.iter().map(|&b| T::from_byte(b)).collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            collect(seq)
        }
    }
    d.deserialize_bytes(Bytes(PhantomData))
}

/// Decodes a `Vec<T>` into one allocation of the announced length
/// (`deserialize_with`).
///
/// # Errors
/// The format's error for input that is not a sequence of `T`.
pub(crate) fn exact<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Exact<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Exact<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            collect(seq)
        }
    }
    d.deserialize_seq(Exact(PhantomData))
}

fn collect<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(mut seq: A) -> Result<Vec<T>, A::Error> {
    let most = MAX_PREALLOCATE / size_of::<T>().max(1);
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(most));
    while let Some(x) = seq.next_element()? {
        out.push(x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        a: Vec<u8>,
        b: Vec<i8>,
        c: Vec<u32>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Fast {
        #[serde(deserialize_with = "super::bytes")]
        a: Vec<u8>,
        #[serde(deserialize_with = "super::bytes")]
        b: Vec<i8>,
        #[serde(deserialize_with = "super::exact")]
        c: Vec<u32>,
    }

    fn sample() -> Plain {
        Plain {
            a: (0..=255).collect(),
            b: (-128..=127).collect(),
            c: vec![0, 1, 127, 128, 300, u32::MAX],
        }
    }

    #[test]
    fn it_reads_what_the_derived_code_writes() {
        let plain = sample();
        let bytes = postcard::to_stdvec(&plain).unwrap();
        let fast: Fast = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            (fast.a.clone(), fast.b.clone(), fast.c.clone()),
            (plain.a, plain.b, plain.c)
        );
        assert_eq!(postcard::to_stdvec(&fast).unwrap(), bytes);
    }

    #[test]
    fn it_reads_sequences_from_formats_without_byte_strings() {
        let plain = sample();
        let json = serde_json::to_string(&plain).unwrap();
        let fast: Fast = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&fast).unwrap(), json);
    }

    #[test]
    fn a_short_input_is_an_error_not_a_huge_allocation() {
        let bytes = postcard::to_stdvec(&sample()).unwrap();
        assert!(postcard::from_bytes::<Fast>(&bytes[..bytes.len() - 1]).is_err());
        // A length far beyond the input: of the byte string, and of the
        // `u32` sequence, whose reservation `collect` caps.
        let mut lying = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        lying.extend_from_slice(&[1, 2, 3]);
        assert!(postcard::from_bytes::<Fast>(&lying).is_err());
        let mut lying = postcard::to_stdvec(&(vec![1u8], vec![-1i8])).unwrap();
        lying.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
        assert!(postcard::from_bytes::<Fast>(&lying).is_err());
    }
}
