//! Arbitrary bytes stored under a valid session id: loading must never panic; it
//! either decodes the data or starts a fresh session.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::store::{DistributedCache, EntryOptions};

#[path = "common.rs"]
mod common;

fuzz_target!(|stored: &[u8]| {
    let w = common::world();
    w.rt.block_on(async {
        let options = EntryOptions::sliding(std::time::Duration::from_secs(600));
        w.cache.set(&w.id, stored.to_vec(), options).await.unwrap();
        let scope = w.engine.start([w.cookie.as_bytes()], true);
        let session = scope.session();
        let keys = session.keys().await.expect("decoding never fails the request");
        for key in keys {
            let _ = session.get_string(&key).await;
            let _ = session.get_i32(&key).await;
            let _ = session.get_i64(&key).await;
            let _ = session.get_bool(&key).await;
            let _ = session.get_bytes(&key).await;
            let _ = session.get::<Vec<String>>(&key).await;
        }
        let _ = scope.finish().await;
    });
});
