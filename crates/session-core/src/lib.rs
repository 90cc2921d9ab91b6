//! The framework-agnostic core of **distributed-session**: server-side, cookie-keyed
//! session state with the semantics of ASP.NET Core sessions, and one thing the usual
//! session libraries do not do: the requests of one session are serialized, so
//! concurrent requests never lose each other's updates.
//!
//! Three audiences, three places:
//!
//! - **Application authors**: [`Session`] (the handle, and the extractor on axum and
//!   actix-web through the `axum` and `actix` features), [`Error`] (returned with `?`
//!   from handlers, rendered as the documented response), [`SigningKey`], [`KeyRing`]
//!   and the cookie enums. The layer and middleware live in `session-axum` and
//!   `session-actix`; most apps use the `distributed-session` facade.
//! - **Store authors**: [`store`]: the [`DistributedCache`](store::DistributedCache)
//!   port (`IDistributedCache`), its [`SessionLock`](store::SessionLock) capability, and
//!   the contract suite behind the `testing` feature.
//! - **Adapter authors**: [`adapter`]: the engine a layer drives, one scope per request.
//!
//! # Example
//!
//! An adapter drives the engine like this (here over a toy store, to show what
//! implementing [`DistributedCache`](store::DistributedCache) takes):
//!
//! ```
//! use std::{collections::HashMap, sync::Mutex};
//! use session_core::{
//!     adapter::{Outcome, SessionEngine},
//!     store::{async_trait, DistributedCache, EntryOptions},
//! };
//!
//! #[derive(Default)]
//! struct ToyStore(Mutex<HashMap<String, Vec<u8>>>);
//!
//! #[async_trait]
//! impl DistributedCache for ToyStore {
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
//!     fn is_distributed(&self) -> bool { false } // in-process: no signing key needed
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> session_core::Result<()> {
//! let engine = SessionEngine::builder().build(ToyStore::default())?;
//!
//! // request 1: no cookie; the handler writes, so the response sets the cookie
//! let scope = engine.start([], true);
//! scope.session().insert("counter", 1).await?;
//! let Outcome::SetCookie(set_cookie) = scope.finish().await else { panic!() };
//! let cookie = set_cookie.split(';').next().unwrap().to_owned(); // "id=..."
//!
//! // request 2: the browser sends the cookie back
//! let scope = engine.start([cookie.as_bytes()], true);
//! assert_eq!(scope.session().get::<i32>("counter").await?, Some(1));
//! assert_eq!(scope.finish().await, Outcome::Unchanged); // read only: refreshed, no cookie
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod clock;
mod cookie_codec;
mod cookie_header;
mod engine;
mod entry;
mod error;
mod events;
mod expiry;
mod framework;
mod id;
mod lease;
mod lock;
mod metrics;
mod options;
mod payload;
mod principal;
mod recall;
mod session;
mod start_up;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod values;

pub use cookie_codec::{KeyRing, SigningKey, MIN_KEY_LEN};
pub use engine::{SessionInfo, SessionManager};

/// Describes every instrument (unit and help text) to the installed `metrics` recorder;
/// call it once after installing one. The instruments are listed in the guide
/// (docs/sessions.md, "Metrics").
///
/// ```
/// session_core::describe_metrics(); // no recorder installed: nothing happens
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn describe_metrics() {
    metrics::describe();
}
pub use error::{Error, Result};
pub use events::SessionEvent;
#[cfg(feature = "actix")]
pub use framework::actix::SessionExt;
pub use framework::SessionRejection;
pub use id::{Redacted, SessionId};
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use metrics::{METRICS_BYTES_BUCKETS, METRICS_SECONDS_BUCKETS};
pub use options::{SameSite, SecurePolicy, TrustedProxy};
pub use payload::MAX_PAYLOAD;
pub use session::Session;

/// For store authors: the [`DistributedCache`](store::DistributedCache) port, its
/// session-lock capability and their types.
///
/// A store implements [`DistributedCache`](store::DistributedCache) (get, set, refresh,
/// remove with expiries); to serialize a session's requests across processes it also
/// implements [`SessionLock`](store::SessionLock); to share one in-process lock table
/// between its clones it keeps a [`LocalLocks`](store::LocalLocks). The `testing`
/// feature ships the contract suite every in-tree store passes.
pub mod store {
    pub use crate::cache::{DistributedCache, LocalLocks};
    pub use crate::entry::EntryOptions;
    /// The machinery shared by stores with a cross-instance lease lock.
    pub mod lease {
        pub use crate::lease::*;
    }
    pub use crate::error::BoxError;
    pub use crate::expiry::{ExpiryWatcher, ExpiryWatchers};
    pub use crate::lock::{CommitOp, Fence, Keeping, Kept, LockAttempt, LockToken, SessionLock};
    pub use crate::principal::{principal_digest, IndexedSession, Owner, PrincipalIndex};
    pub use crate::recall::{RecallWatchers, Recalls};
    pub use async_trait::async_trait;
}

/// For framework-adapter authors: the engine that an adapter's layer or middleware
/// drives, one [`SessionScope`](adapter::SessionScope) per request.
pub mod adapter {
    pub use crate::engine::{
        Action, ErrorResponse, Outcome, ResponseHeader, SessionConfig, SessionEngine, SharedStore,
    };
    pub use crate::session::scope::{RequestHead, SessionScope};
}

/// The workspace's own glue between its crates; not a public API, no stability promise.
#[doc(hidden)]
pub mod __private {
    pub use crate::error::chain as error_chain;
    pub use crate::start_up::{start_up_check, START_UP_WAIT};

    /// A store that holds nothing, for doctests.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct NullStore;

    #[async_trait::async_trait]
    impl crate::store::DistributedCache for NullStore {
        async fn get(&self, _: &str) -> crate::Result<Option<Vec<u8>>> {
            Ok(None)
        }
        async fn set(&self, _: &str, _: Vec<u8>, _: crate::store::EntryOptions) -> crate::Result<()> {
            Ok(())
        }
        async fn refresh(&self, _: &str) -> crate::Result<()> {
            Ok(())
        }
        async fn remove(&self, _: &str) -> crate::Result<()> {
            Ok(())
        }
        fn is_distributed(&self) -> bool {
            false
        }
    }
}
