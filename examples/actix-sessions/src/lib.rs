//! The session tutorial on actix-web: [`configure`] maps the routes of
//! [`sessions_tutorial::Routes`], [`start`] serves them over HTTPS (self-signed) or
//! plain HTTP as the command line says, on an actix system of its own.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::{collections::HashMap, net::SocketAddr, thread::JoinHandle};

use actix_web::{
    dev::ServerHandle,
    http::{header::ContentType, StatusCode},
    web, App, HttpResponse, HttpServer,
};
use anyhow::Context;
use distributed_session::{Session, SessionMiddleware, SessionMiddlewareBuilder};
use sessions_tutorial::{Args, Reply, ReplyBody, Routes, SelfSigned};
use tokio::sync::oneshot;

type Params = web::Query<HashMap<String, String>>;

fn out(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.body {
        ReplyBody::Text(text) => HttpResponse::build(status)
            .content_type(ContentType::plaintext())
            .body(text),
        ReplyBody::Json(body) => HttpResponse::build(status)
            .content_type(ContentType::json())
            .body(body),
        ReplyBody::Prometheus(body) => HttpResponse::build(status)
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(body),
    }
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str)
}

async fn hello() -> HttpResponse {
    out(Routes::hello())
}
async fn counter(s: Session) -> HttpResponse {
    out(Routes::counter(&s).await)
}
async fn login(s: Session, q: Params) -> HttpResponse {
    out(Routes::login(&s, param(&q, "user")).await)
}
async fn whoami(s: Session) -> HttpResponse {
    out(Routes::whoami(&s).await)
}
async fn logout(s: Session) -> HttpResponse {
    out(Routes::logout(&s).await)
}
async fn sessions(s: Session) -> HttpResponse {
    out(Routes::sessions(&s).await)
}
async fn logout_others(s: Session) -> HttpResponse {
    out(Routes::logout_others(&s).await)
}
async fn logout_everywhere(s: Session) -> HttpResponse {
    out(Routes::logout_everywhere(&s).await)
}
async fn set(s: Session, q: Params) -> HttpResponse {
    out(Routes::set(&s, param(&q, "key"), param(&q, "value")).await)
}
async fn get(s: Session, q: Params) -> HttpResponse {
    out(Routes::get(&s, param(&q, "key")).await)
}

/// Registers the tutorial's routes (the app must be wrapped in a [`SessionMiddleware`]).
/// Each answers GET and HEAD, and other methods with 405 and `Allow`, as axum's `get`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_or_head("/hello", hello))
        .service(get_or_head("/session/counter", counter))
        .service(get_or_head("/session/login", login))
        .service(get_or_head("/session/whoami", whoami))
        .service(get_or_head("/session/logout", logout))
        .service(get_or_head("/session/sessions", sessions))
        .service(get_or_head("/session/logout-others", logout_others))
        .service(get_or_head("/session/logout-everywhere", logout_everywhere))
        .service(get_or_head("/session/set", set))
        .service(get_or_head("/session/get", get));
}

/// The resource `path` served by `handler` for GET and HEAD (actix-web sends no body
/// for HEAD).
fn get_or_head<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|| async {
            HttpResponse::MethodNotAllowed()
                .insert_header((actix_web::http::header::ALLOW, "GET,HEAD"))
                .finish()
        }))
}

/// A running server.
pub struct Running {
    /// Base URL, e.g. `https://127.0.0.1:5000`.
    pub url: String,
    handle: ServerHandle,
    thread: JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Stops accepting, lets requests in flight finish (at most 5 s), and waits.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// The tutorial's session middleware, configured (not built): the store and options
/// `args` choose, with the seed's cookie name `Kr.Session`. Each worker builds its own
/// middleware from a clone; clones of one store share its data and its lock table.
///
/// # Errors
/// If the store cannot be set up or an option is invalid (checked here, at start-up).
pub async fn session_middleware(args: &Args) -> anyhow::Result<SessionMiddlewareBuilder> {
    let mut builder = SessionMiddleware::builder(args.store().await?)
        .cookie_name("Kr.Session") // the seed's name (the library's default is `id`)
        .cookie_secure(!args.http) // `--http` serves plain HTTP: no `Secure` there
        .idle_timeout(args.idle_timeout())
        .io_timeout(args.io_timeout())
        .lock_lease(args.lock_lease())
        .hot_sessions(args.hot_sessions);
    if let Some(key) = args.signing_key()? {
        builder = builder.signing_key(key);
    }
    builder.clone().try_build()?;
    Ok(builder)
}

/// Builds the session middleware from `args` and serves the tutorial on an actix system running in
/// its own thread (so it can be started from any async runtime, or none).
///
/// # Errors
/// If the store cannot be set up, the address cannot be bound, or TLS fails.
pub async fn start(args: Args) -> anyhow::Result<Running> {
    let (scheme, store) = (args.scheme(), args.store);
    let (ready_tx, ready_rx) = oneshot::channel::<anyhow::Result<(ServerHandle, SocketAddr)>>();
    let thread = std::thread::Builder::new()
        .name("actix-sessions".into())
        .spawn(move || {
            actix_rt::System::new().block_on(async move {
                match bind(&args).await {
                    Ok((server, addr)) => {
                        let _ = ready_tx.send(Ok((server.handle(), addr)));
                        if let Err(error) = server.await {
                            tracing::error!(%error, "server stopped with an error");
                        }
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                    }
                }
            })
        })
        .context("starting the server thread")?;
    let (handle, addr) = ready_rx.await.context("the server thread stopped")??;
    let url = format!("{scheme}://{addr}");
    tracing::info!(%url, store = ?store, "session tutorial listening");
    Ok(Running { url, handle, thread })
}

async fn bind(args: &Args) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)> {
    // the recorder first: each worker's engine registers its instruments when it is built
    let metrics = match args.metrics {
        true => Some(sessions_tutorial::metrics::prometheus()?),
        false => None,
    };
    let sessions = session_middleware(args).await?;
    let listener = std::net::TcpListener::bind((args.ip, args.port))
        .with_context(|| format!("binding {}:{}", args.ip, args.port))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let app = App::new().wrap(sessions.clone().build()).configure(configure);
        match metrics.clone() {
            Some(handle) => app.route(
                "/metrics",
                web::get().to(move || {
                    let handle = handle.clone();
                    async move { out(Routes::metrics(&handle)) }
                }),
            ),
            None => app,
        }
    })
    .disable_signals()
    .shutdown_timeout(5);
    let server = if args.http {
        server.listen(listener)?
    } else {
        let cert = SelfSigned::generate(&[args.ip.to_string()])?;
        let config = std::sync::Arc::unwrap_or_clone(cert.rustls_config(false)?);
        server.listen_rustls_0_23(listener, config)?
    };
    Ok((server.run(), addr))
}

impl sessions_tutorial::Tutorial for Running {
    fn url(&self) -> &str {
        &self.url
    }

    async fn stop(self) {
        Running::stop(self).await;
    }
}
