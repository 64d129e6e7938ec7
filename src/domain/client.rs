use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Whom a per-client limit counts: an IPv4 address, or the /64 network of an
/// IPv6 address, since one subscriber commonly holds a whole /64 and could
/// otherwise change address at every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn from_ip(ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(v4.to_string()),
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                ClientKey(format!("{}/64", std::net::Ipv6Addr::from(network)))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ClientKey;

    #[test]
    fn ipv6_clients_are_their_64_network() {
        let key = |ip: &str| ClientKey::from_ip(ip.parse().unwrap());
        assert_eq!(key("203.0.113.9").as_str(), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9").as_str(), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").as_str(), "2001:db8:1:2::/64");
    }
}
