//! The ceiling of an HTTP benchmark: a bare actix-web server that answers
//! every GET with the very bytes storefront answered for the page being
//! measured (captured by the benchmark script into a file), with no actors,
//! cache, database or middleware. Benchmarks report storefront's throughput
//! as a ratio to this one, measured in the same run. A status and headers
//! may follow, so that the ceiling of a compressed page sends its
//! `Content-Encoding` and that of a `304` is a `304`.
//!
//!     cargo run --release --example bare_json -- PORT BODY_FILE [STATUS] ["NAME: VALUE"...]

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse, HttpServer};

const USAGE: &str = "usage: bare_json PORT BODY_FILE [STATUS] [\"NAME: VALUE\"...]";

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|raw| raw.parse().ok()).expect(USAGE);
    let body = Bytes::from(std::fs::read(args.next().expect(USAGE))?);
    let status = args
        .next()
        .map(|raw| StatusCode::from_bytes(raw.as_bytes()).expect(USAGE))
        .unwrap_or(StatusCode::OK);
    let headers: std::sync::Arc<[(HeaderName, HeaderValue)]> = args
        .map(|line| {
            let (name, value) = line.split_once(':').expect(USAGE);
            (
                HeaderName::from_bytes(name.trim().as_bytes()).expect(USAGE),
                HeaderValue::from_str(value.trim()).expect(USAGE),
            )
        })
        .collect();
    HttpServer::new(move || {
        let body = body.clone();
        let headers = headers.clone();
        App::new().default_service(web::get().to(move || {
            let body = body.clone();
            let headers = headers.clone();
            async move {
                let mut response = HttpResponse::build(status);
                for (name, value) in headers.iter() {
                    response.insert_header((name.clone(), value.clone()));
                }
                if status == StatusCode::NOT_MODIFIED {
                    return response.finish();
                }
                response.content_type("application/json").body(body)
            }
        }))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
