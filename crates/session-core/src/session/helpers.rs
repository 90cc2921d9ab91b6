//! The seed's typed helpers (`Get-KrSessionString`, `Set-KrSessionInt32`, ...): thin
//! names over [`Session::get`] and [`Session::insert`], so each Rust type has one encoding.

use super::Session;
use crate::error::Result;

impl Session {
    /// The seed's `Get-KrSessionString`: [`get::<String>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let user = session.get_string("user").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_string(&self, key: &str) -> Result<Option<String>> {
        self.get(key).await
    }

    /// The seed's `Set-KrSessionString`: [`insert`](Self::insert) of a string.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_string("user", "max").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_string(&self, key: &str, value: &str) -> Result<()> {
        self.insert(key, value).await
    }

    /// The seed's `Get-KrSessionInt32`: [`get::<i32>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let n = session.get_i32("counter").await?.unwrap_or(0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_i32(&self, key: &str) -> Result<Option<i32>> {
        self.get(key).await
    }

    /// The seed's `Set-KrSessionInt32`: [`insert`](Self::insert) of an `i32`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_i32("counter", 5).await?;
    /// assert_eq!(session.get::<i32>("counter").await?, Some(5));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_i32(&self, key: &str, value: i32) -> Result<()> {
        self.insert(key, value).await
    }

    /// [`get::<i64>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let big = session.get_i64("bytes_sent").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_i64(&self, key: &str) -> Result<Option<i64>> {
        self.get(key).await
    }

    /// [`insert`](Self::insert) of an `i64`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_i64("bytes_sent", 1 << 40).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_i64(&self, key: &str, value: i64) -> Result<()> {
        self.insert(key, value).await
    }

    /// [`get::<bool>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let dark = session.get_bool("dark_mode").await?.unwrap_or(false);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key).await
    }

    /// [`insert`](Self::insert) of a `bool`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_bool("dark_mode", true).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_bool(&self, key: &str, value: bool) -> Result<()> {
        self.insert(key, value).await
    }

    /// [`get::<Vec<u8>>`](Self::get): bytes, stored as a JSON array like any `Vec<u8>`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let nonce = session.get_bytes("nonce").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get(key).await
    }

    /// [`insert`](Self::insert) of bytes (a JSON array, about 3.5 bytes per byte: keep
    /// large binary data out of sessions).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_bytes("nonce", vec![1, 2, 3]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_bytes(&self, key: &str, value: impl AsRef<[u8]>) -> Result<()> {
        self.insert(key, value.as_ref()).await
    }
}
