//! How mail leaves the process. The mailer composes a message, keeps it
//! sealed in the mail queue until it is delivered, and hands its bytes to the
//! transport chosen by `mail.transport`.

mod seal;
mod smtp;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use std::path::PathBuf;

pub use seal::MailSealer;
pub use smtp::SmtpRelay;

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

fn envelope_of(mail: &OutgoingMail) -> Result<lettre::address::Envelope, MailError> {
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
