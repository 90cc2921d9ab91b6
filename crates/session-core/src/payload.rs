//! The stored session format: one format byte, then the session encoded with serde +
//! postcard.
//!
//! Format 2 is `[2u8] ++ postcard((created_unix_secs: u64, values: map<string, bytes>))`:
//! postcard's wire format (<https://postcard.jamesmunns.com/wire-format>) writes integers
//! and lengths as LEB128 varints and everything else as raw bytes, in field order.
//! Format 3, written for a session that has a principal, is
//! `[3u8] ++ postcard((created_unix_secs: u64, principal: string, values: map<string, bytes>))`;
//! a session without one is still written in format 2, byte for byte as before.
//! Format 1 (bincode 2, unmaintained) was never deployed and is not read: like any format
//! this version does not know, such an entry is left as it is. postcard is used only in
//! this module.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The session's values: case-sensitive keys, byte values. Hashed with foldhash (randomly
/// seeded per process): much cheaper than SipHash, and the payload cap bounds how many keys
/// a client could ever make collide.
pub(crate) type Values = HashMap<String, ByteBuf, foldhash::fast::RandomState>;

/// The format byte of a session without a principal.
const FORMAT_V2: u8 = 2;
/// The format byte of a session with a principal.
const FORMAT_V3: u8 = 3;

/// The largest stored payload this version reads back, in bytes, and so the largest
/// payload cap the engine accepts: one number bounds what is written and what is read, so
/// nothing the engine writes can fail to read back. A stored entry over it (something
/// else wrote it) is left as it is, like an entry of an unknown format.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// The decoded contents of a stored session.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Payload {
    /// When the session was first stored, in seconds since the Unix epoch.
    pub created: u64,
    /// Whom the session belongs to, if the application said so.
    pub principal: Option<String>,
    /// The values.
    pub values: Values,
}

/// Format 2 on the wire, borrowed for writing.
#[derive(Serialize)]
struct V2Ref<'a> {
    created: u64,
    values: &'a Values,
}

/// Format 3 on the wire, borrowed for writing.
#[derive(Serialize)]
struct V3Ref<'a> {
    created: u64,
    principal: &'a str,
    values: &'a Values,
}

/// Format 2 on the wire.
#[derive(Deserialize)]
struct V2 {
    created: u64,
    values: Values,
}

/// Format 3 on the wire.
#[derive(Deserialize)]
struct V3 {
    created: u64,
    principal: String,
    values: Values,
}

/// Why a stored payload could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("empty payload")]
    Empty,
    #[error("unknown payload format {0}")]
    UnknownFormat(u8),
    #[error("stored payload of {0} bytes is over this version's {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    #[error("corrupt payload")]
    Corrupt(#[source] postcard::Error),
    #[error("{0} trailing bytes after the payload")]
    Trailing(usize),
}

impl DecodeError {
    /// Whether the entry may be someone else's (an unknown format, or over this version's
    /// size limit): it must then be left as it is, never deleted.
    pub(crate) fn is_foreign(&self) -> bool {
        matches!(self, DecodeError::UnknownFormat(_) | DecodeError::TooLarge(_))
    }
}

/// Encodes a payload in the current format.
pub(crate) fn encode(payload: &Payload) -> Result<Vec<u8>, postcard::Error> {
    let entries: usize = payload.values.iter().map(|(k, v)| entry_len(k, v)).sum();
    let principal = payload.principal.as_deref();
    let len = encoded_len(payload.created, principal, payload.values.len(), entries);
    let mut out = Vec::with_capacity(len);
    let (created, values) = (payload.created, &payload.values);
    match principal {
        None => {
            out.push(FORMAT_V2);
            postcard::to_io(&V2Ref { created, values }, &mut out)?;
        }
        Some(principal) => {
            out.push(FORMAT_V3);
            postcard::to_io(
                &V3Ref {
                    created,
                    principal,
                    values,
                },
                &mut out,
            )?;
        }
    }
    Ok(out)
}

/// Decodes a stored payload, rejecting unknown formats, payloads over [`MAX_PAYLOAD`],
/// corrupt data and trailing bytes.
///
/// Memory stays bounded by the input: postcard checks every length prefix against the
/// bytes left before it allocates.
pub(crate) fn decode(bytes: &[u8]) -> Result<Payload, DecodeError> {
    let (&format, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if format != FORMAT_V2 && format != FORMAT_V3 {
        return Err(DecodeError::UnknownFormat(format));
    }
    if bytes.len() > MAX_PAYLOAD {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let (payload, rest) = if format == FORMAT_V2 {
        let (v2, rest): (V2, &[u8]) = postcard::take_from_bytes(body).map_err(DecodeError::Corrupt)?;
        let payload = Payload {
            created: v2.created,
            principal: None,
            values: v2.values,
        };
        (payload, rest)
    } else {
        let (v3, rest): (V3, &[u8]) = postcard::take_from_bytes(body).map_err(DecodeError::Corrupt)?;
        let payload = Payload {
            created: v3.created,
            principal: Some(v3.principal),
            values: v3.values,
        };
        (payload, rest)
    };
    match rest.len() {
        0 => Ok(payload),
        extra => Err(DecodeError::Trailing(extra)),
    }
}

/// Bytes a length or integer takes as a LEB128 varint (7 bits a byte).
pub(crate) fn varint_len(n: u64) -> usize {
    let bits = 64 - n.max(1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Encoded bytes of one key/value pair.
pub(crate) fn entry_len(key: &str, value: &[u8]) -> usize {
    varint_len(key.len() as u64) + key.len() + varint_len(value.len() as u64) + value.len()
}

/// Encoded bytes of a whole payload whose entries take `entries_len` bytes together.
pub(crate) fn encoded_len(created: u64, principal: Option<&str>, count: usize, entries_len: usize) -> usize {
    let principal = principal.map_or(0, |p| varint_len(p.len() as u64) + p.len());
    1 + varint_len(created) + principal + varint_len(count as u64) + entries_len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, value_len: usize) -> Payload {
        let values = (0..n)
            .map(|i| (format!("key-{i}"), ByteBuf::from(vec![i as u8; value_len])))
            .collect::<Values>();
        Payload {
            created: 1_700_000_000,
            principal: None,
            values,
        }
    }

    #[test]
    fn round_trips() {
        for (n, len) in [(0, 0), (1, 4), (3, 300), (300, 2), (2, 70_000)] {
            let p = sample(n, len);
            let bytes = encode(&p).unwrap_or_default();
            assert_eq!(bytes.first(), Some(&FORMAT_V2));
            assert_eq!(decode(&bytes).ok(), Some(p));
        }
    }

    #[test]
    fn predicted_length_is_exact() {
        for (n, len) in [(0, 0), (1, 4), (3, 300), (300, 2), (2, 70_000), (1, 20_000_000)] {
            let p = sample(n, len);
            let entries: usize = p.values.iter().map(|(k, v)| entry_len(k, v)).sum();
            let bytes = encode(&p).unwrap_or_default();
            assert_eq!(
                encoded_len(p.created, None, n, entries),
                bytes.len(),
                "n={n} len={len}"
            );
            let owned = Payload {
                principal: Some("alice@example.com".into()),
                ..sample(n, len)
            };
            let bytes = encode(&owned).unwrap_or_default();
            assert_eq!(
                encoded_len(owned.created, owned.principal.as_deref(), n, entries),
                bytes.len()
            );
        }
        for (n, expected) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(n), expected, "{n}");
        }
    }

    #[test]
    fn the_wire_format_is_postcards() {
        let mut p = Payload {
            created: 300,
            principal: None,
            values: Values::default(),
        };
        p.values.insert("n".into(), ByteBuf::from(vec![7u8]));
        // format, created = 300 (LEB128: 0xAC 0x02), 1 entry, "n", 1 byte 7
        assert_eq!(encode(&p).unwrap_or_default(), [2, 0xAC, 0x02, 1, 1, b'n', 1, 7]);
        // with a principal: format 3, the principal between created and the values
        p.principal = Some("al".into());
        let bytes = encode(&p).unwrap_or_default();
        assert_eq!(bytes, [3, 0xAC, 0x02, 2, b'a', b'l', 1, 1, b'n', 1, 7]);
        assert_eq!(decode(&bytes).ok(), Some(p));
    }

    #[test]
    fn a_payload_at_the_limit_reads_back_and_one_over_it_is_foreign() {
        // one value filling the whole limit
        let overhead = encoded_len(1_700_000_000, None, 1, entry_len("k", &[]));
        let mut len = MAX_PAYLOAD - overhead;
        len -= varint_len(len as u64) - 1;
        let mut p = sample(0, 0);
        p.values.insert("k".into(), ByteBuf::from(vec![1u8; len]));
        let bytes = encode(&p).unwrap_or_default();
        assert_eq!(bytes.len(), MAX_PAYLOAD);
        assert_eq!(decode(&bytes).ok(), Some(p));
        let mut over = bytes;
        over.push(0);
        let error = decode(&over).err();
        assert!(matches!(error, Some(DecodeError::TooLarge(_))), "{error:?}");
        assert!(error.is_some_and(|e| e.is_foreign()));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
        assert!(matches!(decode(&[9, 1, 2]), Err(DecodeError::UnknownFormat(9))));
        // format 1 (bincode, never deployed) is not read, and left alone
        assert!(decode(&[1, 0, 0]).is_err_and(|e| e.is_foreign()));
        assert!(matches!(decode(&[2]), Err(DecodeError::Corrupt(_))));
        // a length prefix claiming 2^32 entries or a 4 GiB key must not allocate them
        assert!(decode(&[2, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err_and(|e| !e.is_foreign()));
        assert!(decode(&[2, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, b'a']).is_err());
        let mut bytes = encode(&sample(1, 1)).unwrap_or_default();
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(DecodeError::Trailing(1))));
    }
}
