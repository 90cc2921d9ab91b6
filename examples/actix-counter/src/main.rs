//! The smallest actix-web app with sessions: a counter per browser, and a cart of serde
//! values.
//!
//! ```sh
//! cargo run -p actix-counter
//! curl -c jar -b jar http://127.0.0.1:8080/counter   # 1, then 2, 3, ...
//! ```

use actix_web::{web, App, HttpServer};
use distributed_session::{Error, MemoryCache, Session, SessionMiddleware, SigningKey};
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
async fn add_to_cart(session: Session, item: web::Path<u32>) -> Result<web::Json<Cart>, Error> {
    let mut cart: Cart = session.get("cart").await?.unwrap_or_default();
    cart.items.push(item.into_inner());
    session.insert("cart", &cart).await?;
    Ok(web::Json(cart))
}

/// Logs out: the session is deleted from the store and its cookie expired.
async fn logout(session: Session) -> Result<&'static str, Error> {
    session.flush().await?;
    Ok("bye")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    // In production: a secret of 32+ bytes from your configuration, the same on every
    // instance (a Redis or SQL Server store refuses to start without one).
    let key = match std::env::var("SESSION_SIGNING_KEY") {
        Ok(secret) => SigningKey::from_bytes(secret.as_bytes()).map_err(std::io::Error::other)?,
        Err(_) => SigningKey::generate(),
    };
    // One store, created outside the factory: every worker's middleware shares its data
    // and its lock table.
    let store = MemoryCache::default();
    let sessions = SessionMiddleware::builder(store)
        .cookie_secure(false) // this example serves plain HTTP; the default is `Secure`
        .signing_key(key);
    sessions.clone().try_build().map_err(std::io::Error::other)?; // errors here, at start-up
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone().build())
            .route("/counter", web::get().to(counter))
            .route("/cart/{item}", web::get().to(add_to_cart))
            .route("/logout", web::get().to(logout))
    })
    .bind(("127.0.0.1", 8080))?;
    println!("listening on http://127.0.0.1:8080");
    server.run().await
}
