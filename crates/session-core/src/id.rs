//! Session ids: 128 random bits, URL-safe, redacted when printed.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

/// Number of random bytes in a session id.
pub(crate) const ID_BYTES: usize = 16;
/// Length of an id's URL-safe base64 text.
pub(crate) const ID_TEXT_LEN: usize = 22;

/// A session id: 128 bits from a CSPRNG, written as 22 URL-safe base64 characters.
///
/// `Debug` and `Display` show only the first four characters, so ids can be logged
/// without handing out usable session keys. [`SessionId::expose`] gives the full text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId {
    bytes: [u8; ID_BYTES],
    /// The base64 text, always ASCII.
    text: [u8; ID_TEXT_LEN],
}

impl SessionId {
    /// A new random id (thread-local ChaCha CSPRNG, seeded from the OS).
    ///
    /// ```
    /// let id = session_core::SessionId::generate();
    /// assert_eq!(id.expose().len(), 22);
    /// ```
    pub fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    pub(crate) fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        let mut text = [0u8; ID_TEXT_LEN];
        // 16 bytes always encode to exactly 22 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(bytes, &mut text);
        SessionId { bytes, text }
    }

    /// Parses the 22-character text form. `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.len() != ID_TEXT_LEN {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            // Re-encode rather than copy: non-canonical base64 (stray low bits in the
            // last character) must not give a second spelling of the same id.
            Ok(ID_BYTES) => Some(Self::from_bytes(bytes)).filter(|id| id.expose() == text),
            _ => None,
        }
    }

    /// The raw random bytes.
    pub(crate) fn bytes(&self) -> &[u8; ID_BYTES] {
        &self.bytes
    }

    /// The full id text, as stored in the cache. Treat it as a secret: whoever has it
    /// (with a valid signature) owns the session.
    ///
    /// ```
    /// let id = session_core::SessionId::generate();
    /// let key = format!("sessions:{}", id.expose()); // the full id: a secret
    /// ```
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The redacted form used in logs: the first four characters and an ellipsis.
    ///
    /// ```
    /// let id = session_core::SessionId::generate();
    /// assert_eq!(id.redacted().to_string(), format!("{}…", &id.expose()[..4]));
    /// ```
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self.expose())
    }
}

/// A redacted view of an id; see [`SessionId::redacted`]. `Debug` redacts too.
pub struct Redacted<'a>(&'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.0.get(..4).unwrap_or(""))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redacted({self})")
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.redacted())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.redacted().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_urlsafe_and_round_trip() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), ID_TEXT_LEN);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(SessionId::parse(a.expose()), Some(a));
    }

    #[test]
    fn printing_redacts() {
        let id = SessionId::generate();
        let shown = format!("{id} {id:?} {:?}", id.redacted());
        assert!(!shown.contains(id.expose()));
        assert!(shown.contains(&id.expose()[..4]));
    }

    #[test]
    fn parse_rejects_bad_text() {
        for bad in [
            "",
            "short",
            "ééééééééééé",
            "!!!!!!!!!!!!!!!!!!!!!!",
            &"A".repeat(23),
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }
}
