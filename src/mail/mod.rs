//! How mail leaves the process. The mailer composes a message and hands its
//! bytes to the transport chosen by `mail.transport`.

mod smtp;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

pub use smtp::SmtpRelay;

use crate::domain::MailContent;
use crate::store::ParkedMail;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid recipient address")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot build the message")]
    Build(#[from] lettre::error::Error),
    #[error("cannot write the message to the outbox")]
    Outbox(#[from] lettre::transport::file::Error),
    #[error("the outbox folder {path} is not usable")]
    OutboxFolder {
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
    #[error("cannot start the SMTP worker thread")]
    SmtpRuntime(#[source] std::io::Error),
}

impl MailError {
    /// Whether trying again later may succeed. Only an SMTP permanent (5xx)
    /// answer or a message that cannot be built is final.
    pub fn is_temporary(&self) -> bool {
        match self {
            MailError::Smtp(err) => !err.is_permanent(),
            MailError::Address(_) | MailError::Build(_) => false,
            _ => true,
        }
    }
}

/// Builds the message: plain text and HTML alternatives, Date and Message-ID.
pub fn compose(from: &Mailbox, to: &str, content: MailContent) -> Result<ParkedMail, MailError> {
    let subject = content.subject.clone();
    let message = Message::builder()
        .from(from.clone())
        .to(to.parse()?)
        .subject(content.subject)
        .date_now()
        .message_id(None)
        .multipart(MultiPart::alternative_plain_html(
            content.text,
            content.html,
        ))?;
    let envelope = message.envelope();
    Ok(ParkedMail {
        sender: envelope.from().map(ToString::to_string),
        recipients: envelope.to().iter().map(ToString::to_string).collect(),
        subject,
        raw: message.formatted(),
    })
}

fn envelope_of(mail: &ParkedMail) -> Result<lettre::address::Envelope, MailError> {
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
    async fn send(&self, mail: &ParkedMail) -> Result<(), MailError>;
    /// Whether mail could be sent now, for readiness.
    async fn check(&self) -> Result<(), MailError>;
}

/// Writes each message as an `.eml` file into a folder (the embedded mode).
pub struct FileOutbox {
    dir: PathBuf,
    transport: AsyncFileTransport<Tokio1Executor>,
}

impl FileOutbox {
    pub fn new(dir: PathBuf) -> Result<FileOutbox, MailError> {
        std::fs::create_dir_all(&dir).map_err(|source| MailError::OutboxFolder {
            path: dir.clone(),
            source,
        })?;
        Ok(FileOutbox {
            transport: AsyncFileTransport::new(&dir),
            dir,
        })
    }
}

#[async_trait]
impl MailTransport for FileOutbox {
    async fn send(&self, mail: &ParkedMail) -> Result<(), MailError> {
        self.transport
            .send_raw(&envelope_of(mail)?, &mail.raw)
            .await?;
        Ok(())
    }

    async fn check(&self) -> Result<(), MailError> {
        let folder_error = |source| MailError::OutboxFolder {
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
