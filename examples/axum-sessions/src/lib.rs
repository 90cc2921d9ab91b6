//! The session tutorial on axum: [`router`] maps the routes of
//! [`sessions_tutorial::Routes`], [`start`] serves them over HTTPS (self-signed) or
//! plain HTTP as the command line says.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::{collections::HashMap, future::IntoFuture, net::SocketAddr, time::Duration};

use anyhow::Context;
use axum::{
    extract::Query,
    http::{header::CONTENT_TYPE, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use axum_server::{tls_rustls::RustlsConfig, Handle};
use distributed_session::{Session, SessionLayer};
use sessions_tutorial::{Args, Reply, ReplyBody, Routes, SelfSigned};
use tokio::{sync::oneshot, task::JoinHandle};

type Params = Query<HashMap<String, String>>;

struct Out(Reply);

impl IntoResponse for Out {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match self.0.body {
            ReplyBody::Text(text) => (status, text).into_response(),
            ReplyBody::Json(body) => with_type((status, body).into_response(), "application/json"),
            ReplyBody::Prometheus(body) => with_type(
                (status, body).into_response(),
                "text/plain; version=0.0.4; charset=utf-8",
            ),
        }
    }
}

fn with_type(mut response: Response, content_type: &'static str) -> Response {
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str)
}

/// The tutorial's session layer: the store and options `args` choose, with the seed's
/// cookie name `Kr.Session`.
///
/// # Errors
/// If the store cannot be set up or an option is invalid (checked here, at start-up).
pub async fn session_layer(args: &Args) -> anyhow::Result<SessionLayer> {
    let mut layer = SessionLayer::new(args.store().await?)
        .with_cookie_name("Kr.Session") // the seed's name (the library's default is `id`)
        .with_secure(!args.http) // `--http` serves plain HTTP: no `Secure` there
        .with_idle_timeout(args.idle_timeout())
        .with_io_timeout(args.io_timeout())
        .with_lock_lease(args.lock_lease())
        .with_hot_sessions(args.hot_sessions);
    if let Some(key) = args.signing_key()? {
        layer = layer.with_signing_key(key);
    }
    Ok(layer.try_build()?)
}

/// The tutorial's routes behind `layer`.
pub fn router(layer: SessionLayer) -> Router {
    Router::new()
        .route("/hello", get(|| async { Out(Routes::hello()) }))
        .route(
            "/session/counter",
            get(|s: Session| async move { Out(Routes::counter(&s).await) }),
        )
        .route(
            "/session/login",
            get(|s: Session, q: Params| async move { Out(Routes::login(&s, param(&q, "user")).await) }),
        )
        .route(
            "/session/whoami",
            get(|s: Session| async move { Out(Routes::whoami(&s).await) }),
        )
        .route(
            "/session/logout",
            get(|s: Session| async move { Out(Routes::logout(&s).await) }),
        )
        .route(
            "/session/sessions",
            get(|s: Session| async move { Out(Routes::sessions(&s).await) }),
        )
        .route(
            "/session/logout-others",
            get(|s: Session| async move { Out(Routes::logout_others(&s).await) }),
        )
        .route(
            "/session/logout-everywhere",
            get(|s: Session| async move { Out(Routes::logout_everywhere(&s).await) }),
        )
        .route(
            "/session/set",
            get(|s: Session, q: Params| async move {
                Out(Routes::set(&s, param(&q, "key"), param(&q, "value")).await)
            }),
        )
        .route(
            "/session/get",
            get(|s: Session, q: Params| async move { Out(Routes::get(&s, param(&q, "key")).await) }),
        )
        .layer(layer)
}

/// A running server.
pub struct Running {
    /// Base URL, e.g. `https://127.0.0.1:5000`.
    pub url: String,
    stop: Stopper,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// How to stop the server: plain HTTP runs on `axum::serve`, HTTPS on `axum-server`.
enum Stopper {
    Http(oneshot::Sender<()>),
    Https(Handle),
}

impl Running {
    /// Stops accepting, lets requests in flight finish (at most 5 s), and waits.
    pub async fn stop(self) {
        match self.stop {
            Stopper::Http(tx) => {
                let _ = tx.send(());
            }
            Stopper::Https(handle) => handle.graceful_shutdown(Some(Duration::from_secs(5))),
        }
        match tokio::time::timeout(Duration::from_secs(6), self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!(%error, "server stopped with an error"),
            Ok(Err(error)) => tracing::error!(%error, "server task failed"),
            Err(_) => tracing::warn!("connections still busy after 5 s (a request running, or one not fully received); stopping anyway"),
        }
    }
}

/// Builds the session layer from `args` and serves the tutorial in a background task.
///
/// # Errors
/// If the store cannot be set up, the address cannot be bound, or TLS fails.
pub async fn start(args: Args) -> anyhow::Result<Running> {
    // the recorder first: the layer's engine registers its instruments when it is built
    let metrics = match args.metrics {
        true => Some(sessions_tutorial::metrics::prometheus()?),
        false => None,
    };
    let mut app = router(session_layer(&args).await?);
    if let Some(handle) = metrics {
        // outside the session layer: a scrape touches no session
        app = app.route(
            "/metrics",
            get(move || async move { Out(Routes::metrics(&handle)) }),
        );
    }
    let app = app.into_make_service();
    let listener = std::net::TcpListener::bind((args.ip, args.port))
        .with_context(|| format!("binding {}:{}", args.ip, args.port))?;
    listener.set_nonblocking(true)?;
    let addr: SocketAddr = listener.local_addr()?;
    let (stop, task) = if args.http {
        let (tx, rx) = oneshot::channel::<()>();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        (Stopper::Http(tx), tokio::spawn(server.into_future()))
    } else {
        let cert = SelfSigned::generate(&[args.ip.to_string()])?;
        let config = RustlsConfig::from_config(cert.rustls_config(true)?);
        let handle = Handle::new();
        let server = axum_server::from_tcp_rustls(listener, config).handle(handle.clone());
        (Stopper::Https(handle), tokio::spawn(server.serve(app)))
    };
    let url = format!("{}://{}", args.scheme(), addr);
    tracing::info!(%url, store = ?args.store, "session tutorial listening");
    Ok(Running { url, stop, task })
}

impl sessions_tutorial::Tutorial for Running {
    fn url(&self) -> &str {
        &self.url
    }

    async fn stop(self) {
        Running::stop(self).await;
    }
}
