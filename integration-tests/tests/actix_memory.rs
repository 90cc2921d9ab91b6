//! The behaviour suite on actix-web with the in-memory store.

use integration_tests::{behaviour_suite, Framework, Target};
use sessions_tutorial::StoreKind;

behaviour_suite!(
    actix_memory,
    Some(Target::new(Framework::Actix, StoreKind::Memory))
);
