//! The tokens whose release went out behind their cut-off lock call (see `cut_off`), so
//! that the engine's own release of such a token needs no round trip.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
};

use session_core::store::LockToken;

/// More tokens than this waiting for the engine's release means releases go missing (a
/// caller that never releases): the record is cleared, and the engine's releases that
/// find nothing recorded just go out again.
const MOST_RECORDED: usize = 4096;

/// The tokens whose release was sent behind their cut-off lock call, until the engine
/// asks to release them.
#[derive(Debug, Default)]
pub(crate) struct Released {
    tokens: Mutex<HashSet<[u8; 16]>>,
}

impl Released {
    /// Whether the release of `token` was sent already; forgets it.
    pub(crate) fn take(&self, token: &LockToken) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token.as_bytes())
    }

    pub(crate) fn record(&self, token: &LockToken) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MOST_RECORDED {
            tokens.clear();
        }
        tokens.insert(*token.as_bytes());
    }
}
