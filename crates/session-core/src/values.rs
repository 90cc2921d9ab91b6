//! Byte encodings of the typed helpers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{de::DeserializeOwned, Serialize};

use crate::{Error, Result};

fn mismatch(key: &str, expected: &'static str) -> Error {
    Error::TypeMismatch {
        key: key.to_owned(),
        expected,
    }
}

pub(crate) fn decode_string(key: &str, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| mismatch(key, "UTF-8 string"))
}

pub(crate) fn decode_i32(key: &str, bytes: &[u8]) -> Result<i32> {
    <[u8; 4]>::try_from(bytes)
        .map(i32::from_be_bytes)
        .map_err(|_| mismatch(key, "i32"))
}

pub(crate) fn decode_i64(key: &str, bytes: &[u8]) -> Result<i64> {
    <[u8; 8]>::try_from(bytes)
        .map(i64::from_be_bytes)
        .map_err(|_| mismatch(key, "i64"))
}

pub(crate) fn decode_bool(key: &str, bytes: &[u8]) -> Result<bool> {
    match bytes {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(mismatch(key, "bool")),
    }
}

pub(crate) fn decode_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Serialization {
        key: key.to_owned(),
        source,
    })
}

pub(crate) fn encode_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|source| Error::Serialization {
        key: key.to_owned(),
        source,
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When a session created at `created` (Unix seconds) ends with an absolute `lifetime`;
/// `None` if that is beyond what `SystemTime` holds (only a corrupt stored time is).
pub(crate) fn lifetime_end(created: u64, lifetime: Duration) -> Option<SystemTime> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(created))?
        .checked_add(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_sizes_are_type_errors() {
        assert!(decode_i32("k", &[1, 2, 3]).is_err());
        assert_eq!(decode_i32("k", &7i32.to_be_bytes()).ok(), Some(7));
        assert!(decode_i64("k", &[0; 4]).is_err());
        assert!(decode_bool("k", &[2]).is_err());
        assert!(decode_string("k", &[0xff]).is_err());
        assert!(decode_json::<u32>("k", b"\"x\"").is_err());
    }
}
