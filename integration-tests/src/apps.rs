//! The same small app on both frameworks, served on a free loopback port: the adapter
//! checks (wiring mistakes, errors as responses, forwarding headers, workers) run once
//! over both. Routes:
//!
//! - `/counter`: increments `counter` (a `Session` extractor, `Result<_, Error>`);
//! - `/fail`: returns a lock timeout as `Err(Error)`;
//! - `/optional`: `Option<Session>`, `some` or `none`;
//! - `/bare/session` and `/bare/optional`: the same extractors, outside the layer.

use std::{net::SocketAddr, time::Duration};

use distributed_session::{
    Error, MemoryCache, SecurePolicy, Session, SessionLayer, SessionMiddleware, TrustedProxy,
};

use crate::Framework;

/// How the app wires its sessions.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The trusted proxy's forwarding header, if any.
    pub trusted_proxy: Option<TrustedProxy>,
    /// The session layer or middleware applied twice (a wiring mistake).
    pub twice: bool,
    /// actix-web workers, each building its middleware in the app factory (0: one).
    pub workers: usize,
}

/// A running app.
pub struct App {
    pub url: String,
    stop: Box<dyn FnOnce() + Send>,
}

impl App {
    pub fn stop(self) {
        (self.stop)();
    }
}

async fn counter(session: Session) -> Result<String, Error> {
    let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
    session.insert("counter", n).await?;
    Ok(n.to_string())
}

async fn fail(_session: Session) -> Result<String, Error> {
    Err(Error::LockTimeout {
        after: Duration::from_secs(1),
    })
}

async fn optional(session: Option<Session>) -> &'static str {
    if session.is_some() {
        "some"
    } else {
        "none"
    }
}

/// Serves the app on `framework` over `store`, on plain HTTP with
/// [`SecurePolicy::SameAsRequest`]: cookies are `Secure` only when the trusted proxy (if
/// any) says the client used HTTPS.
pub async fn serve(framework: Framework, store: MemoryCache, setup: Setup) -> App {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    match framework {
        Framework::Axum => serve_axum(listener, store, setup, url).await,
        Framework::Actix => serve_actix(listener, store, setup, url),
    }
}

async fn serve_axum(listener: std::net::TcpListener, store: MemoryCache, setup: Setup, url: String) -> App {
    use axum::{routing::get, Router};
    let mut layer = SessionLayer::new(store).with_secure_policy(SecurePolicy::SameAsRequest);
    if let Some(proxy) = setup.trusted_proxy {
        layer = layer.with_trusted_proxy(proxy);
    }
    let mut sessions = Router::new()
        .route("/counter", get(counter))
        .route("/fail", get(fail))
        .route("/optional", get(optional))
        .layer(layer.clone());
    if setup.twice {
        sessions = sessions.layer(layer);
    }
    let app = Router::new()
        .route("/bare/session", get(counter))
        .route("/bare/optional", get(optional))
        .merge(sessions);
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    App {
        url,
        stop: Box::new(move || task.abort()),
    }
}

fn serve_actix(listener: std::net::TcpListener, store: MemoryCache, setup: Setup, url: String) -> App {
    use actix_web::{middleware::Condition, web, HttpServer};
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = setup.workers.max(1);
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                // built in the factory, once per worker, as actix-session users do
                let mut builder = SessionMiddleware::builder(store.clone())
                    .cookie_secure_policy(SecurePolicy::SameAsRequest);
                if let Some(proxy) = setup.trusted_proxy {
                    builder = builder.trusted_proxy(proxy);
                }
                actix_web::App::new()
                    .service(
                        web::scope("/bare")
                            .route("/session", web::get().to(counter))
                            .route("/optional", web::get().to(optional)),
                    )
                    .service(
                        web::scope("")
                            .wrap(Condition::new(setup.twice, builder.clone().build()))
                            .wrap(builder.build())
                            .route("/counter", web::get().to(counter))
                            .route("/fail", web::get().to(fail))
                            .route("/optional", web::get().to(optional)),
                    )
            })
            .workers(workers)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
            let _ = tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = rx.recv().unwrap();
    App {
        url,
        stop: Box::new(move || {
            std::thread::spawn(move || actix_rt::System::new().block_on(handle.stop(false)));
        }),
    }
}
