//! How mail leaves the process. The mailer composes a message, keeps it
//! sealed in the mail queue until it is delivered, and hands its bytes to the
//! transport chosen by `mail.transport`.

mod seal;
mod smtp;
mod transport;

pub use seal::MailSealer;
pub use smtp::SmtpRelay;
pub use transport::{compose, FileOutbox, MailError, MailTransport, OutgoingMail};
