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

/// What a log line names besides its own fields: the request it works
/// for, and the actor and message that handle it. It is a task-local, not
/// a span per request and per message: spans cost the cheapest page a
/// fifth of its throughput, and the line formats (`Lines`) read this.
#[derive(Clone, Default)]
struct LogContext {
    request_id: Option<RequestId>,
    /// The actor's name and the message's type.
    actor: Option<(&'static str, &'static str)>,
}

tokio::task_local! {
    static CONTEXT: LogContext;
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
    let builder = fmt().with_ansi(colours).with_writer(writer);
    // A plain level is checked by comparison; directives per target need
    // EnvFilter, which costs more on every span and event.
    let directives =
        std::env::var("RUST_LOG").unwrap_or_else(|_| settings.level.as_str().to_owned());
    let installed = match (directives.parse::<LevelFilter>(), settings.format) {
        (Ok(level), LogFormat::Pretty) => builder
            .with_max_level(level)
            .event_format(Lines::Pretty)
            .finish()
            .with(ClientFaults)
            .with(QuietLibraries)
            .try_init(),
        (Ok(level), LogFormat::Json) => builder
            .with_max_level(level)
            .fmt_fields(fmt::format::JsonFields::new())
            .event_format(Lines::Json)
            .finish()
            .with(ClientFaults)
            .with(QuietLibraries)
            .try_init(),
        (Err(_), LogFormat::Pretty) => builder
            .with_env_filter(EnvFilter::new(&directives))
            .event_format(Lines::Pretty)
            .finish()
            .with(ClientFaults)
            .try_init(),
        (Err(_), LogFormat::Json) => builder
            .with_env_filter(EnvFilter::new(&directives))
            .fmt_fields(fmt::format::JsonFields::new())
            .event_format(Lines::Json)
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
    CONTEXT
        .try_with(|context| context.request_id.clone())
        .ok()
        .flatten()
}

/// Runs `fut` with `request_id` as the current request id.
pub async fn with_request_id<F: Future>(request_id: Option<RequestId>, fut: F) -> F::Output {
    let context = LogContext {
        request_id,
        actor: None,
    };
    CONTEXT.scope(context, fut).await
}

/// Runs `f` with `request_id` as the current request id.
pub fn sync_with_request_id<R>(request_id: Option<RequestId>, f: impl FnOnce() -> R) -> R {
    let context = LogContext {
        request_id,
        actor: None,
    };
    CONTEXT.sync_scope(context, f)
}

/// Runs `fut`, a handler of `actor` for a `message`, for `request_id`.
pub async fn in_actor<F: Future>(
    request_id: Option<RequestId>,
    actor: &'static str,
    message: &'static str,
    fut: F,
) -> F::Output {
    let context = LogContext {
        request_id,
        actor: Some((actor, message)),
    };
    CONTEXT.scope(context, fut).await
}

/// Runs `f`, a handler of `actor` for a `message`, for `request_id`.
pub fn sync_in_actor<R>(
    request_id: Option<RequestId>,
    actor: &'static str,
    message: &'static str,
    f: impl FnOnce() -> R,
) -> R {
    let context = LogContext {
        request_id,
        actor: Some((actor, message)),
    };
    CONTEXT.sync_scope(context, f)
}

/// `fut` under the current span, request id and actor, to be spawned: its
/// log lines still name the request and the actor that started it.
pub fn in_current_request<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    use tracing::Instrument;
    let context = CONTEXT.try_with(Clone::clone).unwrap_or_default();
    CONTEXT
        .scope(context, fut)
        .instrument(tracing::Span::current())
}

/// The two formats of a log line. Each writes, after the time and the
/// level, what the line is for (`LogContext`: the request id, the actor
/// and message) and the spans it is in, then its fields.
///
/// Pretty: `2026-01-01T10:00:00.000001Z  INFO request{request_id=..}:
/// actor{actor=ProductActor msg=GetProduct}: message field=value`.
///
/// JSON, one object a line: `timestamp`, `level`, `target`, `fields`, then
/// `request_id`, `actor` and `msg` where there are, and `spans` (each with
/// its `name` and fields), outermost first.
enum Lines {
    Pretty,
    Json,
}

impl<S, N> fmt::FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &fmt::FmtContext<'_, S, N>,
        mut writer: fmt::format::Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        use fmt::time::FormatTime;
        use fmt::FormatFields;
        let context = CONTEXT.try_with(Clone::clone).unwrap_or_default();
        let level = *event.metadata().level();
        match self {
            Lines::Pretty => {
                Timestamp.format_time(&mut writer)?;
                if writer.has_ansi_escapes() {
                    let colour = match level {
                        Level::ERROR => 31,
                        Level::WARN => 33,
                        Level::INFO => 32,
                        Level::DEBUG => 34,
                        Level::TRACE => 35,
                    };
                    write!(writer, " \x1b[{colour}m{level:>5}\x1b[0m ")?;
                } else {
                    write!(writer, " {level:>5} ")?;
                }
                let mut scoped = false;
                if let Some(id) = &context.request_id {
                    write!(writer, "request{{request_id={id}}}:")?;
                    scoped = true;
                }
                if let Some((actor, message)) = context.actor {
                    write!(writer, "actor{{actor={actor} msg={message}}}:")?;
                    scoped = true;
                }
                for span in ctx
                    .event_scope()
                    .into_iter()
                    .flat_map(|scope| scope.from_root())
                {
                    write!(writer, "{}", span.name())?;
                    let extensions = span.extensions();
                    if let Some(fields) = extensions.get::<fmt::FormattedFields<N>>() {
                        if !fields.is_empty() {
                            write!(writer, "{{{fields}}}")?;
                        }
                    }
                    writer.write_char(':')?;
                    scoped = true;
                }
                if scoped {
                    writer.write_char(' ')?;
                }
                ctx.format_fields(writer.by_ref(), event)?;
                writeln!(writer)
            }
            Lines::Json => {
                let quoted = |text: &str| serde_json::to_string(text).map_err(|_| std::fmt::Error);
                let mut time = String::with_capacity(32);
                Timestamp.format_time(&mut fmt::format::Writer::new(&mut time))?;
                write!(
                    writer,
                    "{{\"timestamp\":\"{time}\",\"level\":\"{level}\",\"target\":{},\"fields\":",
                    quoted(event.metadata().target())?
                )?;
                ctx.format_fields(writer.by_ref(), event)?;
                if let Some(id) = &context.request_id {
                    write!(writer, ",\"request_id\":{}", quoted(id)?)?;
                }
                if let Some((actor, message)) = context.actor {
                    write!(writer, ",\"actor\":\"{actor}\",\"msg\":\"{message}\"")?;
                }
                let mut spans = ctx
                    .event_scope()
                    .into_iter()
                    .flat_map(|scope| scope.from_root())
                    .peekable();
                if spans.peek().is_some() {
                    writer.write_str(",\"spans\":[")?;
                    for (place, span) in spans.enumerate() {
                        if place > 0 {
                            writer.write_char(',')?;
                        }
                        write!(writer, "{{\"name\":{}", quoted(span.name())?)?;
                        let extensions = span.extensions();
                        let fields = extensions
                            .get::<fmt::FormattedFields<N>>()
                            .map(|fields| fields.as_str())
                            .and_then(|fields| fields.strip_prefix('{'))
                            .filter(|fields| *fields != "}");
                        match fields {
                            Some(fields) => write!(writer, ",{fields}")?,
                            None => writer.write_char('}')?,
                        }
                    }
                    writer.write_char(']')?;
                }
                writeln!(writer, "}}")
            }
        }
    }
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

    /// A writer into memory, for the subscriber under test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `Lines` writes for an event of an actor's handler within a
    /// span of its own, and for an event outside any request.
    fn written(lines: Lines) -> String {
        let out = Written::default();
        let sink = out.clone();
        let builder = fmt().with_ansi(false).with_writer(move || sink.clone());
        let emit = || {
            sync_in_actor(
                Some("req-\"7\"".into()),
                "MailerActor",
                "DeliverEvent",
                || {
                    tracing::info_span!("sending", attempt = 2).in_scope(|| {
                        tracing::info!(mail_id = 3, "mail delivered");
                    })
                },
            );
            tracing::warn!("no request here");
        };
        match lines {
            Lines::Pretty => tracing::subscriber::with_default(
                builder.event_format(Lines::Pretty).finish(),
                emit,
            ),
            Lines::Json => tracing::subscriber::with_default(
                builder
                    .fmt_fields(fmt::format::JsonFields::new())
                    .event_format(Lines::Json)
                    .finish(),
                emit,
            ),
        }
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_pretty_line_names_its_request_actor_and_spans() {
        let text = written(Lines::Pretty);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with(
                " INFO request{request_id=req-\"7\"}:actor{actor=MailerActor msg=DeliverEvent}:sending{attempt=2}: mail delivered mail_id=3"
            ),
            "{text}"
        );
        assert!(lines[1].ends_with(" WARN no request here"), "{text}");
    }

    #[test]
    fn a_json_line_is_json_with_its_request_actor_and_spans() {
        let text = written(Lines::Json);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let delivered = &lines[0];
        assert_eq!(delivered["level"], "INFO");
        assert_eq!(delivered["fields"]["message"], "mail delivered");
        assert_eq!(delivered["fields"]["mail_id"], 3);
        assert_eq!(delivered["request_id"], "req-\"7\"");
        assert_eq!(delivered["actor"], "MailerActor");
        assert_eq!(delivered["msg"], "DeliverEvent");
        assert_eq!(
            delivered["spans"],
            serde_json::json!([{ "name": "sending", "attempt": 2 }])
        );
        assert!(delivered["timestamp"].as_str().unwrap().ends_with('Z'));
        let plain = &lines[1];
        assert_eq!(plain["fields"]["message"], "no request here");
        assert!(plain.get("request_id").is_none() && plain.get("spans").is_none());
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
