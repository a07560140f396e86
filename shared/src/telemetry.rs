//! Logging and request telemetry.
//!
//! [`init`] installs the process-wide subscriber once at start-up:
//!
//! - on Cloud Run (service or job) every event is one JSON object per line on stdout in Cloud
//!   Logging's [structured format] ([`CloudLoggingLayer`]), so `severity`, the trace correlation
//!   and the request summary (`httpRequest`) are understood by Cloud Logging and Cloud Trace;
//! - elsewhere (local development, the dev runner, Lambda) readable compact text.
//!
//! The level filter comes from `RUST_LOG` (default `info`).
//!
//! [`request_span`] is the per-request middleware: it opens the `request` span (method, route,
//! request id and the incoming trace context) around the handler, so every event a handler logs is
//! correlated with its trace, and it logs exactly one completion line per request.
//!
//! # JSON line shape
//!
//! ```json
//! {"severity":"WARNING","message":"item looked up","time":"2025-01-01T12:00:00.123456Z",
//!  "target":"get_item","logging.googleapis.com/trace":"projects/p/traces/4bf9...",
//!  "logging.googleapis.com/spanId":"00f067aa0ba902b7","logging.googleapis.com/trace_sampled":true,
//!  "method":"GET","route":"/items/{id}","request_id":"0193...","item":"42"}
//! ```
//!
//! Fields of the enclosing spans are *flattened* into the top level (that is what makes
//! `jsonPayload.request_id` queryable on every line of a request). On a name clash the event's own
//! field wins over span fields, and an inner span's over an outer one's. The keys the layer writes
//! itself (`severity`, `message`, `time`, `target`, the `logging.googleapis.com/*` keys and
//! `httpRequest`) always win over fields of the same name.
//!
//! Two field conventions are lifted rather than copied:
//!
//! - `trace_id`, `span_id` and `trace_sampled` (from any enclosing span or the event) become
//!   `logging.googleapis.com/trace` (`projects/{project}/traces/{trace_id}`, or the bare trace id
//!   when no project is configured), `logging.googleapis.com/spanId` and
//!   `logging.googleapis.com/trace_sampled`. A consumer of an event envelope can therefore
//!   correlate its logs with the producer's trace by opening a span with a `trace_id` field.
//! - fields named `httpRequest.<name>` are gathered into the `httpRequest` object as `<name>`
//!   (Cloud Logging's [HttpRequest]); the local text format hides them, since there they only
//!   repeat what the span and the `status`/`latency_ms` fields already say.
//!
//! [structured format]: https://cloud.google.com/logging/docs/structured-logging
//! [HttpRequest]: https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest

use std::fmt::{self, Write as _};
use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Instrument as _, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, registry};

use crate::config::Config;

/// The header an outer layer (tower-http's `SetRequestId`) fills with the request id.
const REQUEST_ID_HEADER: &str = "x-request-id";
/// A client may send its own request id; longer ones are replaced rather than bloating every line.
const MAX_REQUEST_ID_LEN: usize = 128;
/// Health checks are logged at DEBUG so probes don't drown the useful lines.
const HEALTH_PATH: &str = "/healthz";

const TRACE_KEY: &str = "logging.googleapis.com/trace";
const SPAN_ID_KEY: &str = "logging.googleapis.com/spanId";
const SAMPLED_KEY: &str = "logging.googleapis.com/trace_sampled";
const SOURCE_LOCATION_KEY: &str = "logging.googleapis.com/sourceLocation";
const HTTP_REQUEST_PREFIX: &str = "httpRequest.";

// ===== init =====

/// Installs the global subscriber: Cloud Logging JSON on stdout on Cloud Run, compact text
/// otherwise; level filter from `RUST_LOG`, default `info`.
///
/// Meant to be called once at start-up; a second call (or a subscriber installed by someone else,
/// e.g. a test harness) leaves the existing subscriber in place instead of panicking.
pub fn init(config: &Config, service: &str) {
    // Lossy: a typo in RUST_LOG must not stop a function from starting; bad directives are
    // skipped and the rest (or the `info` default) applies.
    let mut filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    if std::env::var_os("RUST_LOG").is_none() {
        // refinery narrates every migration at INFO; the migrate job reports what it applied.
        if let Ok(quiet) = "refinery_core=warn".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    let (format, installed) = if config.on_cloud_run() {
        let layer = cloud_logging_layer(config.project_id.clone(), std::io::stdout);
        (
            "cloud-logging-json",
            registry().with(filter).with(layer).try_init(),
        )
    } else {
        let ansi = std::io::stdout().is_terminal();
        (
            "text",
            registry()
                .with(filter)
                .with(local_layer(std::io::stdout, ansi))
                .try_init(),
        )
    };
    if installed.is_ok() {
        tracing::debug!(service, format, "telemetry initialised");
    }
}

/// The local, human-readable format: tracing-subscriber's compact text without the
/// `httpRequest.*` fields.
fn local_layer<S, W>(writer: W, ansi: bool) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .compact()
        .with_ansi(ansi)
        .with_writer(writer)
        .fmt_fields(LocalFields)
}

/// Formats fields like tracing-subscriber's default (`message` bare, then `name=value`), but
/// skips `httpRequest.*`: those exist for Cloud Logging's request summary and only repeat the
/// span and the `status`/`latency_ms` fields in text.
struct LocalFields;

impl<'w> FormatFields<'w> for LocalFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = LocalVisitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct LocalVisitor<'w> {
    writer: Writer<'w>,
    empty: bool,
    result: fmt::Result,
}

impl Visit for LocalVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if self.result.is_err() || name.starts_with(HTTP_REQUEST_PREFIX) {
            return;
        }
        let separator = if self.empty { "" } else { " " };
        self.empty = false;
        self.result = if name == "message" {
            write!(self.writer, "{separator}{value:?}")
        } else {
            write!(self.writer, "{separator}{name}={value:?}")
        };
    }
}

// ===== Cloud Logging JSON layer =====

/// Cloud Logging's severity name for a tracing level (Cloud Logging has no TRACE, and spells
/// WARN as WARNING).
pub fn severity(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        // DEBUG and TRACE: Cloud Logging's lowest level is DEBUG.
        _ => "DEBUG",
    }
}

/// A [`Layer`] writing every event as one Cloud Logging JSON object per line (see the module
/// documentation for the shape). Build it with [`cloud_logging_layer`].
pub struct CloudLoggingLayer<W> {
    project_id: Option<String>,
    writer: W,
}

impl<W> fmt::Debug for CloudLoggingLayer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudLoggingLayer")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// The Cloud Logging JSON layer writing to `writer` (stdout in production, a buffer in tests).
/// `project_id` qualifies the trace (`projects/{project_id}/traces/{trace_id}`), which is the form
/// Cloud Logging needs to link a line to Cloud Trace.
pub fn cloud_logging_layer<W>(project_id: Option<String>, writer: W) -> CloudLoggingLayer<W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    CloudLoggingLayer { project_id, writer }
}

/// The JSON-ready fields of a span, kept in the span's extensions so `on_event` need not
/// re-visit anything.
struct SpanFields(Map<String, Value>);

impl<S, W> Layer<S> for CloudLoggingLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(fields));
        } else {
            let mut fields = Map::new();
            values.record(&mut JsonVisitor(&mut fields));
            extensions.insert(SpanFields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        // Outer spans first so inner spans, then the event itself, override them.
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));

        let line = format_line(self.project_id.as_deref(), event.metadata(), fields);
        // One write per line so concurrent requests never interleave within a line; a failed
        // write has nowhere better to be reported, so it is dropped.
        let _ = self
            .writer
            .make_writer_for(event.metadata())
            .write_all(&line);
    }
}

/// Renders one event (its merged span and event fields) as a JSON line ending in `\n`.
fn format_line(
    project_id: Option<&str>,
    metadata: &tracing::Metadata<'_>,
    mut fields: Map<String, Value>,
) -> Vec<u8> {
    // In writing order: the reserved keys first.
    let mut head: Vec<(&str, Value)> = Vec::with_capacity(9);
    head.push(("severity", severity(*metadata.level()).into()));
    if let Some(message) = fields.remove("message") {
        head.push(("message", message));
    }
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    head.push(("time", time.into()));
    head.push(("target", metadata.target().into()));

    let trace_id = fields.remove("trace_id");
    let span_id = fields.remove("span_id");
    let sampled = fields.remove("trace_sampled");
    if let Some(Value::String(trace_id)) = trace_id {
        let trace = match project_id {
            Some(project) => format!("projects/{project}/traces/{trace_id}"),
            None => trace_id,
        };
        head.push((TRACE_KEY, trace.into()));
        if let Some(span_id @ Value::String(_)) = span_id {
            head.push((SPAN_ID_KEY, span_id));
        }
        if let Some(sampled @ Value::Bool(_)) = sampled {
            head.push((SAMPLED_KEY, sampled));
        }
    }

    let http_keys: Vec<String> = fields
        .keys()
        .filter(|k| k.starts_with(HTTP_REQUEST_PREFIX))
        .cloned()
        .collect();
    if !http_keys.is_empty() {
        let mut http_request = Map::new();
        for key in http_keys {
            if let Some(value) = fields.remove(&key) {
                http_request.insert(key[HTTP_REQUEST_PREFIX.len()..].to_owned(), value);
            }
        }
        head.push(("httpRequest", Value::Object(http_request)));
    }

    // Where the line came from is worth its bytes only on lines someone will chase.
    if *metadata.level() <= Level::WARN {
        let mut location = Map::new();
        if let Some(file) = metadata.file() {
            location.insert("file".into(), file.into());
        }
        if let Some(line) = metadata.line() {
            // int64 in LogEntrySourceLocation, hence a string in protobuf JSON.
            location.insert("line".into(), line.to_string().into());
        }
        if let Some(module) = metadata.module_path() {
            location.insert("function".into(), module.into());
        }
        head.push((SOURCE_LOCATION_KEY, Value::Object(location)));
    }

    // Written by hand rather than as one map so the reserved keys come first (readable in
    // `gcloud logging read` and locally) and always win over same-named fields.
    let mut line = Vec::with_capacity(512);
    line.push(b'{');
    let extra = fields
        .iter()
        .filter(|(key, _)| !head.iter().any(|(reserved, _)| reserved == key))
        .map(|(key, value)| (key.as_str(), value));
    let reserved = head.iter().map(|(key, value)| (*key, value));
    for (i, (key, value)) in reserved.chain(extra).enumerate() {
        if i > 0 {
            line.push(b',');
        }
        // Serialising a string key or a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut line, key);
        line.push(b':');
        let _ = serde_json::to_writer(&mut line, value);
    }
    line.extend_from_slice(b"}\n");
    line
}

/// Records tracing field values as JSON values, keeping numbers and booleans typed.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; keep them readable as strings instead of dropping them.
        let value = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.insert(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole source chain: the outermost message alone rarely says what went wrong.
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        self.insert(field, text.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

// ===== trace context =====

/// The trace a request belongs to, from its `traceparent` or `X-Cloud-Trace-Context` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The caller's span, 16 lowercase hex digits, when the header carried one.
    pub span_id: Option<String>,
    /// Whether the caller sampled this trace (Cloud Trace records it).
    pub sampled: bool,
}

/// Reads the trace context of a request: W3C `traceparent` first, else Google's
/// `X-Cloud-Trace-Context`. Malformed headers and all-zero ids are ignored (`None`), never an
/// error: a bad trace header must not fail a request.
pub fn trace_context(headers: &HeaderMap) -> Option<TraceContext> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("traceparent")
        .and_then(parse_traceparent)
        .or_else(|| header("x-cloud-trace-context").and_then(parse_cloud_trace_context))
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>` (W3C Trace Context, level 1).
fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let value = value.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let rest = parts.next();
    if !is_lower_hex(version, 2) || version == "ff" {
        return None;
    }
    // Version 00 has exactly four fields; the spec lets later versions append more, which a
    // version-00 parser must skip rather than reject.
    if version == "00" && rest.is_some() {
        return None;
    }
    if !is_lower_hex(trace_id, 32) || !is_lower_hex(span_id, 16) || !is_lower_hex(flags, 2) {
        return None;
    }
    if is_all_zero(trace_id) || is_all_zero(span_id) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceContext {
        trace_id: trace_id.to_owned(),
        span_id: Some(span_id.to_owned()),
        sampled: flags & 0x01 == 0x01,
    })
}

/// `TRACE_ID[/SPAN_ID][;o=OPTIONS]`, where `SPAN_ID` is a decimal u64 and `o=1` means sampled.
fn parse_cloud_trace_context(value: &str) -> Option<TraceContext> {
    let (ids, options) = match value.trim().split_once(';') {
        Some((ids, options)) => (ids, Some(options)),
        None => (value.trim(), None),
    };
    let (trace_id, span_id) = match ids.split_once('/') {
        Some((trace_id, span_id)) => (trace_id, Some(span_id)),
        None => (ids, None),
    };
    let trace_id = trace_id.to_ascii_lowercase();
    if !is_lower_hex(&trace_id, 32) || is_all_zero(&trace_id) {
        return None;
    }
    let span_id = match span_id {
        None | Some("") => None,
        Some(decimal) => {
            if !decimal.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // A zero span id means "no span", as in W3C.
            match decimal.parse::<u64>().ok()? {
                0 => None,
                id => Some(format!("{id:016x}")),
            }
        }
    };
    let sampled =
        options.is_some_and(|options| options.split(';').any(|option| option.trim() == "o=1"));
    Some(TraceContext {
        trace_id,
        span_id,
        sampled,
    })
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_all_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

// ===== request middleware =====

/// Per-request telemetry, for `axum::middleware::from_fn(request_span)`.
///
/// Opens the `request` span (`method`, `route` — the matched route template such as
/// `/items/{id}` when added with `Router::layer`, else the raw path —, `request_id`, and
/// `trace_id`/`span_id`/`trace_sampled` when the request carries a trace context), runs the
/// inner service inside it, and logs one `request completed` line with `status`, `latency_ms` and
/// Cloud Logging's `httpRequest` summary: INFO below 500, ERROR from 500, DEBUG for `/healthz`.
///
/// The request id is the `x-request-id` header (set by tower-http's `SetRequestId` outside this
/// middleware); without one a UUID v7 is generated and written to the request (for handlers) and
/// the response. The parsed [`TraceContext`] is inserted into the request extensions, so a
/// handler can carry it into the events it publishes.
///
/// Only the path is logged, never the query string (it can carry tokens), and no header besides
/// `User-Agent` (Authorization and Cookie stay out of logs). Latency is measured until the
/// response head is ready, not until a streamed body finishes.
pub async fn request_span(mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |matched| matched.as_str().to_owned());

    let (request_id, generated) = match existing_request_id(request.headers()) {
        Some(id) => (id, false),
        None => (uuid::Uuid::now_v7().to_string(), true),
    };
    if generated {
        // A UUID is always a valid header value; the `if let` only avoids a panic path.
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            request.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
    }

    let trace = trace_context(request.headers());
    if let Some(trace) = &trace {
        request.extensions_mut().insert(trace.clone());
    }

    let summary = RequestSummary {
        protocol: format!("{:?}", request.version()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        remote_ip: remote_ip(&request),
        request_size: request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
    };

    // ERROR level so the span (and with it the trace correlation of every line a handler logs)
    // survives any RUST_LOG that lets anything through: with an INFO span, `RUST_LOG=warn` would
    // strip the trace from exactly the warnings one wants to correlate.
    let span = tracing::error_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %request_id,
        trace_id = trace.as_ref().map(|t| t.trace_id.as_str()),
        span_id = trace.as_ref().and_then(|t| t.span_id.as_deref()),
        trace_sampled = trace.as_ref().map(|t| t.sampled),
    );

    let mut response = next.run(request).instrument(span.clone()).await;
    let latency = start.elapsed();

    if generated
        && !response.headers().contains_key(REQUEST_ID_HEADER)
        && let Ok(value) = HeaderValue::from_str(&request_id)
    {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }

    let status = response.status();
    let kind = if path == HEALTH_PATH {
        Completion::Health
    } else if status.is_server_error() {
        Completion::Failed
    } else {
        Completion::Ok
    };
    let completed = Completed {
        status: status.as_u16(),
        latency_ms: latency_ms(latency),
        method: method.as_str(),
        url: &path,
        latency: cloud_duration(latency),
        response_size: response.body().size_hint().exact().map(|n| n.to_string()),
        summary: &summary,
    };
    span.in_scope(|| completed.log(kind));
    response
}

/// The client-sent request id, if usable: visible ASCII (guaranteed by `to_str`), not empty and
/// not absurdly long.
fn existing_request_id(headers: &HeaderMap) -> Option<String> {
    let id = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?.trim();
    (!id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN).then(|| id.to_owned())
}

/// The client address as reported: the first valid address in `X-Forwarded-For` (Cloud Run's
/// front end puts the client there; the socket peer is the front end itself), else the socket
/// peer when the server records it. For logs only, never for access decisions: a client can
/// prepend anything to `X-Forwarded-For`.
fn remote_ip(request: &Request) -> Option<String> {
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|hop| hop.trim().parse::<IpAddr>().ok())
        });
    forwarded
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        })
        .map(|ip| ip.to_string())
}

/// Milliseconds with microsecond precision: readable and sortable in text logs.
fn latency_ms(latency: Duration) -> f64 {
    (latency.as_micros() as f64) / 1000.0
}

/// A protobuf-JSON duration, as Cloud Logging's `httpRequest.latency` wants it: `"0.012345678s"`.
fn cloud_duration(latency: Duration) -> String {
    format!("{}.{:09}s", latency.as_secs(), latency.subsec_nanos())
}

/// What is known about the request before it runs, for its completion line.
struct RequestSummary {
    protocol: String,
    user_agent: Option<String>,
    remote_ip: Option<String>,
    request_size: Option<u64>,
}

#[derive(Clone, Copy)]
enum Completion {
    Health,
    Ok,
    Failed,
}

/// The completion line's data.
struct Completed<'a> {
    status: u16,
    latency_ms: f64,
    method: &'a str,
    url: &'a str,
    latency: String,
    response_size: Option<String>,
    summary: &'a RequestSummary,
}

impl Completed<'_> {
    fn log(&self, kind: Completion) {
        // A tracing event's level must be a constant, hence one expansion per level.
        macro_rules! completion {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    status = self.status,
                    latency_ms = self.latency_ms,
                    httpRequest.requestMethod = self.method,
                    httpRequest.requestUrl = self.url,
                    httpRequest.status = self.status,
                    httpRequest.latency = self.latency.as_str(),
                    httpRequest.protocol = self.summary.protocol.as_str(),
                    httpRequest.userAgent = self.summary.user_agent.as_deref(),
                    httpRequest.remoteIp = self.summary.remote_ip.as_deref(),
                    // Sizes are int64, which protobuf JSON writes as strings.
                    httpRequest.requestSize = self.summary.request_size.map(|n| n.to_string()),
                    httpRequest.responseSize = self.response_size.as_deref(),
                    "request completed"
                )
            };
        }
        match kind {
            Completion::Health => completion!(Level::DEBUG),
            Completion::Ok => completion!(Level::INFO),
            Completion::Failed => completion!(Level::ERROR),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::routing::get;
    use http::StatusCode;
    use tower::ServiceExt as _;

    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN_ID: &str = "00f067aa0ba902b7";

    /// An in-memory `MakeWriter`.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        fn lines(&self) -> Vec<Value> {
            self.text()
                .lines()
                .map(|line| serde_json::from_str(line).expect("every line is one JSON object"))
                .collect()
        }
    }

    fn json_subscriber(project: Option<&str>) -> (impl Subscriber + Send + Sync, Buffer) {
        let buffer = Buffer::default();
        let layer = cloud_logging_layer(project.map(str::to_owned), buffer.clone());
        (registry().with(layer), buffer)
    }

    async fn get_item(Path(id): Path<String>) -> &'static str {
        tracing::warn!(item = %id, "item looked up");
        "ok"
    }

    fn app() -> Router {
        Router::new()
            .route("/items/{id}", get(get_item))
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/boom",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
            )
            .layer(axum::middleware::from_fn(request_span))
    }

    fn completion(lines: &[Value]) -> &Value {
        let mut found = lines.iter().filter(|l| l["message"] == "request completed");
        let line = found.next().expect("a completion line");
        assert!(found.next().is_none(), "exactly one completion line");
        line
    }

    #[tokio::test]
    async fn request_logs_carry_trace_correlation_and_http_request() {
        let (subscriber, buffer) = json_subscriber(Some("p"));
        let _guard = tracing::subscriber::set_default(subscriber);

        let request = http::Request::get("/items/42?token=secret-query")
            .header("traceparent", format!("00-{TRACE_ID}-{SPAN_ID}-01"))
            .header("x-request-id", "req-1")
            .header("user-agent", "probe/1.0")
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .header("authorization", "Bearer secret-token")
            .header("cookie", "session=secret-cookie")
            .body(Body::empty())
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        let text = buffer.text();
        for secret in ["secret-token", "secret-cookie", "secret-query"] {
            assert!(!text.contains(secret), "{secret} leaked into logs: {text}");
        }
        let lines = buffer.lines();
        assert_eq!(lines.len(), 2, "{text}");

        let warning = &lines[0];
        assert_eq!(warning["severity"], "WARNING");
        assert_eq!(warning["message"], "item looked up");
        assert_eq!(warning["item"], "42");
        assert_eq!(warning["route"], "/items/{id}");
        assert_eq!(warning["method"], "GET");
        assert_eq!(warning["request_id"], "req-1");
        assert_eq!(
            warning[TRACE_KEY],
            format!("projects/p/traces/{TRACE_ID}").as_str()
        );
        assert_eq!(warning[SPAN_ID_KEY], SPAN_ID);
        assert_eq!(warning[SAMPLED_KEY], true);
        // Lifted, not duplicated.
        assert!(warning.get("trace_id").is_none());
        assert!(warning.get("span_id").is_none());
        assert!(warning[SOURCE_LOCATION_KEY]["file"].is_string());
        let time = warning["time"].as_str().unwrap();
        assert!(time.ends_with('Z'), "{time}");
        chrono::DateTime::parse_from_rfc3339(time).unwrap();

        let done = completion(&lines);
        assert_eq!(done["severity"], "INFO");
        assert_eq!(done["status"], 200);
        assert!(done["latency_ms"].is_number());
        assert_eq!(done["route"], "/items/{id}");
        assert_eq!(done[TRACE_KEY], warning[TRACE_KEY]);
        assert_eq!(done[SPAN_ID_KEY], SPAN_ID);
        let http_request = &done["httpRequest"];
        assert_eq!(http_request["status"], 200);
        assert_eq!(http_request["requestMethod"], "GET");
        assert_eq!(http_request["requestUrl"], "/items/42");
        assert_eq!(http_request["userAgent"], "probe/1.0");
        assert_eq!(http_request["remoteIp"], "203.0.113.7");
        assert_eq!(http_request["protocol"], "HTTP/1.1");
        assert_eq!(http_request["responseSize"], "2");
        let latency = http_request["latency"].as_str().unwrap();
        assert!(
            latency.ends_with('s') && latency[..latency.len() - 1].parse::<f64>().is_ok(),
            "{latency}"
        );
        assert!(done.get("httpRequest.status").is_none());
    }

    #[tokio::test]
    async fn cloud_trace_context_header_and_no_project() {
        let (subscriber, buffer) = json_subscriber(None);
        let _guard = tracing::subscriber::set_default(subscriber);

        let request = http::Request::get("/items/7")
            .header("x-cloud-trace-context", format!("{TRACE_ID}/1;o=0"))
            .body(Body::empty())
            .unwrap();
        app().oneshot(request).await.unwrap();

        let lines = buffer.lines();
        let done = completion(&lines);
        assert_eq!(done[TRACE_KEY], TRACE_ID);
        assert_eq!(done[SPAN_ID_KEY], "0000000000000001");
        assert_eq!(done[SAMPLED_KEY], false);
    }

    #[tokio::test]
    async fn generates_a_uuid_v7_request_id_when_absent() {
        let (subscriber, buffer) = json_subscriber(Some("p"));
        let _guard = tracing::subscriber::set_default(subscriber);

        let request = http::Request::get("/items/1").body(Body::empty()).unwrap();
        let response = app().oneshot(request).await.unwrap();

        let lines = buffer.lines();
        let done = completion(&lines);
        let id = done["request_id"].as_str().unwrap();
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(response.headers()[REQUEST_ID_HEADER], id);
        // Without a trace context there is nothing to correlate, and nothing is invented.
        assert!(done.get(TRACE_KEY).is_none());
        assert!(done.get(SPAN_ID_KEY).is_none());
    }

    #[tokio::test]
    async fn health_checks_log_at_debug_and_server_errors_at_error() {
        let (subscriber, buffer) = json_subscriber(Some("p"));
        let _guard = tracing::subscriber::set_default(subscriber);

        let health = http::Request::get("/healthz").body(Body::empty()).unwrap();
        app().oneshot(health).await.unwrap();
        let lines = buffer.lines();
        assert_eq!(completion(&lines)["severity"], "DEBUG");
        assert_eq!(completion(&lines)["route"], "/healthz");

        buffer.0.lock().unwrap().clear();
        let boom = http::Request::get("/boom").body(Body::empty()).unwrap();
        app().oneshot(boom).await.unwrap();
        let lines = buffer.lines();
        let done = completion(&lines);
        assert_eq!(done["severity"], "ERROR");
        assert_eq!(done["httpRequest"]["status"], 503);
    }

    #[tokio::test]
    async fn unmatched_paths_log_the_raw_path() {
        let (subscriber, buffer) = json_subscriber(Some("p"));
        let _guard = tracing::subscriber::set_default(subscriber);

        // Outside the router, as a runtime wrapping the whole service would place it: no
        // `MatchedPath` there.
        let router = Router::new().route("/items/{id}", get(get_item));
        let service = tower::Layer::layer(&axum::middleware::from_fn(request_span), router);
        let request = http::Request::get("/nowhere").body(Body::empty()).unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let lines = buffer.lines();
        let done = completion(&lines);
        assert_eq!(done["route"], "/nowhere");
        assert_eq!(done["severity"], "INFO");
    }

    #[test]
    fn severity_of_each_level() {
        assert_eq!(severity(Level::TRACE), "DEBUG");
        assert_eq!(severity(Level::DEBUG), "DEBUG");
        assert_eq!(severity(Level::INFO), "INFO");
        assert_eq!(severity(Level::WARN), "WARNING");
        assert_eq!(severity(Level::ERROR), "ERROR");
    }

    #[test]
    fn each_level_is_written_with_its_severity() {
        let (subscriber, buffer) = json_subscriber(None);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!("t");
            tracing::debug!("d");
            tracing::info!("i");
            tracing::warn!("w");
            tracing::error!("e");
        });
        let severities: Vec<_> = buffer
            .lines()
            .iter()
            .map(|l| l["severity"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(severities, ["DEBUG", "DEBUG", "INFO", "WARNING", "ERROR"]);
    }

    #[test]
    fn fields_are_typed_flattened_and_reserved_keys_win() {
        let (subscriber, buffer) = json_subscriber(None);
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", tenant = "t1", shared = "outer");
            let _outer = outer.enter();
            let inner =
                tracing::info_span!("inner", shared = "inner", late = tracing::field::Empty);
            let _inner = inner.enter();
            inner.record("late", 5_u64);
            let error = io::Error::other("disk full");
            tracing::info!(
                count = 3_i64,
                ratio = 0.5_f64,
                ok = true,
                severity = "bogus",
                error = &error as &dyn std::error::Error,
                "hello {}",
                "world"
            );
        });
        let lines = buffer.lines();
        let line = &lines[0];
        assert_eq!(line["message"], "hello world");
        assert_eq!(line["severity"], "INFO");
        assert_eq!(line["tenant"], "t1");
        assert_eq!(line["shared"], "inner");
        assert_eq!(line["late"], 5);
        assert_eq!(line["count"], 3);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["ok"], true);
        assert_eq!(line["error"], "disk full");
        assert!(line.get(SOURCE_LOCATION_KEY).is_none());
        assert!(line.get("httpRequest").is_none());
        // The reserved keys come first.
        assert!(
            buffer
                .text()
                .starts_with(r#"{"severity":"INFO","message":"hello world","#)
        );
    }

    #[test]
    fn local_text_hides_http_request_fields() {
        let buffer = Buffer::default();
        let subscriber = registry().with(local_layer(buffer.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", route = "/items/{id}");
            let _entered = span.enter();
            tracing::info!(
                status = 200_u64,
                httpRequest.status = 200_u64,
                "request completed"
            );
        });
        let text = buffer.text();
        assert!(text.contains("request completed status=200"), "{text}");
        assert!(text.contains("route=\"/items/{id}\""), "{text}");
        assert!(!text.contains("httpRequest"), "{text}");
    }

    #[test]
    fn traceparent_valid() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{TRACE_ID}-{SPAN_ID}-01").parse().unwrap(),
        );
        assert_eq!(
            trace_context(&headers),
            Some(TraceContext {
                trace_id: TRACE_ID.into(),
                span_id: Some(SPAN_ID.into()),
                sampled: true,
            })
        );
        let unsampled = parse_traceparent(&format!("00-{TRACE_ID}-{SPAN_ID}-00")).unwrap();
        assert!(!unsampled.sampled);
        // A future version may append fields.
        assert!(parse_traceparent(&format!("01-{TRACE_ID}-{SPAN_ID}-01-extra")).is_some());
    }

    #[test]
    fn traceparent_malformed_or_zero() {
        let zero_trace = "0".repeat(32);
        let zero_span = "0".repeat(16);
        for bad in [
            String::new(),
            "garbage".into(),
            format!("00-{TRACE_ID}-{SPAN_ID}"),
            format!("00-{TRACE_ID}-{SPAN_ID}-01-extra"),
            format!("ff-{TRACE_ID}-{SPAN_ID}-01"),
            format!("00-{}-{SPAN_ID}-01", TRACE_ID.to_uppercase()),
            format!("00-{}-{SPAN_ID}-01", &TRACE_ID[..31]),
            format!("00-{TRACE_ID}-{}-01", &SPAN_ID[..15]),
            format!("00-{TRACE_ID}-{SPAN_ID}-0x"),
            format!("00-{zero_trace}-{SPAN_ID}-01"),
            format!("00-{TRACE_ID}-{zero_span}-01"),
        ] {
            assert_eq!(parse_traceparent(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cloud_trace_context_valid() {
        let parsed = parse_cloud_trace_context(&format!("{TRACE_ID}/12345;o=1")).unwrap();
        assert_eq!(parsed.trace_id, TRACE_ID);
        assert_eq!(parsed.span_id.as_deref(), Some("0000000000003039"));
        assert!(parsed.sampled);

        let max = parse_cloud_trace_context(&format!("{TRACE_ID}/18446744073709551615")).unwrap();
        assert_eq!(max.span_id.as_deref(), Some("ffffffffffffffff"));
        assert!(!max.sampled);

        let bare = parse_cloud_trace_context(TRACE_ID).unwrap();
        assert_eq!(bare.span_id, None);

        let upper = parse_cloud_trace_context(&TRACE_ID.to_uppercase()).unwrap();
        assert_eq!(upper.trace_id, TRACE_ID);

        let unsampled = parse_cloud_trace_context(&format!("{TRACE_ID}/1;o=0")).unwrap();
        assert!(!unsampled.sampled);
    }

    #[test]
    fn cloud_trace_context_malformed_or_zero() {
        for bad in [
            String::new(),
            "not-a-trace".into(),
            format!("{}/1;o=1", &TRACE_ID[..30]),
            format!("{TRACE_ID}/abc;o=1"),
            format!("{TRACE_ID}/-1;o=1"),
            format!("{TRACE_ID}/18446744073709551616"),
            format!("{}/1;o=1", "0".repeat(32)),
        ] {
            assert_eq!(parse_cloud_trace_context(&bad), None, "{bad:?}");
        }
        // A zero span id means "no span", not a bad header.
        let no_span = parse_cloud_trace_context(&format!("{TRACE_ID}/0;o=1")).unwrap();
        assert_eq!(no_span.span_id, None);
    }

    #[test]
    fn traceparent_wins_and_falls_back_when_malformed() {
        let other = "a".repeat(32);
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{TRACE_ID}-{SPAN_ID}-01").parse().unwrap(),
        );
        headers.insert(
            "x-cloud-trace-context",
            format!("{other}/1;o=1").parse().unwrap(),
        );
        assert_eq!(trace_context(&headers).unwrap().trace_id, TRACE_ID);

        headers.insert("traceparent", "00-bogus".parse().unwrap());
        assert_eq!(trace_context(&headers).unwrap().trace_id, other);

        assert_eq!(trace_context(&HeaderMap::new()), None);
    }

    #[test]
    fn cloud_duration_is_protobuf_json() {
        assert_eq!(cloud_duration(Duration::from_millis(12)), "0.012000000s");
        assert_eq!(cloud_duration(Duration::new(3, 5)), "3.000000005s");
        assert!((latency_ms(Duration::from_micros(12_345)) - 12.345).abs() < 1e-9);
    }
}
