// Shared by the fuzz targets: one engine over a memory cache, with one stored session
// whose cookie is valid, on a single-threaded runtime.
use std::sync::{Arc, OnceLock};

use session_core::store::DistributedCache;
use session_core::adapter::{Outcome, SessionEngine};
use session_core::SigningKey;
use session_memory::MemoryCache;

#[allow(dead_code)] // each target uses part of the world
pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub cache: Arc<MemoryCache>,
    pub engine: SessionEngine,
    /// `id=<id>.<tag>` of the stored session.
    pub cookie: String,
    /// The stored session's id text (its cache key).
    pub id: String,
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let cache = Arc::new(MemoryCache::default());
        let engine = SessionEngine::builder()
            .signing_key(SigningKey::from_bytes(&[42; 32]).unwrap())
            .build_shared(cache.clone() as Arc<dyn DistributedCache>)
            .unwrap();
        let (cookie, id) = rt.block_on(async {
            let scope = engine.start([], true);
            scope.session().set_string("user", "fuzz").await.unwrap();
            let id = scope.session().id().unwrap().expose().to_owned();
            match scope.finish().await {
                Outcome::SetCookie(set) => (set.split(';').next().unwrap().to_owned(), id),
                other => panic!("{other:?}"),
            }
        });
        World { rt, cache, engine, cookie, id }
    })
}
