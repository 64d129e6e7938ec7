use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use std::fmt;

use super::{Email, ValidationError};

/// A six-digit one-time code. Its `Debug` hides the digits so a code never
/// reaches a log line by accident. Its serde form is the digits: a code to
/// check crosses to the node that checks it, as the code to mail crosses to
/// the mailer.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OtpCode(String);

impl OtpCode {
    /// A fresh code from the thread-local CSPRNG (ChaCha, seeded by the OS).
    pub fn generate() -> OtpCode {
        let n: u32 = rand::rng().random_range(0..1_000_000);
        OtpCode(format!("{n:06}"))
    }

    pub fn parse(raw: &str) -> Result<OtpCode, ValidationError> {
        if super::rules::OTP_RE.is_match(raw) {
            Ok(OtpCode(raw.to_owned()))
        } else {
            Err(ValidationError::new("otp", "must be exactly 6 digits"))
        }
    }

    /// The digits, for the one place that needs them: the mail to the user.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

super::string_newtype!(OtpCode);

/// Keyed hash of a code: the store only ever holds HMAC-SHA256(key, email, code),
/// so a leaked store reveals no code and a code for one email is worthless for
/// another.
#[derive(Clone)]
pub struct OtpHasher {
    key: Vec<u8>,
}

impl OtpHasher {
    pub fn new(key: &[u8]) -> OtpHasher {
        OtpHasher { key: key.to_vec() }
    }

    pub fn hash(&self, email: &Email, code: &OtpCode) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(b"storefront-otp\0");
        mac.update(email.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(code.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_six_digits() {
        for _ in 0..1000 {
            let code = OtpCode::generate();
            assert!(OtpCode::parse(code.expose()).is_ok());
        }
    }

    #[test]
    fn parse_rejects_non_codes() {
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", " 123456"] {
            assert!(OtpCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hash_depends_on_key_email_and_code() {
        let a = Email::parse("a@example.com").unwrap();
        let b = Email::parse("b@example.com").unwrap();
        let code = OtpCode::parse("123456").unwrap();
        let hasher = OtpHasher::new(b"key one");
        assert_eq!(hasher.hash(&a, &code), hasher.hash(&a, &code));
        assert_ne!(hasher.hash(&a, &code), hasher.hash(&b, &code));
        assert_ne!(
            hasher.hash(&a, &code),
            OtpHasher::new(b"key two").hash(&a, &code)
        );
        assert_ne!(
            hasher.hash(&a, &code),
            hasher.hash(&a, &OtpCode::parse("123457").unwrap())
        );
    }

    #[test]
    fn debug_hides_the_digits() {
        assert!(!format!("{:?}", OtpCode::parse("123456").unwrap()).contains("123456"));
    }
}
