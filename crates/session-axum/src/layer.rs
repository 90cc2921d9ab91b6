//! The tower `Layer` that gives every request a session.

use session_core::SessionEngine;
use tower_layer::Layer;

use crate::service::SessionService;

/// Gives each request a [`Session`](crate::Session) and commits it before the response
/// is handed back. Build it from the app's one [`SessionEngine`].
#[derive(Debug, Clone)]
pub struct SessionLayer {
    engine: SessionEngine,
}

impl SessionLayer {
    /// A layer over `engine`.
    pub fn new(engine: SessionEngine) -> Self {
        SessionLayer { engine }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.engine.clone())
    }
}
