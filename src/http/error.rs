//! One error type for the HTTP layer, answered as `application/problem+json`
//! (RFC 9457). 5xx answers are logged with their cause chain.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::actors::{ActorError, CallError};
use crate::domain::{Shortage, Size, ValidationError};
use crate::telemetry::error_chain;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request has invalid fields")]
    Validation(Vec<ValidationError>),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this needs the admin role")]
    Forbidden,
    /// A cookie-authenticated write from another origin.
    #[error("{0}")]
    CrossOrigin(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A checkout some of whose lines cannot be had.
    #[error("not every line can be had: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Short(Vec<Shortage>),
    #[error(
        "the cart now costs {subtotal}, not the {expected} seen: nothing was ordered; show the \
         cart (in `cart`) again and check out with its subtotal"
    )]
    SubtotalChanged {
        expected: i64,
        subtotal: i64,
        /// The cart as clients see it.
        cart: serde_json::Value,
    },
    #[error("{0}")]
    Unprocessable(String),
    #[error("the {0} changed since the version named in If-Match")]
    PreconditionFailed(&'static str),
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request headers are larger than {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("a service did not answer")]
    Unavailable(#[source] CallError),
    #[error("a dependency is unavailable; try again shortly")]
    DependencyDown(#[source] ActorError),
    /// The payment provider refused or failed, in its words.
    #[error("the payment provider did not do it: {0}")]
    BadGateway(String),
    #[error("internal error")]
    Internal(#[source] ActorError),
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// What is wrong, in detail: each invalid field, or each line of a
    /// checkout that cannot be had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ProblemErrors>,
    /// A checkout refused because the cart costs another subtotal than the
    /// one named: the cart as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cart: Option<serde_json::Value>,
}

/// The `errors` of a problem.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProblemErrors {
    /// Field name to what is wrong with it, for invalid input.
    Fields(BTreeMap<String, String>),
    /// The lines of a checkout that cannot be had (409).
    Lines(Vec<ShortLine>),
}

/// A cart line that a checkout cannot have.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShortLine {
    /// The cart line (`items[].id` of the cart).
    pub item_id: i64,
    pub product_id: i64,
    pub title: String,
    pub size: Size,
    /// How many the line asks for.
    pub asked: i64,
    /// How many there are now; `null` when the product or the size is no
    /// longer sold.
    pub available: Option<i64>,
}

impl From<&Shortage> for ShortLine {
    fn from(shortage: &Shortage) -> ShortLine {
        ShortLine {
            item_id: shortage.item_id,
            product_id: shortage.product_id,
            title: shortage.title.clone(),
            size: shortage.size,
            asked: shortage.asked,
            available: shortage.left,
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: String) -> Problem {
        Problem {
            problem_type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors: None,
            cart: None,
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .content_type(PROBLEM_JSON)
            .json(self)
    }
}

impl ApiError {
    /// A validation error of one field.
    pub fn field(error: ValidationError) -> ApiError {
        ApiError::Validation(vec![error])
    }

    /// Maps an actor's answer, naming what it was about.
    pub fn from_actor(err: ActorError, subject: &'static str) -> ApiError {
        match err {
            ActorError::NotFound => ApiError::NotFound(subject),
            ActorError::Invalid(errors) => ApiError::Validation(errors),
            ActorError::Refused(reason) => {
                ApiError::BadRequest(format!("the {subject} was refused: {reason}"))
            }
            ActorError::Conflict(reason) => ApiError::Conflict(reason),
            ActorError::Short(shortages) => ApiError::Short(shortages),
            // Only a checkout refuses so, and its handler answers with the cart.
            err @ ActorError::SubtotalChanged(_) => ApiError::Conflict(err.to_string()),
            ActorError::Unprocessable(reason) => ApiError::Unprocessable(reason),
            ActorError::Stale => ApiError::PreconditionFailed(subject),
            ActorError::InvalidCode => {
                ApiError::Unauthorized("the code is wrong, expired or already used")
            }
            ActorError::RateLimited { retry_after } => ApiError::TooManyRequests {
                retry_after_secs: retry_after.as_secs_f64().ceil().max(1.0) as u64,
            },
            ActorError::Call(call) => ApiError::Unavailable(call),
            err @ ActorError::Unavailable(_) => ApiError::DependencyDown(err),
            ActorError::Provider(reason) => ApiError::BadGateway(reason),
            err @ ActorError::Internal(_) => ApiError::Internal(err),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(err: CallError) -> ApiError {
        ApiError::Unavailable(err)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::CrossOrigin(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Short(_) | ApiError::SubtotalChanged { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(CallError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DependencyDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(self), "request failed");
        }
        let mut problem = Problem::new(status, self.to_string());
        match self {
            ApiError::Validation(errors) => {
                problem.errors = Some(ProblemErrors::Fields(
                    errors
                        .iter()
                        .map(|error| (error.field.to_string(), error.reason.clone()))
                        .collect(),
                ));
            }
            ApiError::Short(shortages) => {
                problem.errors = Some(ProblemErrors::Lines(
                    shortages.iter().map(ShortLine::from).collect(),
                ));
            }
            ApiError::SubtotalChanged { cart, .. } => problem.cart = Some(cart.clone()),
            _ => {}
        }
        let mut response = problem.into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, (*retry_after_secs).into());
            }
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            // The rest of a body that was too slow or too big is not read:
            // the connection cannot carry another request.
            ApiError::RequestTimeout | ApiError::PayloadTooLarge { .. } => {
                headers.insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
            _ => {}
        }
        response
    }
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid query string: {err}")).into()
}

pub fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid path parameter: {err}")).into()
}

/// Maps a list of domain validation errors.
impl From<Vec<ValidationError>> for ApiError {
    fn from(errors: Vec<ValidationError>) -> ApiError {
        ApiError::Validation(errors)
    }
}
