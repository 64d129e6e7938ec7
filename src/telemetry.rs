//! Logging setup and the request id that follows a request into every actor
//! that handles a message for it.

use std::future::Future;
use std::sync::Arc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// A request's id, shared (not copied) by everything that works for it.
pub type RequestId = Arc<str>;

tokio::task_local! {
    static REQUEST_ID: Option<RequestId>;
}

/// Installs the global subscriber; `RUST_LOG` wins over `log.level`. Lines
/// are written to stdout by a thread of their own, so a request never waits
/// for the terminal or the pipe; none is dropped (a full buffer makes writers
/// wait instead). Keep the guard until the end: dropping it flushes.
pub fn init(settings: &LogSettings) -> WorkerGuard {
    use std::io::IsTerminal;
    let colours = std::io::stdout().is_terminal();
    // The writer thread takes the lines waiting in a batch and flushes once:
    // one write for many lines, not one per line.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let builder = fmt()
        .with_target(false)
        .with_ansi(colours)
        .with_timer(Timestamp)
        .with_writer(writer);
    // A plain level is checked by comparison; directives per target need
    // EnvFilter, which costs more on every span and event.
    let directives =
        std::env::var("RUST_LOG").unwrap_or_else(|_| settings.level.as_str().to_owned());
    let installed = match (directives.parse::<LevelFilter>(), settings.format) {
        (Ok(level), LogFormat::Pretty) => builder
            .with_max_level(level)
            .finish()
            .with(ClientFaults)
            .with(QuietLibraries)
            .try_init(),
        (Ok(level), LogFormat::Json) => builder
            .with_max_level(level)
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .finish()
            .with(ClientFaults)
            .with(QuietLibraries)
            .try_init(),
        (Err(_), LogFormat::Pretty) => builder
            .with_env_filter(EnvFilter::new(&directives))
            .finish()
            .with(ClientFaults)
            .try_init(),
        (Err(_), LogFormat::Json) => builder
            .with_env_filter(EnvFilter::new(&directives))
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .finish()
            .with(ClientFaults)
            .try_init(),
    };
    // A second init (tests start many apps in one process) keeps the first.
    drop(installed);
    guard
}

/// A request that is not HTTP (a header line without a colon, a NUL in a
/// value, a head past actix's buffer) is answered 400 or 431 by actix-http
/// before any of our code sees it, and its dispatcher logs the refusal as
/// an ERROR, "stream error: request parse error: ...". It is the client's
/// fault, and anyone could fill the error log with it: this layer drops
/// that event and logs the refusal at DEBUG. The dispatcher's other errors
/// (a response body that fails, an upgrade, I/O) stay errors.
struct ClientFaults;

const DISPATCHER: &str = "actix_http::h1::dispatcher";
const PARSE_ERROR: &str = "stream error: request parse error: ";

/// The formatted `message` of an event.
#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for ClientFaults {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() != Level::ERROR || metadata.target() != DISPATCHER {
            return true;
        }
        let mut message = MessageText::default();
        event.record(&mut message);
        match message.0.strip_prefix(PARSE_ERROR) {
            Some(reason) => {
                tracing::debug!(reason, "a request that is not valid HTTP was refused");
                false
            }
            None => true,
        }
    }
}

/// The first lines a user sees at start are the service's own: at a plain
/// level (`info`, `debug`) tantivy's notes on each commit of the search
/// index ("save metas", "Garbage collect") stay out unless they are warnings
/// or errors. A filter with directives (`RUST_LOG=info,tantivy=info`) is
/// taken as it is written, so they can still be asked for.
struct QuietLibraries;

const QUIET_TARGET: &str = "tantivy";

/// The `log.target` of an event that came from the `log` crate.
#[derive(Default)]
struct LogTarget(String);

impl Visit for LogTarget {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "log.target" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber> Layer<S> for QuietLibraries {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() <= Level::WARN {
            return true;
        }
        if metadata.target().starts_with(QUIET_TARGET) {
            return false;
        }
        // Records of the `log` crate (tantivy's) arrive under the target
        // "log", with their own in a field.
        if metadata.target() != "log" {
            return true;
        }
        let mut target = LogTarget::default();
        event.record(&mut target);
        !target.0.starts_with(QUIET_TARGET)
    }
}

/// RFC 3339 UTC time to the microsecond, as the default timer writes it,
/// but with the date and time of day formatted once a second per thread:
/// every log line needs one, and the calendar arithmetic was a visible part
/// of a request's cost.
struct Timestamp;

impl fmt::time::FormatTime for Timestamp {
    fn format_time(&self, w: &mut fmt::format::Writer<'_>) -> std::fmt::Result {
        use std::cell::RefCell;
        use std::time::{SystemTime, UNIX_EPOCH};
        thread_local! {
            static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        SECOND.with_borrow_mut(|(second, formatted)| {
            if *second != now.as_secs() {
                *second = now.as_secs();
                let time = i64::try_from(*second)
                    .ok()
                    .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                    .unwrap_or_default();
                *formatted = time.format("%Y-%m-%dT%H:%M:%S").to_string();
            }
            write!(w, "{formatted}.{:06}Z", now.subsec_micros())
        })
    }
}

/// The id of the request this task works for, if any.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// Runs `fut` with `request_id` as the current request id.
pub async fn with_request_id<F: Future>(request_id: Option<RequestId>, fut: F) -> F::Output {
    REQUEST_ID.scope(request_id, fut).await
}

/// Runs `f` with `request_id` as the current request id.
pub fn sync_with_request_id<R>(request_id: Option<RequestId>, f: impl FnOnce() -> R) -> R {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Keeps the message of every event that reaches it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            let mut message = MessageText::default();
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }

    #[test]
    fn only_requests_that_are_not_http_leave_the_error_log() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(seen.clone())
            .with(ClientFaults);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                target: "actix_http::h1::dispatcher",
                "stream error: request parse error: invalid Header provided"
            );
            tracing::error!(
                target: "actix_http::h1::dispatcher",
                "stream error: body error: the stream broke"
            );
            tracing::error!("stream error: request parse error: ours, not actix's");
        });
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "stream error: body error: the stream broke",
                "stream error: request parse error: ours, not actix's"
            ]
        );
    }
}
