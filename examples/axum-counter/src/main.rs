//! The smallest axum app with sessions: a counter per browser, and a cart of serde values.
//!
//! ```sh
//! cargo run -p axum-counter
//! curl -c jar -b jar http://127.0.0.1:3000/counter   # 1, then 2, 3, ...
//! ```

use axum::{extract::Path, routing::get, Json, Router};
use distributed_session::{Error, MemoryCache, Session, SessionLayer, SigningKey};
use serde::{Deserialize, Serialize};

/// Counts the requests of this browser's session.
async fn counter(session: Session) -> Result<String, Error> {
    let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
    session.insert("counter", n).await?;
    Ok(n.to_string())
}

/// Any serde type is a session value.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cart {
    items: Vec<u32>,
}

/// Adds an item to the cart and shows it.
async fn add_to_cart(session: Session, Path(item): Path<u32>) -> Result<Json<Cart>, Error> {
    let mut cart: Cart = session.get("cart").await?.unwrap_or_default();
    cart.items.push(item);
    session.insert("cart", &cart).await?;
    Ok(Json(cart))
}

/// Logs out: the session is deleted from the store and its cookie expired.
async fn logout(session: Session) -> Result<&'static str, Error> {
    session.flush().await?;
    Ok("bye")
}

/// A page that works with and without a session layer around it.
async fn whoami(session: Option<Session>) -> Result<String, Error> {
    let Some(session) = session else {
        return Ok("no sessions here".into());
    };
    Ok(session
        .get::<String>("user")
        .await?
        .unwrap_or_else(|| "anonymous".into()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In production: a secret of 32+ bytes from your configuration, the same on every
    // instance (a Redis or SQL Server store refuses to start without one).
    let key = match std::env::var("SESSION_SIGNING_KEY") {
        Ok(secret) => SigningKey::from_bytes(secret.as_bytes())?,
        Err(_) => SigningKey::generate(),
    };
    let sessions = SessionLayer::new(MemoryCache::default())
        .with_secure(false) // this example serves plain HTTP; the default is `Secure`
        .with_signing_key(key)
        .try_build()?; // configuration errors here, at start-up
    let app = Router::new()
        .route("/counter", get(counter))
        .route("/cart/{item}", get(add_to_cart))
        .route("/logout", get(logout))
        .route("/whoami", get(whoami))
        .layer(sessions);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
