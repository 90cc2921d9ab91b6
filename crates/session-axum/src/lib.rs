//! axum 0.8 adapter of **distributed-session**: [`SessionLayer`].
//!
//! Add a [`SessionLayer`] built from the app's store to the router, then take a
//! [`Session`](session_core::Session) in any handler (the extractor itself lives in
//! `session-core`, behind its `axum` feature, so the facade has one `Session` type for
//! both frameworks). Everything else (cookies, loading, locking, committing before the
//! response leaves) is done by `session-core`; this crate only moves headers and
//! responses between it and axum.
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_axum::SessionLayer;
//! use session_core::{Error, Session};
//! use session_memory::MemoryCache;
//!
//! async fn counter(session: Session) -> Result<String, Error> {
//!     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
//!     session.insert("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/counter", get(counter))
//!     .layer(SessionLayer::new(MemoryCache::default()));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod layer;
mod service;

pub use layer::SessionLayer;
pub use service::SessionService;
