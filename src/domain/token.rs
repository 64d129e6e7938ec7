use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::{Role, User};

/// The claims of a session token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a decimal string (JWT says `sub` is a string).
    pub sub: String,
    pub role: Role,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

impl Claims {
    pub fn user_id(&self) -> Result<i64, TokenError> {
        self.sub.parse().map_err(|_| TokenError::Invalid)
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_else(Utc::now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, wrongly signed or expired")]
    Invalid,
}

pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

/// Signs and checks HS256 session tokens with one secret.
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenSigner {
    pub fn new(secret: &[u8], ttl: Duration) -> TokenSigner {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        validation.leeway = 0;
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user: &User) -> IssuedToken {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role,
            email: user.email.clone(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail");
        IssuedToken { token, claims }
    }

    /// Checks signature, algorithm and expiry; `alg: none` and every other
    /// algorithm are refused because only HS256 is allowed.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        claims.user_id()?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 7,
            email: "ana@example.com".into(),
            phone_number: None,
            name: None,
            role: Role::Customer,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn round_trip() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let issued = signer.issue(&user());
        let claims = signer.verify(&issued.token).unwrap();
        assert_eq!(claims.user_id().unwrap(), 7);
        assert_eq!(claims.jti, issued.claims.jti);
    }

    #[test]
    fn other_key_is_refused() {
        let a = TokenSigner::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let b = TokenSigner::new(b"fedcba9876543210fedcba9876543210", Duration::from_secs(60));
        assert_eq!(
            b.verify(&a.issue(&user()).token).unwrap_err(),
            TokenError::Invalid
        );
    }
}
