//! A mail as it leaves: composed from the domain's content, with its
//! envelope, and the transports that carry it (files, or SMTP beside).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use std::path::PathBuf;

use crate::domain::{MailContent, MailKind};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid recipient address")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot build the message")]
    Build(#[from] lettre::error::Error),
    #[error("cannot write the message into the outbox folder {path}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the SMTP server refused or could not be reached")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the mail server did not accept the mail in time")]
    SendTimedOut,
    #[error("the SMTP server did not answer the connection test")]
    SmtpUnreachable,
    #[error("the last SMTP connection test failed: {0}")]
    CheckFailed(String),
    #[error("cannot start the SMTP worker thread")]
    SmtpRuntime(#[source] std::io::Error),
    #[error("the queued mail cannot be opened (was auth.jwt_secret changed?)")]
    Unsealable,
}

impl MailError {
    /// Whether trying again later may succeed. Only an SMTP permanent (5xx)
    /// answer or a message that cannot be built or opened is final.
    pub fn is_temporary(&self) -> bool {
        match self {
            MailError::Smtp(err) => !err.is_permanent(),
            MailError::Address(_) | MailError::Build(_) | MailError::Unsealable => false,
            _ => true,
        }
    }
}

/// A composed mail: what it is, its envelope and its formatted bytes.
#[derive(Clone)]
pub struct OutgoingMail {
    pub kind: MailKind,
    pub sender: Option<String>,
    pub recipients: Vec<String>,
    /// Never holds a secret (see `domain::MailContent`).
    pub subject: String,
    pub raw: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Shows what logs may show: kind and recipients' domains, not the bytes.
impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("kind", &self.kind)
            .field("to_domains", &self.recipient_domains())
            .finish_non_exhaustive()
    }
}

impl OutgoingMail {
    /// The domains of the recipients, for logs.
    pub fn recipient_domains(&self) -> String {
        self.recipients
            .iter()
            .map(|recipient| recipient.rsplit_once('@').map_or("", |(_, domain)| domain))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }
}

/// Builds the message: plain text and HTML alternatives, Date and Message-ID.
pub fn compose(from: &Mailbox, to: &str, content: MailContent) -> Result<OutgoingMail, MailError> {
    let message = Message::builder()
        .from(from.clone())
        .to(to.parse()?)
        .subject(content.subject.clone())
        .date_now()
        .message_id(None)
        .multipart(MultiPart::alternative_plain_html(
            content.text,
            content.html,
        ))?;
    let envelope = message.envelope();
    Ok(OutgoingMail {
        kind: content.kind,
        sender: envelope.from().map(ToString::to_string),
        recipients: envelope.to().iter().map(ToString::to_string).collect(),
        subject: content.subject,
        raw: message.formatted(),
        expires_at: content.expires_at,
    })
}

pub(super) fn envelope_of(mail: &OutgoingMail) -> Result<lettre::address::Envelope, MailError> {
    let sender = mail.sender.as_deref().map(str::parse).transpose()?;
    let recipients = mail
        .recipients
        .iter()
        .map(|recipient| recipient.parse())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lettre::address::Envelope::new(sender, recipients)?)
}

#[async_trait]
pub trait MailTransport: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
    /// Whether mail could be sent now, for readiness.
    async fn check(&self) -> Result<(), MailError>;
}

/// Writes each message as an `.eml` file into a folder (the embedded mode).
/// The folder and the files are readable by this user only: a sign-in mail
/// holds a code.
pub struct FileOutbox {
    dir: PathBuf,
}

impl FileOutbox {
    pub fn new(dir: PathBuf) -> Result<FileOutbox, MailError> {
        crate::files::create_private_dir(&dir).map_err(|source| MailError::Outbox {
            path: dir.clone(),
            source,
        })?;
        Ok(FileOutbox { dir })
    }
}

#[async_trait]
impl MailTransport for FileOutbox {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        use tokio::io::AsyncWriteExt;
        envelope_of(mail)?;
        let path = self.dir.join(format!("{}.eml", uuid::Uuid::new_v4()));
        let outbox_error = |source| MailError::Outbox {
            path: self.dir.clone(),
            source,
        };
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(outbox_error)?;
        file.write_all(&mail.raw).await.map_err(outbox_error)?;
        file.flush().await.map_err(outbox_error)?;
        Ok(())
    }

    async fn check(&self) -> Result<(), MailError> {
        let folder_error = |source| MailError::Outbox {
            path: self.dir.clone(),
            source,
        };
        let metadata = tokio::fs::metadata(&self.dir).await.map_err(folder_error)?;
        if metadata.is_dir() && !metadata.permissions().readonly() {
            Ok(())
        } else {
            Err(folder_error(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "not a writable folder",
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{render, Email};

    /// A dot-atom of `len` characters that uses every special character
    /// and a dot wherever one may stand.
    fn local_part(len: usize) -> String {
        let atext: Vec<char> = "a!#$%&'*+/=?^_`{|}~-Z9".chars().collect();
        (0..len)
            .map(|i| {
                if i % 2 == 1 && i + 1 < len {
                    '.'
                } else {
                    atext[i % atext.len()]
                }
            })
            .collect()
    }

    /// A domain of `len` characters: labels of 63 and one that makes up the rest.
    fn domain(len: usize) -> String {
        let mut labels = Vec::new();
        let mut left = len;
        while left > 64 {
            labels.push("d".repeat(63));
            left -= 64;
        }
        labels.push("e".repeat(left));
        labels.join(".")
    }

    #[test]
    fn every_address_at_the_limits_that_email_parse_accepts_lettre_sends_to() {
        let from: Mailbox = "shop <no-reply@localhost>".parse().unwrap();
        let mut addresses = Vec::new();
        for local in [1, 2, 63, 64, 65, 100] {
            for whole in [local + 12, 253, 254, 255, 256] {
                if whole > local + 3 {
                    addresses.push(format!(
                        "{}@{}",
                        local_part(local),
                        domain(whole - local - 1)
                    ));
                }
            }
            addresses.push(format!("{}@{}.com", local_part(local), "d".repeat(63)));
            addresses.push(format!("{}@{}.com", local_part(local), "d".repeat(64)));
        }
        let mut accepted = Vec::new();
        for address in &addresses {
            let Ok(email) = Email::parse(address) else {
                continue;
            };
            let mail = compose(&from, email.as_str(), render::welcome(email.as_str()))
                .unwrap_or_else(|err| panic!("lettre refuses {address}: {err}"));
            envelope_of(&mail).unwrap_or_else(|err| panic!("lettre refuses {address}: {err}"));
            accepted.push(address.len());
        }
        let longest_local = format!("{}@example.com", local_part(64));
        assert!(Email::parse(&longest_local).is_ok());
        assert!(
            accepted.contains(&254),
            "no address of 254 characters was tried"
        );
        for address in &addresses {
            if address.split_once('@').unwrap().0.len() > 64 {
                assert!(
                    address.parse::<lettre::Address>().is_err(),
                    "lettre takes {address}: the test no longer shows its limit"
                );
            }
        }
    }
}
