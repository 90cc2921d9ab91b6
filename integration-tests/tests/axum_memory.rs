//! The behaviour suite on axum with the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::{behaviour_suite, Framework, Target};
use sessions_tutorial::StoreKind;

behaviour_suite!(axum_memory, Some(Target::new(Framework::Axum, StoreKind::Memory)));
