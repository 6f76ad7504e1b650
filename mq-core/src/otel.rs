//! Traces that follow a job from its spawn to every attempt (feature
//! `otel`).
//!
//! A job spawned inside a span that is part of an OpenTelemetry trace
//! stores a `mq.spawn` span's context (a child of the current span) as W3C
//! Trace Context text (see [`NewJob::trace_context`]); each attempt's
//! `mq.job` span takes it as its parent, so one trace shows the request,
//! the spawn and every attempt, in whatever process runs them.
//!
//! The spans are `tracing` spans; `tracing-opentelemetry`'s layer turns
//! them into OpenTelemetry spans, and its
//! [`OpenTelemetrySpanExt`] reads and sets their contexts. The text is
//! written and read by the W3C [`TraceContextPropagator`], whatever
//! propagator the application installed globally: the stored form is
//! mq's, not the application's wire format.
//!
//! [`NewJob::trace_context`]: crate::NewJob::trace_context

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::builder::MAX_TRACE_CONTEXT;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The span of a spawn inside a trace, and the context its jobs store.
pub(crate) struct Spawn {
    /// `mq.spawn`, a child of the span current at the spawn.
    pub span: tracing::Span,
    /// The context the jobs store: the `mq.spawn` span's, or the current
    /// span's if a filter disabled `mq.spawn`.
    pub context: String,
}

impl Spawn {
    /// When the current span belongs to a trace (its context is valid,
    /// sampled or not): a `mq.spawn` span made by `span` under it, and the
    /// context to store. `None` outside any trace: the job's attempts then
    /// start traces of their own.
    pub fn capture(span: impl FnOnce() -> tracing::Span) -> Option<Self> {
        let current = tracing::Span::current().context();
        if !current.span().span_context().is_valid() {
            return None;
        }
        let span = span();
        let context = encode(&span.context()).or_else(|| encode(&current))?;
        Some(Self { span, context })
    }
}

/// The W3C Trace Context text of `context` (see [`NewJob::trace_context`]):
/// `traceparent`, then `;` and `tracestate` if there is one and the whole
/// fits [`MAX_TRACE_CONTEXT`]. `None` if the context holds no valid span.
///
/// [`NewJob::trace_context`]: crate::NewJob::trace_context
pub(crate) fn encode(context: &Context) -> Option<String> {
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut carrier);
    let mut text = carrier.remove(TRACEPARENT)?;
    if let Some(state) = carrier.remove(TRACESTATE).filter(|s| !s.is_empty()) {
        // A trace state too long to store is left out: the trace still
        // continues, without the vendors' entries.
        if text.len() + 1 + state.len() <= MAX_TRACE_CONTEXT {
            text.push(';');
            text.push_str(&state);
        }
    }
    Some(text)
}

/// The remote span context stored as `text` by [`encode`] (or given to
/// [`JobBuilder::set_trace_context`](crate::JobBuilder::set_trace_context)),
/// or `None` if it is not valid W3C Trace Context.
pub(crate) fn decode(text: &str) -> Option<Context> {
    let (parent, state) = match text.split_once(';') {
        Some((parent, state)) => (parent, Some(state)),
        None => (text, None),
    };
    let mut carrier: HashMap<String, String> = HashMap::new();
    carrier.insert(TRACEPARENT.to_owned(), parent.to_owned());
    if let Some(state) = state {
        carrier.insert(TRACESTATE.to_owned(), state.to_owned());
    }
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `span` (an attempt's `mq.job` span, not yet entered) continue the
/// trace stored with its job. A stored text that is not valid W3C Trace
/// Context, or a span no OpenTelemetry layer records, is left alone: the
/// attempt is traced as without a stored context.
pub(crate) fn continue_trace(span: &tracing::Span, stored: Option<&str>) {
    let Some(parent) = stored.and_then(decode) else {
        return;
    };
    if let Err(error) = span.set_parent(parent) {
        tracing::trace!(%error, "the job's span cannot continue its trace");
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn context(flags: TraceFlags, state: TraceState) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            flags,
            true,
            state,
        ))
    }

    #[test]
    fn round_trips_sampled_and_unsampled_contexts() {
        for flags in [TraceFlags::SAMPLED, TraceFlags::default()] {
            let text = encode(&context(flags, TraceState::default())).unwrap();
            let bit = if flags.is_sampled() { "01" } else { "00" };
            assert_eq!(
                text,
                format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{bit}")
            );
            let back = decode(&text).unwrap();
            let span = back.span();
            let read = span.span_context();
            assert_eq!(read.trace_flags(), flags);
            assert!(read.is_remote());
            assert_eq!(read.span_id(), SpanId::from(0x00f0_67aa_0ba9_02b7));
        }
    }

    #[test]
    fn keeps_the_trace_state_after_a_semicolon() {
        let state: TraceState = "vendor=a;b,other=c".parse().unwrap();
        let text = encode(&context(TraceFlags::SAMPLED, state.clone())).unwrap();
        assert_eq!(
            text,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01;vendor=a;b,other=c"
        );
        let back = decode(&text).unwrap();
        assert_eq!(back.span().span_context().trace_state(), &state);
    }

    #[test]
    fn leaves_a_trace_state_too_long_to_store_out() {
        let long = format!("vendor={}", "x".repeat(250));
        let entries: Vec<String> = (0..8).map(|i| format!("v{i}{long}")).collect();
        let state: TraceState = entries.join(",").parse().unwrap();
        let text = encode(&context(TraceFlags::SAMPLED, state)).unwrap();
        assert_eq!(text.len(), 55);
        assert!(decode(&text).is_some());
    }

    #[test]
    fn an_invalid_context_is_neither_stored_nor_read() {
        assert_eq!(encode(&Context::new()), None);
        for text in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            ";vendor=a",
        ] {
            assert!(decode(text).is_none(), "{text:?} was read");
        }
    }
}
