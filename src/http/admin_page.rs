//! `GET /admin`: the operator's page, compiled into the binary. It is a page,
//! not an API: anyone may load it, and it asks the JSON endpoints (which
//! check the session) for everything it shows. Its script and style are
//! files of their own on this origin, so the policy allows nothing inline
//! and nothing from elsewhere.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const PAGE: &str = include_str!("admin_page/index.html");
const SCRIPT: &str = include_str!("admin_page/admin.js");
const STYLE: &str = include_str!("admin_page/admin.css");

/// What the page may load and where it may connect: its own origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/admin").route(web::get().to(page)))
        .service(super::resource("/admin/assets/admin.js").route(web::get().to(script)))
        .service(super::resource("/admin/assets/admin.css").route(web::get().to(style)));
}

fn file(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // A new binary may bring a new page: ask again each time (the
        // files are a few kilobytes).
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn page() -> HttpResponse {
    file("text/html; charset=utf-8", PAGE)
}

async fn script() -> HttpResponse {
    file("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    file("text/css; charset=utf-8", STYLE)
}
