//! Log set-up: text or JSON lines on stderr, with span fields written as JSON straight into their buffer.
//!
//! Every Slack request opens a span (its request id), so span fields are formatted thousands of
//! times a second under load. tracing-subscriber's JSON field formatter builds a map of
//! `serde_json::Value`s per span; [`JsonSpanFields`] writes the same JSON object directly,
//! with no allocation beyond the span's own buffer.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the current span's fields (request id) under `span`.
    Json,
}

/// Installs the global subscriber: `RUST_LOG` if set, else `default`; on stderr.
pub fn init(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(JsonSpanFields)
            .init(),
    }
}

/// Formats span fields as one JSON object (`{"request_id":"…"}`), as the JSON event format expects.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = JsonObject {
            out: &mut writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        let (result, empty) = (visitor.result, visitor.empty);
        result?;
        writer.write_str(if empty { "{}" } else { "}" })
    }

    /// Fields recorded after the span was opened (rare): merged into the object.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut added = String::new();
        self.format_fields(Writer::new(&mut added), fields)?;
        if current.fields.is_empty() {
            current.fields = added;
            return Ok(());
        }
        let mut merged: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&current.fields).map_err(|_| fmt::Error)?;
        let added: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&added).map_err(|_| fmt::Error)?;
        merged.extend(added);
        current.fields = serde_json::Value::Object(merged).to_string();
        Ok(())
    }
}

/// Writes `"name":value` pairs of one JSON object; the caller closes it.
struct JsonObject<'a, 'w> {
    out: &'a mut Writer<'w>,
    empty: bool,
    result: fmt::Result,
}

impl JsonObject<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.out.write_str(if self.empty { "{\"" } else { ",\"" })?;
        self.empty = false;
        Escaped(&mut *self.out).write_str(field.name())?;
        self.out.write_str("\":")
    }

    fn raw(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| self.out.write_fmt(value));
        }
    }

    fn string(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| {
                self.out.write_char('"')?;
                Escaped(&mut *self.out).write_fmt(value)?;
                self.out.write_char('"')
            });
        }
    }
}

impl Visit for JsonObject<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| {
                self.out.write_char('"')?;
                Escaped(&mut *self.out).write_str(value)?;
                self.out.write_char('"')
            });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, format_args!("{value:?}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, format_args!("{value}"));
        } else {
            // JSON has no NaN or infinities.
            self.string(field, format_args!("{value}"));
        }
    }
}

/// Escapes what is written through it as the inside of a JSON string.
struct Escaped<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if (c as u32) < 0x20 => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{:04x}", c as u32)?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + c.len_utf8();
        }
        self.0.write_str(&s[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(lines.clone())
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(JsonSpanFields)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn span_fields_are_a_json_object_under_span() {
        let tricky = "a \"quoted\" \\ path\nwith\ttabs and \u{1} control";
        let lines = logged(|| {
            let span = tracing::info_span!("http", path = %tricky, request_id = "0123456789abcdef", n = 3u64, ok = true, x = -1.5f64);
            let _in = span.enter();
            tracing::info!(user = "U1", "slash command");
        });
        assert_eq!(lines.len(), 1);
        let span = &lines[0]["span"];
        assert_eq!(span["name"], "http");
        assert_eq!(span["path"], tricky);
        assert_eq!(span["request_id"], "0123456789abcdef");
        assert_eq!(span["n"], 3);
        assert_eq!(span["ok"], true);
        assert_eq!(span["x"], -1.5);
        assert_eq!(lines[0]["fields"]["message"], "slash command");
    }

    #[test]
    fn empty_spans_and_fields_recorded_later() {
        let lines = logged(|| {
            let span = tracing::info_span!("work", request_id = tracing::field::Empty);
            let _in = span.enter();
            tracing::info!("before");
            span.record("request_id", "r1");
            tracing::info!("after");
            let inner = tracing::info_span!("inner", a = 1u64);
            let _inner = inner.enter();
            tracing::info!("nested");
        });
        assert_eq!(lines[0]["span"]["name"], "work");
        assert_eq!(lines[1]["span"]["request_id"], "r1");
        assert_eq!(lines[2]["span"]["a"], 1);
    }
}
