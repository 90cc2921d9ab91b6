//! The cookie value codec: `<id>.<HMAC-SHA256 tag>`, signed with a key ring.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{digest::KeyInit, Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::{
    error::Error,
    error::Result,
    id::{SessionId, ID_TEXT_LEN},
};

type HmacSha256 = Hmac<Sha256>;

/// Length of the tag's base64 text (32 bytes).
const TAG_TEXT_LEN: usize = 43;
/// Length of a whole cookie value: id, dot, tag.
pub(crate) const COOKIE_VALUE_LEN: usize = ID_TEXT_LEN + 1 + TAG_TEXT_LEN;
/// Shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// A secret key that signs session cookies (HMAC-SHA256).
///
/// Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct SigningKey {
    /// The HMAC state after absorbing the key, cloned for every signature.
    mac: HmacSha256,
}

impl SigningKey {
    /// A key from at least 32 bytes of secret material.
    ///
    /// ```
    /// use session_core::SigningKey;
    /// # fn main() -> session_core::Result<()> {
    /// let key = SigningKey::from_bytes(b"a secret of at least thirty-two bytes!")?;
    /// assert!(SigningKey::from_bytes(b"too short").is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] if `secret` is shorter than 32 bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self> {
        if secret.len() < MIN_KEY_LEN {
            return Err(Error::Config(format!(
                "a signing key needs at least {MIN_KEY_LEN} bytes, got {}",
                secret.len()
            )));
        }
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .map_err(|e| Error::Config(format!("signing key rejected: {e}")))?;
        Ok(SigningKey { mac })
    }

    /// A random 64-byte key, valid for this process only.
    ///
    /// ```
    /// let key = session_core::SigningKey::generate(); // sessions end with the process
    /// ```
    pub fn generate() -> Self {
        let mut secret = [0u8; 64];
        rand::rng().fill_bytes(&mut secret);
        // 64 bytes is SHA-256's block size: the fixed-size constructor cannot fail.
        SigningKey {
            mac: <HmacSha256 as KeyInit>::new(&secret.into()),
        }
    }

    fn tag(&self, id: &SessionId) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(id.bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is this key's tag of `id`, compared in constant time
    /// (`Mac::verify_slice`).
    fn verifies(&self, id: &SessionId, tag: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(id.bytes());
        mac.verify_slice(tag).is_ok()
    }
}

impl From<&cookie::Key> for SigningKey {
    /// The key of an app that already has a `cookie::Key` (cookie 0.18, as tower-sessions and
    /// axum-extra use; actix-web 4 re-exports cookie 0.16, whose `Key` converts with
    /// `SigningKey::from_bytes(key.master())`): its 64-byte master secret signs the session.
    ///
    /// ```
    /// use session_core::SigningKey;
    /// let key = cookie::Key::generate();
    /// let signing = SigningKey::from(&key);
    /// ```
    fn from(key: &cookie::Key) -> Self {
        // A master key is 64 bytes, SHA-256's block size: the fixed-size constructor
        // cannot fail, and never needs the fallible one.
        let mut secret = [0u8; 64];
        let master = key.master();
        let n = master.len().min(64);
        secret[..n].copy_from_slice(&master[..n]);
        SigningKey {
            mac: <HmacSha256 as KeyInit>::new(&secret.into()),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// Signing keys, newest first: cookies are signed with the newest and accepted if any
/// key verifies them, so keys can be rotated without logging everyone out.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring with one key.
    ///
    /// ```
    /// use session_core::{KeyRing, SigningKey};
    /// let ring = KeyRing::new(SigningKey::generate());
    /// ```
    pub fn new(newest: SigningKey) -> Self {
        KeyRing { keys: vec![newest] }
    }

    /// Adds an older key that is still accepted but no longer used to sign.
    ///
    /// ```
    /// use session_core::{KeyRing, SigningKey};
    /// # fn main() -> session_core::Result<()> {
    /// let ring = KeyRing::new(SigningKey::from_bytes(&[2; 32])?) // signs new cookies
    ///     .with_previous(SigningKey::from_bytes(&[1; 32])?); // still accepted
    /// # Ok(()) }
    /// ```
    pub fn with_previous(mut self, older: SigningKey) -> Self {
        self.keys.push(older);
        self
    }

    /// The cookie value for `id`, signed with the newest key.
    pub(crate) fn sign(&self, id: &SessionId) -> String {
        let mut out = String::with_capacity(COOKIE_VALUE_LEN);
        out.push_str(id.expose());
        out.push('.');
        if let Some(key) = self.keys.first() {
            URL_SAFE_NO_PAD.encode_string(key.tag(id), &mut out);
        }
        out
    }

    /// The id in a cookie value, if the value is well-formed and one key's tag matches.
    pub(crate) fn verify(&self, value: &str) -> Option<SessionId> {
        if value.len() != COOKIE_VALUE_LEN {
            return None;
        }
        let (id_text, rest) = value.split_at_checked(ID_TEXT_LEN)?;
        let tag_text = rest.strip_prefix('.')?;
        let id = SessionId::parse(id_text)?;
        let mut tag = [0u8; 32];
        if URL_SAFE_NO_PAD.decode_slice(tag_text, &mut tag) != Ok(32) {
            return None;
        }
        let valid = self.keys.iter().any(|key| key.verifies(&id, &tag));
        valid.then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32]).unwrap_or_else(|_| SigningKey::generate())
    }

    #[test]
    fn signed_value_verifies() {
        let ring = KeyRing::new(key(1));
        let id = SessionId::generate();
        let value = ring.sign(&id);
        assert_eq!(value.len(), COOKIE_VALUE_LEN);
        assert_eq!(ring.verify(&value), Some(id));
    }

    #[test]
    fn tampered_or_foreign_values_fail() {
        let ring = KeyRing::new(key(1));
        let id = SessionId::generate();
        let value = ring.sign(&id);
        // flip one character of the id, then of the tag
        for pos in [0, ID_TEXT_LEN + 5] {
            let mut bytes = value.clone().into_bytes();
            bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap_or_default();
            assert_eq!(ring.verify(&tampered), None);
        }
        // an id signed by another key
        assert_eq!(KeyRing::new(key(2)).verify(&value), None);
        // an invented, unsigned id
        assert_eq!(ring.verify(id.expose()), None);
        for junk in ["", ".", "a.b", &"x".repeat(COOKIE_VALUE_LEN), &"é".repeat(40)] {
            assert_eq!(ring.verify(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn rotation_accepts_previous_keys() {
        let id = SessionId::generate();
        let old_value = KeyRing::new(key(1)).sign(&id);
        let ring = KeyRing::new(key(2)).with_previous(key(1));
        assert_eq!(ring.verify(&old_value), Some(id.clone()));
        assert_ne!(ring.sign(&id), old_value, "signs with the newest key");
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SigningKey::from_bytes(&[0u8; 31]).is_err());
    }
}
