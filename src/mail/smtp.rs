//! SMTP delivery through lettre's pooled async transport.

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::transport::{envelope_of, MailError, MailTransport, OutgoingMail};
use crate::config::{MailSettings, SmtpTls};

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The transport and its connection pool live on a small runtime of their
/// own. lettre's pool spawns tokio tasks when its connections are dropped,
/// which panics when that happens outside a runtime, as it does when an
/// actor's future is dropped while its arbiter shuts down. On its own runtime
/// every send finishes (or fails) in a task there, whatever happens to the
/// caller's future.
pub struct SmtpRelay {
    /// Both `Some` until dropped.
    runtime: Option<Runtime>,
    transport: Option<Arc<Transport>>,
    /// The last connection test and when it ran: `/readyz` can be asked by
    /// anyone, as often as they like, and must not open an SMTP conversation
    /// each time.
    last_check: Mutex<Option<(Instant, Result<(), String>)>>,
    check_interval: Duration,
}

impl SmtpRelay {
    /// Builds the transport; nothing connects until the first mail or check,
    /// so a server that is down at start shows in `/readyz`.
    pub fn new(settings: &MailSettings) -> Result<SmtpRelay, MailError> {
        let host = settings.smtp_host.as_str();
        let builder = match settings.smtp_tls {
            SmtpTls::None => Transport::builder_dangerous(host),
            SmtpTls::Starttls => Transport::starttls_relay(host)?,
            SmtpTls::Tls => Transport::relay(host)?,
        };
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(settings.smtp_timeout()))
            .pool_config(PoolConfig::new().max_size(settings.smtp_pool_size.get()));
        if let Some(password) = &settings.smtp_password {
            builder = builder.credentials(Credentials::new(
                settings.smtp_user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("smtp")
            .enable_all()
            .build()
            .map_err(MailError::SmtpRuntime)?;
        Ok(SmtpRelay {
            runtime: Some(runtime),
            transport: Some(Arc::new(builder.build())),
            last_check: Mutex::new(None),
            check_interval: settings.smtp_check_interval(),
        })
    }

    async fn run<T, F>(&self, work: impl FnOnce(Arc<Transport>) -> F) -> Result<T, MailError>
    where
        F: Future<Output = Result<T, lettre::transport::smtp::Error>> + Send + 'static,
        T: Send + 'static,
    {
        let transport = self.transport.clone().expect("taken only in drop");
        let runtime = self.runtime.as_ref().expect("taken only in drop");
        runtime
            .spawn(work(transport))
            .await
            .map_err(|_| MailError::SmtpUnreachable)?
            .map_err(MailError::from)
    }
}

impl Drop for SmtpRelay {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            {
                let _entered = runtime.enter();
                drop(self.transport.take());
            }
            runtime.shutdown_background();
        }
    }
}

#[async_trait]
impl MailTransport for SmtpRelay {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let envelope = envelope_of(mail)?;
        let raw = mail.raw.clone();
        self.run(|transport| async move { transport.send_raw(&envelope, &raw).await.map(drop) })
            .await
    }

    /// Answers from the last test while it is fresh; callers that arrive
    /// during a test wait for it rather than start their own.
    async fn check(&self) -> Result<(), MailError> {
        let mut last = self.last_check.lock().await;
        if let Some((at, result)) = &*last {
            if at.elapsed() < self.check_interval {
                return result.clone().map_err(MailError::CheckFailed);
            }
        }
        let tested = self
            .run(|transport| async move { transport.test_connection().await })
            .await;
        let result = match tested {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::SmtpUnreachable),
            Err(err) => Err(err),
        };
        *last = Some((
            Instant::now(),
            result
                .as_ref()
                .map(|_| ())
                .map_err(|err| crate::telemetry::error_chain(err)),
        ));
        result
    }
}
