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

use super::compression::{AnswerKey, Coding, CompressedAnswers, Effort, MIN_BYTES};
use crate::catalogue::{CatalogueVersion, ProductFilter};
use crate::config::CatalogueSettings;
use std::sync::{Arc, OnceLock};

/// What every answer that depends on its caller says to caches.
pub const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-store");

/// What catalogue answers are made with, shared by every worker.
pub struct CatalogueAnswers {
    /// Their `Cache-Control`.
    caching: HeaderValue,
    /// Their bodies, compressed once.
    compressed: CompressedAnswers,
    /// Pages of lists and searches, written once per catalogue version.
    pub pages: Pages,
}

impl CatalogueAnswers {
    pub fn new(settings: &CatalogueSettings) -> CatalogueAnswers {
        CatalogueAnswers {
            caching: HeaderValue::from_str(&format!(
                "public, max-age={}, stale-while-revalidate={}",
                settings.cache_max_age_secs, settings.stale_while_revalidate_secs
            ))
            .expect("digits and ASCII"),
            compressed: CompressedAnswers::default(),
            pages: Pages::default(),
        }
    }
}

/// A catalogue answer's identity: its strong tag (also as the header it is
/// sent in), and the key its compressed bodies are kept under.
#[derive(Debug, Clone)]
pub struct Tagged {
    pub tag: EntityTag,
    header: HeaderValue,
    pub key: AnswerKey,
}

impl Tagged {
    fn new(tag: EntityTag, key: AnswerKey) -> Tagged {
        Tagged {
            header: HeaderValue::from_str(&tag.to_string()).expect("a tag is visible ASCII"),
            tag,
            key,
        }
    }

    /// A product's answer: its version is its tag.
    pub fn product(id: i64, version: i64) -> Tagged {
        Tagged::new(
            EntityTag::new_strong(version.to_string()),
            AnswerKey::Product { id, version },
        )
    }

    /// Any other answer, by its bytes: the first 128 bits of their
    /// SHA-256, in hex.
    pub fn content(body: &[u8]) -> Tagged {
        let digest = Sha256::digest(body);
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        Tagged::new(
            EntityTag::new_strong(hex::encode(first)),
            AnswerKey::Content(first),
        )
    }
}

/// Whether the request's `If-None-Match` names the answer's tag (compared
/// weakly, as RFC 9110 says for it), or is `*`. One that does not parse is
/// no condition: the answer is the whole one.
pub fn not_modified(req: &HttpRequest, answer: &Tagged) -> bool {
    let Some(named) = req.headers().get(header::IF_NONE_MATCH) else {
        return false;
    };
    // What a browser or CDN sends back most: the tag as it was sent.
    if named == answer.header {
        return true;
    }
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|named| named.weak_eq(&answer.tag)),
        Err(_) => false,
    }
}

/// A catalogue answer of JSON `body`: `304` when the client holds it
/// already, else compressed as the client accepts it, from the bodies kept
/// compressed.
pub fn catalogue_answer(
    req: &HttpRequest,
    answers: &CatalogueAnswers,
    answer: &Tagged,
    body: Bytes,
) -> HttpResponse {
    answer_with(req, answers, answer, body.clone(), |coding| {
        answers.compressed.get(answer.key, coding, &body)
    })
}

/// A page of a list or search as a catalogue answer, from the forms it
/// keeps.
pub fn page_answer(req: &HttpRequest, answers: &CatalogueAnswers, page: &Page) -> HttpResponse {
    answer_with(req, answers, &page.answer, page.body.clone(), |coding| {
        page.encoded(coding)
    })
}

fn answer_with(
    req: &HttpRequest,
    answers: &CatalogueAnswers,
    answer: &Tagged,
    body: Bytes,
    compressed: impl FnOnce(Coding) -> Bytes,
) -> HttpResponse {
    let unchanged = not_modified(req, answer);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, answer.header.clone()))
        .insert_header((header::CACHE_CONTROL, answers.caching.clone()));
    if unchanged {
        return response.finish();
    }
    response.content_type(mime::APPLICATION_JSON);
    match Coding::accepted(req).filter(|_| body.len() >= MIN_BYTES) {
        Some(coding) => response
            .insert_header((header::CONTENT_ENCODING, coding.header()))
            .body(compressed(coding)),
        None => response.body(body),
    }
}

/// What the pages of lists and searches may hold.
const PAGES_BYTES: u64 = 32 * 1024 * 1024;

/// A page of a list or search as sent, with its tag, and compressed in
/// each encoding the first time one is asked for.
pub struct Page {
    answer: Tagged,
    body: Bytes,
    encoded: [OnceLock<Bytes>; Coding::ALL.len()],
}

impl Page {
    fn encoded(&self, coding: Coding) -> Bytes {
        self.encoded[coding.place()]
            .get_or_init(|| coding.encode(&self.body, Effort::Once))
            .clone()
    }
}

/// Pages of lists and searches by the catalogue version they were read
/// from and what was asked: a page asked again before the next catalogue
/// write is neither written nor hashed again.
pub struct Pages {
    kept: moka::sync::Cache<(CatalogueVersion, ProductFilter, bool), Arc<Page>>,
}

impl Default for Pages {
    fn default() -> Pages {
        Pages {
            kept: moka::sync::Cache::builder()
                .max_capacity(PAGES_BYTES)
                // Its compressed forms, all four, come to less than half
                // of it.
                .weigher(|_, page: &Arc<Page>| {
                    u32::try_from(page.body.len() + page.body.len() / 2).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl Pages {
    /// The page of `filter` (with facets or not) at `version`, written by
    /// `write` the first time.
    pub fn get(
        &self,
        version: CatalogueVersion,
        filter: ProductFilter,
        facets: bool,
        write: impl FnOnce() -> Bytes,
    ) -> Arc<Page> {
        self.kept.get_with((version, filter, facets), || {
            let body = write();
            Arc::new(Page {
                answer: Tagged::content(&body),
                body,
                encoded: Default::default(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_tag_changes_with_the_bytes_and_only_with_them() {
        let tag = |body: &[u8]| Tagged::content(body).tag;
        assert_eq!(tag(b"{\"a\":1}"), tag(b"{\"a\":1}"));
        assert_ne!(tag(b"{\"a\":1}"), tag(b"{\"a\":2}"));
        assert!(!tag(b"x").weak);
        assert_ne!(
            Tagged::content(b"x").key,
            Tagged::content(b"y").key,
            "the key follows the bytes too"
        );
    }

    #[test]
    fn if_none_match_names_the_tag_or_anything() {
        let tag = Tagged::product(1, 3);
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
