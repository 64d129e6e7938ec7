//! JSON request bodies. A body is read by the handler, after the extractors
//! that check the caller have run: a customer is told 403 whatever the body
//! holds, never a body error first. A body must be a JSON object (serde
//! would read a struct from an array too), within the size limit, with a
//! JSON content type.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::mime;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::future::{ready, Ready};

use super::error::ApiError;
use super::AppState;

/// A body not read yet; `read` reads and checks it.
pub struct JsonBody {
    content_type_ok: bool,
    limit: usize,
    payload: Payload,
}

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<mime::Mime>().ok())
            .is_some_and(|mime| {
                mime.type_() == mime::APPLICATION
                    && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
            });
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(usize::MAX, |state| state.limits.max_body_bytes);
        ready(Ok(JsonBody {
            content_type_ok,
            limit,
            payload: payload.take(),
        }))
    }
}

impl JsonBody {
    pub async fn read<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        let body = self.read_bytes().await?;
        serde_json::from_slice(&body).map_err(|err| {
            if err.is_data() {
                ApiError::BadRequest(format!("the JSON body does not fit: {err}"))
            } else {
                ApiError::BadRequest(format!("the body is not valid JSON: {err}"))
            }
        })
    }

    /// The body's bytes as they came, once they look like a JSON object
    /// (for a body that must be checked before it is parsed, like a signed
    /// webhook's).
    pub async fn read_bytes(mut self) -> Result<Bytes, ApiError> {
        if !self.content_type_ok {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON with Content-Type: application/json",
            ));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = self.payload.next().await {
            let chunk: Bytes = chunk.map_err(|err| match err {
                actix_web::error::PayloadError::Io(io)
                    if io.kind() == std::io::ErrorKind::TimedOut =>
                {
                    ApiError::RequestTimeout
                }
                other => ApiError::BadRequest(format!("cannot read the body: {other}")),
            })?;
            if body.len() + chunk.len() > self.limit {
                return Err(ApiError::PayloadTooLarge { limit: self.limit });
            }
            body.extend_from_slice(&chunk);
        }
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
        match first {
            Some(b'{') => {}
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "the body must be a JSON object".into(),
                ))
            }
            None => {
                return Err(ApiError::BadRequest(
                    "the body is empty; send a JSON object".into(),
                ))
            }
        }
        Ok(body.freeze())
    }
}

/// An integer field that also takes a JSON number written with a fraction of
/// zero (`5.0`): JSON has one number type, and JSON Schema calls `5.0` an integer.
pub fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match Number::deserialize(deserializer)? {
        Number::Integer(value) => Ok(value),
        Number::Float(value) if value.fract() == 0.0 && value.abs() < 9.0e18 => Ok(value as i64),
        Number::Float(value) => Err(serde::de::Error::custom(format!(
            "{value} is not a whole number"
        ))),
    }
}

/// `integer` for an optional field (`null` or absent is `None`).
pub fn optional_integer<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Option::<WholeNumber>::deserialize(deserializer).map(|value| value.map(|whole| whole.0))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Integer(i64),
    Float(f64),
}

struct WholeNumber(i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        integer(deserializer).map(WholeNumber)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Fields {
        #[serde(deserialize_with = "integer")]
        count: i64,
        #[serde(default, deserialize_with = "optional_integer")]
        maybe: Option<i64>,
    }

    #[test]
    fn whole_numbers_with_or_without_a_fraction() {
        let fields: Fields = serde_json::from_str(r#"{"count": 5.0, "maybe": -7}"#).unwrap();
        assert_eq!((fields.count, fields.maybe), (5, Some(-7)));
        let fields: Fields = serde_json::from_str(r#"{"count": 5, "maybe": null}"#).unwrap();
        assert_eq!(fields.maybe, None);
        assert!(serde_json::from_str::<Fields>(r#"{"count": 5.5}"#).is_err());
        assert!(serde_json::from_str::<Fields>(r#"{"count": "5"}"#).is_err());
        assert!(serde_json::from_str::<Fields>(r#"{"count": 1e30}"#).is_err());
    }
}
