//! The one middleware every request passes: request id, header and body
//! limits, cross-origin writes by cookie (`origin`), access log, metrics,
//! problem+json for errors that carry no body, the headers that keep
//! browsers from sniffing an answer's type or framing a page, and, last,
//! compression (`compression`).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, Error, HttpMessage, ResponseError};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::error::{ApiError, Problem};
use super::AppState;
use crate::telemetry;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's id is kept when it is short printable ASCII (its header value
/// is echoed as it came); otherwise a new one is made, so a hostile header
/// cannot forge log lines.
fn request_id_of(req: &ServiceRequest) -> (telemetry::RequestId, Option<HeaderValue>) {
    let given = req.headers().get(&REQUEST_ID).filter(|value| {
        let id = value.as_bytes();
        !id.is_empty() && id.len() <= 128 && id.iter().all(|b| b.is_ascii_graphic())
    });
    match given {
        Some(value) => (
            std::str::from_utf8(value.as_bytes())
                .expect("printable ASCII is UTF-8")
                .into(),
            Some(value.clone()),
        ),
        None => (
            uuid::Uuid::new_v4()
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .into(),
            None,
        ),
    }
}

/// The method as a metric label and log field: one of a closed set, so that
/// made-up methods cannot grow the number of series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Bytes of the request's header lines as they came on the wire.
fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length != "0")
}

/// A request body that must have arrived by a deadline; past it the stream
/// ends with a timed-out error, which the JSON extractor answers with 408.
struct DeadlinePayload {
    inner: actix_web::dev::Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

fn limit_body_time(req: &mut ServiceRequest, timeout: Duration) {
    let payload = DeadlinePayload {
        inner: req.take_payload(),
        deadline: Box::pin(tokio::time::sleep(timeout)),
        expired: false,
    };
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(payload);
    req.set_payload(actix_web::dev::Payload::from(stream));
}

/// `frame-ancestors 'none'` joined to a page's own policy, unless that
/// policy already says which ancestors it allows.
fn refusing_frames(policy: Option<&str>) -> Option<String> {
    let Some(policy) = policy else {
        return Some("frame-ancestors 'none'".to_owned());
    };
    let states_ancestors = policy.split(';').any(|directive| {
        directive
            .split_whitespace()
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case("frame-ancestors"))
    });
    (!states_ancestors).then(|| {
        format!(
            "{}; frame-ancestors 'none'",
            policy.trim_end_matches([' ', ';'])
        )
    })
}

/// Every answer is what its `Content-Type` says (a JSON body is never run
/// as a script); an HTML page may not be framed by another site, which
/// could make a click on it look like one on its own page.
fn protect(headers: &mut header::HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // What a handler did not mark as the catalogue's (public) or its own
    // is the caller's: no cache keeps it.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, super::conditional::PRIVATE);
    }
    let is_page = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| {
            content_type
                .trim_start()
                .get(..9)
                .is_some_and(|media| media.eq_ignore_ascii_case("text/html"))
        });
    if !is_page {
        return;
    }
    // Browsers older than CSP's frame-ancestors read only this one.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|value| value.to_str().ok());
    if let Some(policy) = refusing_frames(policy).and_then(|p| HeaderValue::from_str(&p).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (request_id, echoed) = request_id_of(&req);
    let coding = super::compression::Coding::accepted(&req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = method_label(req.method());
    let started = Instant::now();
    let too_large = state
        .as_ref()
        .map(|state| state.limits.max_header_bytes)
        .filter(|limit| header_bytes(&req) > *limit);
    let cross_origin = state
        .as_ref()
        .and_then(|state| super::origin::refusal(&req, &state.cors_origins));
    let mut response = if let Some(limit) = too_large {
        let refusal = ApiError::HeadersTooLarge { limit }.error_response();
        req.into_response(refusal)
    } else if let Some(reason) = cross_origin {
        let refusal = telemetry::sync_with_request_id(Some(request_id.clone()), || {
            ApiError::CrossOrigin(reason).error_response()
        });
        req.into_response(refusal)
    } else {
        if let Some(state) = &state {
            if has_body(&req) {
                limit_body_time(&mut req, state.limits.body_timeout);
            }
        }
        // Handlers and extractors turn their errors into responses, so an
        // `Err` here can only come from the framework itself; it is
        // answered as is.
        telemetry::with_request_id(Some(request_id.clone()), next.call(req))
            .await?
            .map_into_boxed_body()
    };

    let status = response.status();
    // The framework's own refusals (a 404 or 405 of routing, a CORS
    // preflight it does not allow) come bodiless or as plain text: they
    // are answered as problems too, their text as the detail.
    let foreign_error = (status.is_client_error() || status.is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|kind| kind.as_bytes().starts_with(b"text/plain"));
    if foreign_error {
        let kept_headers = response.headers().clone();
        let (request, framework_answer) = response.into_parts();
        let text = framework_answer
            .into_body()
            .try_into_bytes()
            .ok()
            .and_then(|body| String::from_utf8(body.to_vec()).ok())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty() && text.len() <= 200);
        let detail = match (status.as_u16(), text) {
            (404, _) => "no such resource".to_owned(),
            (405, _) => "this method is not allowed on this resource".to_owned(),
            (_, Some(text)) => text,
            _ => status.canonical_reason().unwrap_or("error").to_owned(),
        };
        let mut problem = Problem::new(status, detail).into_response();
        for (name, value) in kept_headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                problem.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = ServiceResponse::new(request, problem);
    }
    let echoed = echoed.or_else(|| HeaderValue::from_str(&request_id).ok());
    if let Some(value) = echoed {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    protect(response.headers_mut());
    let response = super::compression::compressed(coding, response).await?;

    let took = started.elapsed();
    // Resources are named after their pattern (see `http::configure`), so
    // the label costs no string; the few unnamed ones (the docs) build it.
    let request = response.request();
    let route = match request.match_name() {
        Some(name) => std::borrow::Cow::Borrowed(name),
        None => std::borrow::Cow::Owned(
            request
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
        ),
    };
    if let Some(state) = state {
        state.metrics.observe_request(method, &route, status, took);
    }
    // The access line is an event of its own, in no span: a span per
    // request cost the cheapest page a fifth of its throughput. Displayed,
    // not debugged, so nothing is escaped char by char: the id is printable
    // ASCII, the method one of a closed set, and a path that the URI
    // parser accepted holds no control characters or spaces.
    telemetry::sync_with_request_id(Some(request_id), || {
        tracing::info!(
            method = %method,
            path = %response.request().path(),
            status = status.as_u16(),
            took_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            "request finished"
        )
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_policy_gains_frame_ancestors_once() {
        assert_eq!(
            refusing_frames(None).as_deref(),
            Some("frame-ancestors 'none'")
        );
        assert_eq!(
            refusing_frames(Some("default-src 'self';")).as_deref(),
            Some("default-src 'self'; frame-ancestors 'none'")
        );
        assert_eq!(
            refusing_frames(Some("default-src 'none'; Frame-Ancestors 'self'")),
            None
        );
    }

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        for made_up in ["FOO", "BREW", "GETX"] {
            assert_eq!(
                method_label(&Method::from_bytes(made_up.as_bytes()).unwrap()),
                "OTHER"
            );
        }
    }
}
