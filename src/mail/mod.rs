//! How mail leaves the process. The mailer composes a message and hands it to
//! the transport chosen by `mail.transport`.

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

use crate::domain::MailContent;

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
}

/// Builds the message: plain text and HTML alternatives, Date and Message-ID.
pub fn compose(from: &Mailbox, to: &str, content: MailContent) -> Result<Message, MailError> {
    Ok(Message::builder()
        .from(from.clone())
        .to(to.parse()?)
        .subject(content.subject)
        .date_now()
        .message_id(None)
        .multipart(MultiPart::alternative_plain_html(
            content.text,
            content.html,
        ))?)
}

#[async_trait]
pub trait MailTransport: Send + Sync {
    async fn send(&self, message: Message) -> Result<(), MailError>;
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
    async fn send(&self, message: Message) -> Result<(), MailError> {
        self.transport.send(message).await?;
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
