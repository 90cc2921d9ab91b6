//! The one encoding of session values: JSON.

use serde::{de::DeserializeOwned, Serialize};

use crate::{error::Error, error::Result};

/// The value under `key` as a `T`; a value of another type is a [`Error::TypeMismatch`].
pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|_| Error::TypeMismatch {
        key: key.to_owned(),
        expected: std::any::type_name::<T>(),
    })
}

/// `value` as stored under `key`.
pub(crate) fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|source| Error::Serialization {
        key: key.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_encoding_per_type_and_other_types_are_mismatches() {
        assert_eq!(encode("k", &5i32).ok().as_deref(), Some(b"5".as_slice()));
        assert_eq!(decode::<i64>("k", b"5").ok(), Some(5));
        assert!(matches!(
            decode::<i32>("k", b"\"abc\""),
            Err(Error::TypeMismatch { expected: "i32", .. })
        ));
        assert!(decode::<bool>("k", b"1").is_err());
        assert!(decode::<String>("k", &[0xff]).is_err());
        assert_eq!(decode::<Vec<u8>>("k", b"[1,2]").ok(), Some(vec![1, 2]));
        assert!(decode::<u8>("k", b"300").is_err());
    }
}
