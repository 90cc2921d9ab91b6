//! actix-web 4 adapter of **distributed-session**: [`SessionMiddleware`].
//!
//! Wrap the app in a [`SessionMiddleware`] built from the app's store, then take a
//! [`Session`](session_core::Session) in any handler (the extractor and `SessionExt`
//! live in `session-core`, behind its `actix` feature, so the facade has one `Session`
//! type for both frameworks). Everything else (cookies, loading, locking, committing
//! before the response leaves) is done by `session-core`; this crate only moves headers
//! and responses between it and actix-web.
//!
//! ```
//! use actix_web::{web, App};
//! use session_actix::SessionMiddleware;
//! use session_core::{Error, Session};
//! use session_memory::MemoryCache;
//!
//! async fn counter(session: Session) -> Result<String, Error> {
//!     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
//!     session.insert("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! let store = MemoryCache::default();
//! let app = App::new()
//!     .wrap(SessionMiddleware::new(store.clone()))
//!     .route("/counter", web::get().to(counter));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod middleware;

pub use builder::SessionMiddlewareBuilder;
pub use middleware::{InnerSessionMiddleware, SessionMiddleware};
