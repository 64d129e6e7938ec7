//! Mail waiting in the queue is sealed (ChaCha20-Poly1305 under a key derived
//! from the service's secret): a database backup or a curious operator finds
//! no sign-in code in the mail queue.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::transport::{MailError, OutgoingMail};
use crate::store::StoredMail;

/// Marks a sealed body; queue rows written before sealing existed lack it
/// and hold no secret (the migration deleted the sign-in mails among them).
const SEALED: &[u8] = b"sf1:";
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct MailSealer {
    cipher: ChaCha20Poly1305,
}

impl MailSealer {
    pub fn new(secret: &[u8]) -> MailSealer {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"storefront-mail-queue");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        MailSealer {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    pub fn seal(&self, mail: &OutgoingMail) -> StoredMail {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, mail.raw.as_slice())
            .expect("sealing a message in memory cannot fail");
        let mut sealed = Vec::with_capacity(SEALED.len() + NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(SEALED);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        StoredMail {
            kind: mail.kind,
            sender: mail.sender.clone(),
            recipients: mail.recipients.clone(),
            subject: mail.subject.clone(),
            sealed,
            expires_at: mail.expires_at,
        }
    }

    pub fn open(&self, stored: StoredMail) -> Result<OutgoingMail, MailError> {
        let raw = match stored.sealed.strip_prefix(SEALED) {
            Some(sealed) if sealed.len() > NONCE_LEN => {
                let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
                let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| MailError::Unsealable)?;
                self.cipher
                    .decrypt(&Nonce::from(nonce), ciphertext)
                    .map_err(|_| MailError::Unsealable)?
            }
            Some(_) => return Err(MailError::Unsealable),
            None => stored.sealed,
        };
        Ok(OutgoingMail {
            kind: stored.kind,
            sender: stored.sender,
            recipients: stored.recipients,
            subject: stored.subject,
            raw,
            expires_at: stored.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MailKind;

    fn mail() -> OutgoingMail {
        OutgoingMail {
            kind: MailKind::SignInCode,
            sender: None,
            recipients: vec!["a@example.com".into()],
            subject: "Your storefront sign-in code".into(),
            raw: b"Your sign-in code is 123456".to_vec(),
            expires_at: None,
        }
    }

    #[test]
    fn sealed_mail_hides_its_bytes_and_opens_again() {
        let sealer = MailSealer::new(b"a secret of at least thirty-two bytes");
        let stored = sealer.seal(&mail());
        assert!(!stored.sealed.windows(6).any(|window| window == b"123456"));
        assert_eq!(sealer.open(stored.clone()).unwrap().raw, mail().raw);
        let other = MailSealer::new(b"another secret of thirty-two bytes!!");
        assert!(matches!(other.open(stored), Err(MailError::Unsealable)));
    }
}
