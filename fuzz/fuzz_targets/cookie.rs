//! Arbitrary `Cookie` header bytes: the session must load without panicking, and an
//! input that is not the real signed cookie must never open the stored session.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|header: &[u8]| {
    let w = common::world();
    w.rt.block_on(async {
        let scope = w.engine.start([header], true);
        let session = scope.session();
        session.load().await.expect("the memory store never fails");
        if !session.is_new().await.unwrap() {
            // only the genuine cookie value may open the stored session
            let genuine = w.cookie.trim_start_matches("id=");
            assert!(
                header.windows(genuine.len()).any(|win| win == genuine.as_bytes()),
                "forged cookie accepted: {:?}",
                String::from_utf8_lossy(header)
            );
        }
        let _ = scope.finish().await;
    });
});
