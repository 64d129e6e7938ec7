//! Logging setup and the request id that follows a request into every actor
//! that handles a message for it.

use std::future::Future;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

/// Installs the global subscriber; `RUST_LOG` wins over `log.level`.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.level.as_str()));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let installed = match settings.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    // A second init (tests start many apps in one process) keeps the first.
    drop(installed);
}

/// The id of the request this task works for, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// Runs `fut` with `request_id` as the current request id.
pub async fn with_request_id<F: Future>(request_id: Option<String>, fut: F) -> F::Output {
    REQUEST_ID.scope(request_id, fut).await
}

/// Runs `f` with `request_id` as the current request id.
pub fn sync_with_request_id<R>(request_id: Option<String>, f: impl FnOnce() -> R) -> R {
    REQUEST_ID.sync_scope(request_id, f)
}

/// `fut` under the current span and request id, to be spawned: its log
/// lines still name the request that started it.
pub fn in_current_request<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    use tracing::Instrument;
    let request_id = current_request_id();
    with_request_id(request_id, fut).instrument(tracing::Span::current())
}

/// `error: cause: cause...`, so a log line keeps the whole chain.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
