//! The one middleware every request passes: request id, request span,
//! access log, metrics, and problem+json for errors that carry no body.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use std::time::Instant;
use tracing::Instrument;

use super::error::Problem;
use super::AppState;
use crate::telemetry;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's id is kept when it is short printable ASCII; otherwise a new
/// one is made, so a hostile header cannot forge log lines.
fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = request_id_of(&req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %req.path(),
    );
    let started = Instant::now();
    // Handlers and extractors turn their errors into responses, so an `Err`
    // here can only come from the framework itself; it is answered as is.
    let mut response = telemetry::with_request_id(Some(request_id.clone()), next.call(req))
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();

    let status = response.status();
    let bodiless_error = (status.is_client_error() || status.is_server_error())
        && matches!(
            response.response().body().size(),
            BodySize::None | BodySize::Sized(0)
        );
    if bodiless_error {
        let detail = match status.as_u16() {
            404 => "no such resource".to_owned(),
            405 => "this method is not allowed on this resource".to_owned(),
            _ => status.canonical_reason().unwrap_or("error").to_owned(),
        };
        let kept_headers = response.headers().clone();
        let mut problem = Problem::new(status, detail).into_response();
        for (name, value) in kept_headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                problem.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = response.into_response(problem);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }

    let took = started.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = state {
        state
            .metrics
            .observe_request(&method, &route, status.as_u16(), took);
    }
    tracing::info!(
        parent: &span,
        status = status.as_u16(),
        took_ms = took.as_secs_f64() * 1000.0,
        "request finished"
    );
    Ok(response)
}
