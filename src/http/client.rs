//! Who is calling, for per-client limits: the socket peer, or, when the peer
//! is a trusted proxy, the address that proxy names in `X-Forwarded-For`.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::{ready, Ready};
use std::net::{IpAddr, Ipv4Addr};

use super::error::ApiError;
use super::AppState;
use crate::config::TrustedProxies;
use crate::domain::ClientKey;

/// The client of this request, as limits count it.
#[derive(Debug, Clone)]
pub struct Client(pub ClientKey);

/// Walks `X-Forwarded-For` from the right (the hop nearest to us), skipping
/// the proxies we trust; the first address that is not one of them is the
/// client. Addresses left of it were written by whoever the client is and
/// are ignored. Without a trusted peer the header is not read at all.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &TrustedProxies) -> IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .rev()
    {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage from a trusted proxy's left: stop at the last good hop.
            Err(_) => break,
        }
    }
    client
}

impl FromRequest for Client {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip());
        let ip = match req.app_data::<web::Data<AppState>>() {
            Some(state) => {
                let forwarded: Vec<&str> = req
                    .headers()
                    .get_all("x-forwarded-for")
                    .filter_map(|value| value.to_str().ok())
                    .collect();
                client_ip(peer, &forwarded, &state.trusted_proxies)
            }
            None => peer,
        };
        ready(Ok(Client(ClientKey::from_ip(ip))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let nobody = TrustedProxies::default();
        assert_eq!(
            client_ip(ip("203.0.113.5"), &["198.51.100.1"], &trusted),
            ip("203.0.113.5"),
            "an untrusted peer's header changes nothing"
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["198.51.100.1"], &nobody),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                &["1.2.3.4, 198.51.100.1, 10.0.0.3"],
                &trusted
            ),
            ip("198.51.100.1"),
            "the nearest untrusted hop is the client; what it claims is ignored"
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["1.2.3.4", "198.51.100.1"], &trusted),
            ip("198.51.100.1"),
            "several header lines read as one list"
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["not-an-ip"], &trusted),
            ip("10.0.0.2")
        );
    }
}
