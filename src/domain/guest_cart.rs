//! Guest carts are named by the server alone. A guest's cookie holds a
//! token the server issued: 128 random bits and a MAC over them under the
//! shop's secret, so a token the server did not issue (a chosen id, the nil
//! UUID everyone could share, one planted to be merged into a victim's
//! account) is known at once without asking the database. The database
//! keeps only the token's SHA-256, so a database dump opens no guest's cart.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Random bytes in a token: 128 bits, as many as a UUID v4 has at best.
const RANDOM_BYTES: usize = 16;
/// MAC bytes in a token: HMAC-SHA256 cut to 128 bits.
const MAC_BYTES: usize = 16;
/// A token as it travels: hex of the random bytes, then of the MAC.
const TOKEN_LEN: usize = 2 * (RANDOM_BYTES + MAC_BYTES);

/// The id a guest cart is stored under: the hex SHA-256 of its token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GuestCartId(String);

impl GuestCartId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A token just issued, with the id of the cart it names.
#[derive(Debug, Clone)]
pub struct IssuedGuestCart {
    /// What the guest's cookie holds; never stored.
    pub token: String,
    pub id: GuestCartId,
}

/// Issues and checks guest cart tokens.
#[derive(Clone)]
pub struct GuestCarts {
    key: Vec<u8>,
}

impl GuestCarts {
    /// Keyed by the shop's secret, apart from its other uses.
    pub fn new(secret: &[u8]) -> GuestCarts {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(b"storefront-guest-cart");
        GuestCarts {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, random: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(random);
        mac
    }

    /// A fresh token from the thread-local CSPRNG.
    pub fn issue(&self) -> IssuedGuestCart {
        let random: [u8; RANDOM_BYTES] = rand::random();
        let tag = self.mac(&random).finalize().into_bytes();
        let token = format!("{}{}", hex::encode(random), hex::encode(&tag[..MAC_BYTES]));
        IssuedGuestCart {
            id: id_of(&token),
            token,
        }
    }

    /// The cart a token names, when this shop issued it.
    pub fn verify(&self, token: &str) -> Option<GuestCartId> {
        // Lower-case hex only: one token, one spelling, one cart.
        if token.len() != TOKEN_LEN
            || !token
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let bytes = hex::decode(token).ok()?;
        let (random, tag) = bytes.split_at(RANDOM_BYTES);
        // In constant time: a wrong tag tells nothing of the right one.
        self.mac(random).verify_truncated_left(tag).ok()?;
        Some(id_of(token))
    }
}

fn id_of(token: &str) -> GuestCartId {
    GuestCartId(hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_names_its_cart_and_nothing_else_does() {
        let carts = GuestCarts::new(b"a secret of at least thirty-two bytes");
        let issued = carts.issue();
        assert_eq!(carts.verify(&issued.token), Some(issued.id.clone()));
        assert_ne!(issued.id.as_str(), issued.token, "the token is not stored");
        assert_ne!(carts.issue().token, issued.token);
        let other_shop = GuestCarts::new(b"another secret of thirty-two bytes!!");
        assert_eq!(other_shop.verify(&issued.token), None);
        let mut forged = issued.token.clone();
        let last = if forged.ends_with('0') { "1" } else { "0" };
        forged.replace_range(TOKEN_LEN - 1.., last);
        for refused in [
            forged.as_str(),
            "00000000-0000-0000-0000-000000000000",
            &issued.token.to_uppercase(),
            "",
            &"0".repeat(TOKEN_LEN),
            "é",
        ] {
            assert_eq!(carts.verify(refused), None, "{refused:?}");
        }
    }
}
