//! Compression of answers by what the client accepts: zstd, br, gzip or
//! deflate, as `Accept-Encoding` ranks them (`identity`, garbage or nothing
//! known gets the bytes as they are). Bodies under `MIN_BYTES` go as they
//! are: they fit in one packet either way. The catalogue's answers are the
//! same bytes for everyone until the next write, so they are compressed
//! once per version, harder, and kept (a product's and the categories' in
//! `CompressedAnswers`, a list's in its page, `conditional::Pages`);
//! `compressed`, the middleware's last step, compresses every other answer
//! as it goes out, quickly.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpMessage};
use std::io::Write;

/// Smaller answers are sent as they are.
pub const MIN_BYTES: usize = 1024;

/// Larger answers are compressed on the blocking pool, so that one export
/// does not hold a worker that serves other requests meanwhile.
const INLINE_BYTES: usize = 64 * 1024;

/// What the compressed answers of the catalogue may hold.
const KEPT_BYTES: u64 = 32 * 1024 * 1024;

/// The encodings this server writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Zstd,
    Brotli,
    Gzip,
    Deflate,
}

/// How hard to compress: `Once` for what is kept and sent many times,
/// `EachTime` for an answer compressed for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Once,
    EachTime,
}

/// Every encoding, identity too (`negotiate` needs it to know that an
/// answer as it is may be sent).
const OFFERED: [Encoding; 5] = [
    Encoding::identity(),
    Encoding::zstd(),
    Encoding::brotli(),
    Encoding::gzip(),
    Encoding::deflate(),
];

impl Coding {
    pub const ALL: [Coding; 4] = [Coding::Zstd, Coding::Brotli, Coding::Gzip, Coding::Deflate];

    /// Its place in `ALL`.
    pub fn place(self) -> usize {
        self as usize
    }

    /// The encoding the request's `Accept-Encoding` prefers; `None` is
    /// identity, also for a header that does not parse or that refuses
    /// everything (an answer as it is beats a 406).
    pub fn accepted(req: &impl HttpMessage) -> Option<Coding> {
        if !req.headers().contains_key(header::ACCEPT_ENCODING) {
            return None;
        }
        match req
            .get_header::<AcceptEncoding>()?
            .negotiate(OFFERED.iter())?
        {
            Encoding::Known(ContentEncoding::Zstd) => Some(Coding::Zstd),
            Encoding::Known(ContentEncoding::Brotli) => Some(Coding::Brotli),
            Encoding::Known(ContentEncoding::Gzip) => Some(Coding::Gzip),
            Encoding::Known(ContentEncoding::Deflate) => Some(Coding::Deflate),
            _ => None,
        }
    }

    pub fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Coding::Zstd => "zstd",
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        })
    }

    /// Levels: past these, a page of 100 products (74 kB) shrinks by 1 to
    /// 3 % more for two to ten times the time (measured: br 5 takes 0.5 ms
    /// where br 9 takes 4.9), and a search nobody asked before is
    /// compressed while its client waits.
    pub fn encode(self, body: &[u8], effort: Effort) -> Bytes {
        let once = effort == Effort::Once;
        let encoded = match self {
            Coding::Zstd => zstd::bulk::compress(body, if once { 6 } else { 3 })
                .expect("zstd compresses any bytes in memory"),
            Coding::Brotli => {
                let mut out = Vec::with_capacity(body.len() / 4);
                let quality = if once { 5 } else { 3 };
                let mut writer = brotli::CompressorWriter::new(&mut out, 16 * 1024, quality, 22);
                writer.write_all(body).expect("writing to memory");
                drop(writer);
                out
            }
            Coding::Gzip | Coding::Deflate => {
                let level = flate2::Compression::new(if once { 6 } else { 1 });
                let out = Vec::with_capacity(body.len() / 4);
                if self == Coding::Gzip {
                    let mut writer = flate2::write::GzEncoder::new(out, level);
                    writer.write_all(body).expect("writing to memory");
                    writer.finish().expect("writing to memory")
                } else {
                    let mut writer = flate2::write::ZlibEncoder::new(out, level);
                    writer.write_all(body).expect("writing to memory");
                    writer.finish().expect("writing to memory")
                }
            }
        };
        Bytes::from(encoded)
    }
}

/// Text compresses; photos and other media are compressed already.
fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(media) = content_type.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let media = media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
}

/// Which catalogue answer a compressed body is of: a product at a version,
/// or any other answer by the hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerKey {
    Product { id: i64, version: i64 },
    Content([u8; 16]),
}

/// The catalogue's answers as sent compressed, by answer and encoding; the
/// least used go first when they pass `KEPT_BYTES`. An answer of an older
/// version is never asked for again, and leaves the same way.
pub struct CompressedAnswers {
    kept: moka::sync::Cache<(AnswerKey, Coding), Bytes>,
}

impl Default for CompressedAnswers {
    fn default() -> CompressedAnswers {
        CompressedAnswers {
            kept: moka::sync::Cache::builder()
                .max_capacity(KEPT_BYTES)
                .weigher(|_, body: &Bytes| u32::try_from(body.len()).unwrap_or(u32::MAX))
                .build(),
        }
    }
}

impl CompressedAnswers {
    /// `body` in `coding`, compressed the first time it is asked for.
    pub fn get(&self, key: AnswerKey, coding: Coding, body: &[u8]) -> Bytes {
        self.kept
            .get_with((key, coding), || coding.encode(body, Effort::Once))
    }
}

const VARY_ON_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// Compresses an answer that no handler compressed in `coding` (what its
/// request accepted), when it is text of `MIN_BYTES` or more. Every answer
/// says `Vary: Accept-Encoding`, a 304 too (it stands for the 200 a cache
/// holds). `middleware::observe` calls it last, so everything within sees
/// answers as they were written.
pub async fn compressed(
    coding: Option<Coding>,
    mut response: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    response
        .headers_mut()
        .append(header::VARY, VARY_ON_ENCODING);
    let Some(coding) = coding else {
        return Ok(response);
    };
    let eligible = matches!(response.status(), StatusCode::OK | StatusCode::CREATED)
        && !response.headers().contains_key(header::CONTENT_ENCODING)
        && compressible(response.headers().get(header::CONTENT_TYPE))
        && matches!(response.response().body().size(), BodySize::Sized(size) if size >= MIN_BYTES as u64);
    if !eligible {
        return Ok(response);
    }
    let (request, answer) = response.into_parts();
    let (mut answer, body) = answer.into_parts();
    let body = match body.try_into_bytes() {
        Ok(body) => body,
        Err(stream) => return Ok(ServiceResponse::new(request, answer.set_body(stream))),
    };
    let encoded = if body.len() <= INLINE_BYTES {
        coding.encode(&body, Effort::EachTime)
    } else {
        web::block(move || coding.encode(&body, Effort::EachTime)).await?
    };
    answer
        .headers_mut()
        .insert(header::CONTENT_ENCODING, coding.header());
    answer.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(
        request,
        answer.set_body(BoxBody::new(encoded)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::io::Read;

    fn accepted(value: &str) -> Option<Coding> {
        Coding::accepted(
            &TestRequest::default()
                .insert_header((header::ACCEPT_ENCODING, value))
                .to_http_request(),
        )
    }

    #[test]
    fn the_clients_ranking_chooses() {
        assert_eq!(accepted("gzip"), Some(Coding::Gzip));
        assert_eq!(accepted("gzip, br"), Some(Coding::Brotli));
        assert_eq!(accepted("gzip;q=1, br;q=0.5"), Some(Coding::Gzip));
        assert_eq!(accepted("zstd, gzip"), Some(Coding::Zstd));
        assert_eq!(accepted("deflate"), Some(Coding::Deflate));
        for identity in ["identity", "garbage", "x-unknown", "*;q=0", ""] {
            assert_eq!(accepted(identity), None, "{identity:?}");
        }
        assert_eq!(
            Coding::accepted(&TestRequest::default().to_http_request()),
            None
        );
    }

    #[test]
    fn each_coding_decodes_to_its_input() {
        let body = br#"{"items":[{"title":"Linen dress"}]}"#.repeat(200);
        for effort in [Effort::Once, Effort::EachTime] {
            let decoded = |coding: Coding| {
                let encoded = coding.encode(&body, effort);
                assert!(encoded.len() * 4 < body.len(), "{coding:?} compresses");
                let mut out = Vec::new();
                match coding {
                    Coding::Zstd => out = zstd::stream::decode_all(&encoded[..]).unwrap(),
                    Coding::Brotli => {
                        brotli::Decompressor::new(&encoded[..], 4096)
                            .read_to_end(&mut out)
                            .unwrap();
                    }
                    Coding::Gzip => {
                        flate2::read::GzDecoder::new(&encoded[..])
                            .read_to_end(&mut out)
                            .unwrap();
                    }
                    Coding::Deflate => {
                        flate2::read::ZlibDecoder::new(&encoded[..])
                            .read_to_end(&mut out)
                            .unwrap();
                    }
                }
                out
            };
            for coding in Coding::ALL {
                assert_eq!(decoded(coding), body, "{coding:?} {effort:?}");
            }
        }
    }

    #[test]
    fn text_compresses_and_media_does_not() {
        let kind = |value: &'static str| compressible(Some(&HeaderValue::from_static(value)));
        assert!(kind("application/json"));
        assert!(kind("application/problem+json"));
        assert!(kind("text/html; charset=utf-8"));
        assert!(kind("application/javascript"));
        assert!(!kind("image/jpeg"));
        assert!(!kind("image/webp"));
        assert!(!kind("application/octet-stream"));
        assert!(!compressible(None));
    }
}
