//! The framework-agnostic core of **distributed-session**: server-side, cookie-keyed
//! session state with the semantics of ASP.NET Core sessions, and one thing none of
//! the usual session libraries do: the requests of one session are serialized, so
//! concurrent requests never lose each other's updates.
//!
//! - [`DistributedCache`]: the store port (`IDistributedCache`), implemented by
//!   `session-memory`, `session-redis` and `session-sqlserver`;
//! - [`SessionLock`]: the optional lease-lock capability that serializes a session's
//!   requests across processes;
//! - [`Session`]: the handle handlers use (`ISession`);
//! - [`SessionEngine`]: configuration, cookie signing, the lock-per-session table and
//!   the commit at the end of each request. Framework adapters (`session-axum`,
//!   `session-actix`) only move headers between it and their framework.
//!
//! # Example
//!
//! A framework adapter drives the engine like this (here with a toy cache that shows
//! what implementing [`DistributedCache`] takes):
//!
//! ```
//! use std::{collections::HashMap, sync::Mutex};
//! use session_core::{async_trait, DistributedCache, EntryOptions, Outcome, SessionEngine};
//!
//! #[derive(Default)]
//! struct ToyCache(Mutex<HashMap<String, Vec<u8>>>);
//!
//! #[async_trait]
//! impl DistributedCache for ToyCache {
//!     async fn get(&self, key: &str) -> session_core::Result<Option<Vec<u8>>> {
//!         Ok(self.0.lock().unwrap().get(key).cloned())
//!     }
//!     async fn set(&self, key: &str, value: Vec<u8>, _: EntryOptions) -> session_core::Result<()> {
//!         self.0.lock().unwrap().insert(key.to_owned(), value);
//!         Ok(())
//!     }
//!     async fn refresh(&self, _key: &str) -> session_core::Result<()> { Ok(()) }
//!     async fn remove(&self, key: &str) -> session_core::Result<()> {
//!         self.0.lock().unwrap().remove(key);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> session_core::Result<()> {
//! let engine = SessionEngine::builder().build(ToyCache::default())?;
//!
//! // request 1: no cookie; the handler writes, so the response sets the cookie
//! let scope = engine.start([], true);
//! scope.session().set_i32("counter", 1).await?;
//! let Outcome::SetCookie(set_cookie) = scope.finish().await else { panic!() };
//! let cookie = set_cookie.split(';').next().unwrap().to_owned(); // "Kr.Session=..."
//!
//! // request 2: the browser sends the cookie back
//! let scope = engine.start([cookie.as_bytes()], true);
//! assert_eq!(scope.session().get_i32("counter").await?, Some(1));
//! assert_eq!(scope.finish().await, Outcome::Unchanged); // read only: refreshed, no cookie
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod cookie_codec;
mod cookie_header;
mod engine;
mod error;
mod id;
mod lock;
mod options;
mod payload;
mod session;
mod start_up;
mod values;

pub use async_trait::async_trait;
pub use cache::{DistributedCache, EntryOptions};
pub use cookie_codec::{KeyRing, SigningKey, MIN_KEY_LEN};
pub use engine::{ErrorResponse, Outcome, SessionEngine, SessionEngineBuilder, SessionScope};
pub use error::{chain as error_chain, BoxError, Error, Result};
pub use id::{Redacted, SessionId};
pub use lock::{CommitOp, LockAttempt, LockToken, ReleaseRetry, SessionLock};
pub use options::{CookieOptions, SameSite, SecurePolicy, TrustedProxy};
pub use payload::MAX_PAYLOAD;
pub use session::Session;
pub use start_up::{start_up_check, START_UP_WAIT};
