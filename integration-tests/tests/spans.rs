//! The request span: one `session` span per request that uses its session, with the
//! redacted id, the lock wait and the load and commit times as fields, and the engine's
//! logs of that request inside it. Observed with a recording `tracing` layer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::MemoryCache;
use tracing::{
    field::{Field, Visit},
    span, Event, Subscriber,
};
use tracing_subscriber::{layer::Context, prelude::*, registry::LookupSpan, Layer};

/// What the layer saw: each `session` span's fields, and each event with the name of the
/// span it was in.
#[derive(Default)]
struct Seen {
    fields: Vec<(String, String)>,
    events: Vec<(String, Option<String>)>,
    spans: usize,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.name().to_owned(), value.to_string()));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "session" {
            let mut seen = self.0.lock().unwrap();
            seen.spans += 1;
            attrs.record(&mut Fields(&mut seen.fields));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if ctx.span(id).is_some_and(|s| s.name() == "session") {
            values.record(&mut Fields(&mut self.0.lock().unwrap().fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut message = Vec::new();
        event.record(&mut Fields(&mut message));
        let text = message
            .into_iter()
            .find(|(name, _)| name == "message")
            .map(|(_, value)| value)
            .unwrap_or_default();
        let parent = ctx.event_span(event).map(|s| s.name().to_owned());
        self.0.lock().unwrap().events.push((text, parent));
    }
}

#[tokio::test]
async fn one_span_per_request_with_its_fields_and_logs() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(
        recorder
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::DEBUG),
    );
    let _default = tracing::subscriber::set_default(subscriber);

    let engine = SessionEngine::builder().build(MemoryCache::default()).unwrap();
    let scope = engine.start([], true);
    scope.session().insert("n", 1).await.unwrap();
    let Outcome::SetCookie(_) = scope.finish().await else {
        panic!("a new session")
    };
    // a request that never uses its session makes no span
    let idle = engine.start([], true);
    assert_eq!(idle.finish().await, Outcome::Unchanged);

    let seen = recorder.0.lock().unwrap();
    assert_eq!(seen.spans, 1, "one span, for the request that used its session");
    let field = |name: &str| {
        seen.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {:?}", seen.fields))
    };
    let id = field("session");
    assert!(
        id.ends_with('…') && id.chars().count() == 5,
        "a redacted id: {id}"
    );
    for name in ["load_ms", "commit_ms"] {
        assert!(field(name).parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{name}");
    }
    assert!(
        seen.events
            .iter()
            .any(|(text, parent)| text.contains("session started") && parent.as_deref() == Some("session")),
        "the commit's log is inside the span: {:?}",
        seen.events
    );
}
