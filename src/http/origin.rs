//! Cookie sessions refuse cross-site writes. A browser sends the session
//! (and guest cart) cookie with any request to this server, including one
//! a page elsewhere makes it send; SameSite=Lax stops that only for other
//! sites, not for another port or a sibling subdomain, and not for a
//! body-less POST. So a state-changing request that a cookie authenticates
//! must say it comes from this server's origin or one the configuration
//! lists (`server.cors_origins`). Browsers say where a request comes from
//! in `Origin` (sent with every POST, PUT, PATCH and DELETE by the browsers
//! in use), or else in `Sec-Fetch-Site`. A request with an `Authorization`
//! header is not affected: no page can make a browser add one to another
//! origin's request, so it was made on purpose by whoever holds the token.

use actix_web::dev::ServiceRequest;
use actix_web::http::{header, Method};

use super::cart::CART_COOKIE;
use super::session::SESSION_COOKIE;
use crate::config::Origins;

/// Why a request is refused, when it is.
pub fn refusal(req: &ServiceRequest, allowed: &Origins) -> Option<&'static str> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.headers().contains_key(header::AUTHORIZATION)
    {
        return None;
    }
    let by_cookie = [SESSION_COOKIE, CART_COOKIE]
        .iter()
        .any(|name| req.cookie(name).is_some());
    if !by_cookie {
        return None;
    }
    let headers = req.headers();
    match headers.get(header::ORIGIN) {
        Some(origin) => {
            let origin = origin.to_str().unwrap_or_default();
            if is_own(origin, req) || allowed.contains(origin) {
                None
            } else {
                Some("a write signed in by cookie must come from this shop's own origin")
            }
        }
        None => {
            let site = headers
                .get("sec-fetch-site")
                .and_then(|value| value.to_str().ok());
            match site {
                None | Some("same-origin") | Some("none") => None,
                Some(_) => {
                    Some("a write signed in by cookie must come from this shop's own origin")
                }
            }
        }
    }
}

/// Whether `origin` names this server as the request reached it: the same
/// host and port as its `Host`. The scheme is not compared: behind a proxy
/// that ends TLS the server sees http while the browser says https.
fn is_own(origin: &str, req: &ServiceRequest) -> bool {
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| req.uri().authority().map(|authority| authority.as_str()));
    let default_port = if origin.starts_with("https://") {
        ":443"
    } else {
        ":80"
    };
    host.is_some_and(|host| {
        host.eq_ignore_ascii_case(authority)
            || host
                .strip_suffix(default_port)
                .is_some_and(|bare| bare.eq_ignore_ascii_case(authority))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(method: Method, headers: &[(&str, &str)]) -> ServiceRequest {
        let mut request = TestRequest::default()
            .method(method)
            .insert_header((header::HOST, "shop.example:8080"));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        request.to_srv_request()
    }

    #[test]
    fn cookie_writes_from_elsewhere_are_refused() {
        let allowed: Origins = serde_json::from_str(r#"["https://www.shop.example"]"#).unwrap();
        let cookie = ("cookie", "access_token=t");
        let refused = |method, headers: &[(&str, &str)]| {
            refusal(&request(method, headers), &allowed).is_some()
        };
        assert!(refused(
            Method::POST,
            &[cookie, ("origin", "https://evil.example")]
        ));
        assert!(refused(
            Method::DELETE,
            &[cookie, ("origin", "http://shop.example:9090")]
        ));
        assert!(refused(Method::POST, &[cookie, ("origin", "null")]));
        assert!(refused(
            Method::POST,
            &[("cookie", "cart_id=x"), ("sec-fetch-site", "same-site")]
        ));
        assert!(!refused(
            Method::POST,
            &[cookie, ("origin", "http://shop.example:8080")]
        ));
        assert!(!refused(
            Method::POST,
            &[cookie, ("origin", "https://www.shop.example")]
        ));
        assert!(!refused(Method::POST, &[cookie]));
        assert!(!refused(
            Method::POST,
            &[cookie, ("sec-fetch-site", "same-origin")]
        ));
        assert!(!refused(
            Method::GET,
            &[cookie, ("origin", "https://evil.example")]
        ));
        assert!(!refused(
            Method::POST,
            &[
                cookie,
                ("authorization", "Bearer t"),
                ("origin", "https://evil.example")
            ]
        ));
        assert!(!refused(
            Method::POST,
            &[("origin", "https://evil.example")]
        ));
    }
}
