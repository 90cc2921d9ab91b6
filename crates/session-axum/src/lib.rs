//! axum 0.8 adapter of **distributed-session**.
//!
//! Add a [`SessionLayer`] built from a [`SessionEngine`] to the router, then take a
//! [`Session`] in any handler. Everything else (cookies, loading, locking, committing
//! before the response leaves) is done by `session-core`; this crate only moves
//! headers and responses between it and axum.
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_axum::{Session, SessionError, SessionLayer};
//! use session_core::SessionEngine;
//! use session_memory::MemoryCache;
//!
//! async fn counter(session: Session) -> Result<String, SessionError> {
//!     let n = session.get_i32("counter").await?.unwrap_or(0) + 1;
//!     session.set_i32("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! # fn main() -> Result<(), session_core::Error> {
//! let engine = SessionEngine::builder().build(MemoryCache::default())?;
//! let app: Router = Router::new()
//!     .route("/counter", get(counter))
//!     .layer(SessionLayer::new(engine));
//! # let _ = app; Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod extract;
mod layer;
mod response;
mod service;

pub use extract::{Session, SessionError, SessionLayerMissing};
pub use layer::SessionLayer;
pub use service::SessionService;
pub use session_core::SessionEngine;
