//! Conditional requests and caching of catalogue answers. A catalogue
//! answer (a product, a list, a search, the categories) is the same bytes
//! for everyone until the next catalogue write, so it carries a strong
//! `ETag` and `Cache-Control: public` (`catalogue.cache_max_age_secs`, with
//! `stale-while-revalidate`), and a request whose `If-None-Match` names its
//! tag gets `304` without a body. A product's tag is its version (the one
//! `If-Match` names); a list's is a hash of its bytes, so it changes
//! exactly when they do. Every other answer depends on the caller and is
//! `private, no-store` (`middleware::observe` sets it where a handler did
//! not).

use actix_web::http::header::{self, EntityTag, Header, HeaderValue, IfNoneMatch};
use actix_web::web::Bytes;
use actix_web::{mime, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::config::CatalogueSettings;

/// What every answer that depends on its caller says to caches.
pub const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-store");

pub fn catalogue_caching(settings: &CatalogueSettings) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "public, max-age={}, stale-while-revalidate={}",
        settings.cache_max_age_secs, settings.stale_while_revalidate_secs
    ))
    .expect("digits and ASCII")
}

/// The strong tag of `body`: the first 128 bits of its SHA-256, in hex.
pub fn content_tag(body: &[u8]) -> EntityTag {
    let digest = Sha256::digest(body);
    EntityTag::new_strong(hex::encode(&digest[..16]))
}

/// Whether the request's `If-None-Match` names `tag` (compared weakly, as
/// RFC 9110 says for it), or is `*`. One that does not parse is no
/// condition: the answer is the whole one.
pub fn not_modified(req: &HttpRequest, tag: &EntityTag) -> bool {
    if !req.headers().contains_key(header::IF_NONE_MATCH) {
        return false;
    }
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|named| named.weak_eq(tag)),
        Err(_) => false,
    }
}

/// A catalogue answer of JSON `body` tagged `tag`: `304` when the client
/// holds it already.
pub fn catalogue_answer(
    req: &HttpRequest,
    caching: &HeaderValue,
    tag: EntityTag,
    body: Bytes,
) -> HttpResponse {
    let unchanged = not_modified(req, &tag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, tag.to_string()))
        .insert_header((header::CACHE_CONTROL, caching.clone()));
    if unchanged {
        return response.finish();
    }
    response.content_type(mime::APPLICATION_JSON).body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_tag_changes_with_the_bytes_and_only_with_them() {
        assert_eq!(content_tag(b"{\"a\":1}"), content_tag(b"{\"a\":1}"));
        assert_ne!(content_tag(b"{\"a\":1}"), content_tag(b"{\"a\":2}"));
        assert!(!content_tag(b"x").weak);
    }

    #[test]
    fn if_none_match_names_the_tag_or_anything() {
        let tag = EntityTag::new_strong("3".into());
        let with = |value: &str| {
            TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, value))
                .to_http_request()
        };
        assert!(not_modified(&with("\"3\""), &tag));
        assert!(not_modified(&with("W/\"3\""), &tag), "compared weakly");
        assert!(not_modified(&with("\"1\", \"3\""), &tag));
        assert!(not_modified(&with("*"), &tag));
        assert!(!not_modified(&with("\"4\""), &tag));
        assert!(!not_modified(&with("garbage"), &tag));
        assert!(!not_modified(&with(&"\"x\",".repeat(2000)), &tag));
        assert!(!not_modified(
            &TestRequest::default().to_http_request(),
            &tag
        ));
    }
}
