//! actix-web 4 adapter of **distributed-session**.
//!
//! Wrap the app in a [`SessionMiddleware`] built from the app's one [`SessionEngine`],
//! then take a [`Session`] in any handler (or call [`SessionExt::get_session`]). Every
//! rule (cookies, loading, locking, committing before the response leaves) lives in
//! `session-core`; this crate only moves headers and responses between it and actix-web.
//!
//! ```
//! use actix_web::{web, App};
//! use session_actix::{Session, SessionError, SessionMiddleware};
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
//! // inside HttpServer::new(move || ...):
//! let app = App::new()
//!     .wrap(SessionMiddleware::new(engine.clone()))
//!     .route("/counter", web::get().to(counter));
//! # let _ = app; Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod extract;
mod middleware;
mod response;

pub use extract::{Session, SessionError, SessionExt, SessionMiddlewareMissing};
pub use middleware::{InnerSessionMiddleware, SessionMiddleware};
pub use session_core::SessionEngine;
