//! The ceiling of an HTTP benchmark: a bare actix-web server that answers
//! every GET with the very bytes storefront answered for the page being
//! measured (captured by the benchmark script into a file), with no actors,
//! cache, database or middleware. Benchmarks report storefront's throughput
//! as a ratio to this one, measured in the same run.
//!
//!     cargo run --release --example bare_json -- PORT BODY_FILE

use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .and_then(|raw| raw.parse().ok())
        .expect("usage: bare_json PORT BODY_FILE");
    let body = Bytes::from(std::fs::read(
        args.next().expect("usage: bare_json PORT BODY_FILE"),
    )?);
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::get().to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
