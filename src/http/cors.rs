//! CORS for the shop's own front ends on other origins
//! (`server.cors_origins`): a browser there may call the API with the
//! session cookie (`credentials: 'include'`). An origin not listed gets no
//! CORS headers, so its browser keeps the answer from its page; the admin
//! routes and the operator's page never answer another origin, whatever
//! the list says. Preflights are answered here, before routing, so they
//! never reach an actor.

use actix_cors::Cors;
use actix_web::http::header;

use crate::config::Origins;

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE_SECS: usize = 600;

pub fn cors(origins: &Origins) -> Cors {
    let allowed = origins.clone();
    Cors::default()
        .allowed_origin_fn(move |origin, head| {
            !head.uri.path().starts_with("/admin")
                && origin.to_str().is_ok_and(|origin| allowed.contains(origin))
        })
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
        ])
        .supports_credentials()
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        // A request from an origin not listed is answered as if CORS did
        // not exist: without its headers, which is the browser's refusal.
        .block_on_origin_mismatch(false)
}
