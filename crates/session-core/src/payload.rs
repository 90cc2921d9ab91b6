//! The stored session format: one format byte, then the session encoded with
//! serde + bincode 2.
//!
//! Format 1 is `[1u8] ++ bincode_standard((created_unix_secs: u64, values: map<string, bytes>))`
//! with bincode's standard (varint) configuration. A future format changes the first
//! byte, so stores written by older versions stay readable. bincode is used only in
//! this module.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The session's values: case-sensitive keys, byte values. Hashed with foldhash (randomly
/// seeded per process): much cheaper than SipHash, and the payload cap bounds how many keys
/// a client could ever make collide.
pub(crate) type Values = HashMap<String, ByteBuf, foldhash::fast::RandomState>;

/// The current format byte.
const FORMAT_V1: u8 = 1;
/// Decoding never allocates more than this, whatever length prefixes claim.
const DECODE_LIMIT: usize = 16 * 1024 * 1024;

/// The decoded contents of a stored session.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// When the session was first stored, in seconds since the Unix epoch.
    pub created: u64,
    /// The values.
    pub values: Values,
}

/// Why a stored payload could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("empty payload")]
    Empty,
    #[error("unknown payload format {0}")]
    UnknownFormat(u8),
    #[error("corrupt payload")]
    Corrupt(#[source] bincode::error::DecodeError),
    #[error("{0} trailing bytes after the payload")]
    Trailing(usize),
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a payload in the current format.
pub(crate) fn encode(payload: &Payload) -> Result<Vec<u8>, bincode::error::EncodeError> {
    let entries: usize = payload.values.iter().map(|(k, v)| entry_len(k, v)).sum();
    let mut out = Vec::with_capacity(encoded_len(payload.created, payload.values.len(), entries));
    out.push(FORMAT_V1);
    bincode::serde::encode_into_std_write(payload, &mut out, config())?;
    Ok(out)
}

/// Decodes a stored payload, rejecting unknown formats, corrupt data and trailing bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Payload, DecodeError> {
    let (&format, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if format != FORMAT_V1 {
        return Err(DecodeError::UnknownFormat(format));
    }
    let (payload, used): (Payload, usize) =
        bincode::serde::decode_from_slice(body, config().with_limit::<DECODE_LIMIT>())
            .map_err(DecodeError::Corrupt)?;
    match body.len() - used {
        0 => Ok(payload),
        extra => Err(DecodeError::Trailing(extra)),
    }
}

/// Bytes a length or integer takes in bincode's standard varint encoding.
pub(crate) fn varint_len(n: u64) -> usize {
    match n {
        0..=250 => 1,
        251..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Encoded bytes of one key/value pair.
pub(crate) fn entry_len(key: &str, value: &[u8]) -> usize {
    varint_len(key.len() as u64) + key.len() + varint_len(value.len() as u64) + value.len()
}

/// Encoded bytes of a whole payload whose entries take `entries_len` bytes together.
pub(crate) fn encoded_len(created: u64, count: usize, entries_len: usize) -> usize {
    1 + varint_len(created) + varint_len(count as u64) + entries_len
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
            values,
        }
    }

    #[test]
    fn round_trips() {
        for (n, len) in [(0, 0), (1, 4), (3, 300), (300, 2), (2, 70_000)] {
            let p = sample(n, len);
            let bytes = encode(&p).unwrap_or_default();
            assert_eq!(decode(&bytes).ok(), Some(p));
        }
    }

    #[test]
    fn predicted_length_is_exact() {
        for (n, len) in [(0, 0), (1, 4), (3, 300), (300, 2), (2, 70_000)] {
            let p = sample(n, len);
            let entries: usize = p.values.iter().map(|(k, v)| entry_len(k, v)).sum();
            let bytes = encode(&p).unwrap_or_default();
            assert_eq!(encoded_len(p.created, n, entries), bytes.len(), "n={n} len={len}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
        assert!(matches!(decode(&[9, 1, 2]), Err(DecodeError::UnknownFormat(9))));
        assert!(matches!(decode(&[1]), Err(DecodeError::Corrupt(_))));
        // a length prefix claiming 2^32 entries must not allocate them
        assert!(decode(&[1, 0, 252, 255, 255, 255, 255]).is_err());
        let mut bytes = encode(&sample(1, 1)).unwrap_or_default();
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(DecodeError::Trailing(1))));
    }
}
