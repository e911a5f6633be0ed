//! Prometheus metrics. Every log event that counts an outcome also bumps the
//! matching metric here, so logs and dashboards agree. Labels take only
//! values from fixed sets or the config (outcomes, schemes, source names),
//! never a phone number or a request id.

mod per_thread;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "badgegate_requests_total";
pub const REQUEST_DURATION: &str = "badgegate_request_duration_seconds";
pub const SIGNATURE_SCHEMES: &str = "badgegate_signature_scheme_total";
pub const CACHE_LOOKUPS: &str = "badgegate_cache_lookups_total";
pub const CACHE_ENTRIES: &str = "badgegate_cache_entries";
pub const UPSTREAM_CALLS: &str = "badgegate_upstream_calls_total";
pub const UPSTREAM_DURATION: &str = "badgegate_upstream_call_duration_seconds";
pub const SOURCE_DURATION: &str = "badgegate_source_duration_seconds";
pub const RETRIES: &str = "badgegate_upstream_retries_total";
pub const RATE_LIMIT_WAITS: &str = "badgegate_rate_limit_waits_total";
pub const RATE_LIMIT_REJECTIONS: &str = "badgegate_rate_limit_rejections_total";
pub const CIRCUIT_STATE: &str = "badgegate_circuit_open";
pub const CIRCUIT_TRANSITIONS: &str = "badgegate_circuit_transitions_total";
pub const SOURCE_READY: &str = "badgegate_source_ready";
pub const CONFIG_RELOADS: &str = "badgegate_config_reloads_total";
pub const REDIS_UP: &str = "badgegate_redis_up";
pub const REDIS_ERRORS: &str = "badgegate_redis_errors_total";

/// Bucket bounds, in seconds, for request and upstream latencies: JustCall
/// waits about a second and a half, so the buckets are finest below that.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns the handle
/// that renders the metrics. A second call returns the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("the latency buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only what it records"
                );
            }
            describe();
            start_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// Returns the metrics in Prometheus text format, with every thread's
/// per-request counts added.
pub fn render(handle: &PrometheusHandle) -> String {
    per_thread::collect();
    let mut text = handle.render();
    per_thread::render_durations(&mut text);
    text
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Collects the threads' per-request counts and folds the recorder's
/// histogram samples into their buckets, on a timer. Samples are otherwise
/// kept until `/metrics` is read, so an unscraped gateway would grow by every
/// upstream call's latency.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            per_thread::collect();
            handle.run_upkeep();
        });
    if let Err(error) = started {
        tracing::warn!(%error, "could not start the metrics upkeep thread; histogram samples are folded only when /metrics is read");
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(REQUESTS, "JustCall badge requests answered, by outcome");
    describe_counter!(
        SIGNATURE_SCHEMES,
        "Requests whose signature verified, by scheme, including those then rejected for their contact_number"
    );
    describe_counter!(
        CACHE_LOOKUPS,
        "Lookups by cache result: hit, shared_hit, miss or stale"
    );
    describe_gauge!(CACHE_ENTRIES, "Answers held in the in-process cache");
    describe_counter!(
        UPSTREAM_CALLS,
        "Calls to sources, by source and status class"
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        Unit::Seconds,
        "Duration of single calls to a source"
    );
    describe_histogram!(
        SOURCE_DURATION,
        Unit::Seconds,
        "Time a lookup spent on a source, retries and waits included"
    );
    describe_counter!(RETRIES, "Retried calls to sources");
    describe_counter!(RATE_LIMIT_WAITS, "Calls that waited for a rate-limit slot");
    describe_counter!(
        RATE_LIMIT_REJECTIONS,
        "Calls not made because no rate-limit slot was free before the deadline"
    );
    describe_gauge!(
        CIRCUIT_STATE,
        "1 while a source's circuit is open or probing, else 0"
    );
    describe_counter!(
        CIRCUIT_TRANSITIONS,
        "Circuit state changes, by source and new state"
    );
    describe_gauge!(
        SOURCE_READY,
        "1 once a source finished its start-up, else 0"
    );
    describe_counter!(CONFIG_RELOADS, "Config reloads, by result");
    describe_gauge!(REDIS_UP, "1 while the last Redis call succeeded, else 0");
    describe_counter!(
        REDIS_ERRORS,
        "Failed or timed-out Redis calls, by operation"
    );
}

/// What one answered request counts, beyond its outcome: the signature
/// scheme once the signature was accepted, and the cache status once the
/// number was looked up.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestCounts {
    pub scheme: Option<&'static str>,
    pub cache: Option<&'static str>,
}

/// Counts one answered request: its outcome, its duration and what `counts`
/// holds, in this thread's counts under one lock once a recorder is
/// installed.
pub fn request_answered(outcome: &'static str, counts: RequestCounts, duration: Duration) {
    let counters = [
        Some((REQUESTS, "outcome", outcome)),
        counts
            .scheme
            .map(|scheme| (SIGNATURE_SCHEMES, "scheme", scheme)),
        // The number of cached entries is set when the metrics are rendered
        // rather than here: counting them takes a lock on every shard.
        counts.cache.map(|cache| (CACHE_LOOKUPS, "result", cache)),
    ];
    if HANDLE.get().is_none() {
        // No recorder that would collect the thread's counts.
        for (name, label, value) in counters.into_iter().flatten() {
            counter!(name, label => value).increment(1);
        }
        return;
    }
    per_thread::request_answered(&counters, duration.as_secs_f64());
}

pub fn cache_size(entries: u64) {
    gauge!(CACHE_ENTRIES).set(entries as f64);
}

pub fn upstream_call(source: &str, status_class: &'static str, duration: Duration) {
    counter!(UPSTREAM_CALLS, "source" => source.to_string(), "status" => status_class).increment(1);
    histogram!(UPSTREAM_DURATION, "source" => source.to_string()).record(duration.as_secs_f64());
}

pub fn source_finished(source: &str, duration: Duration) {
    histogram!(SOURCE_DURATION, "source" => source.to_string()).record(duration.as_secs_f64());
}

pub fn retry(source: &str) {
    counter!(RETRIES, "source" => source.to_string()).increment(1);
}

pub fn rate_limit_wait(source: &str) {
    counter!(RATE_LIMIT_WAITS, "source" => source.to_string()).increment(1);
}

pub fn rate_limit_rejection(source: &str) {
    counter!(RATE_LIMIT_REJECTIONS, "source" => source.to_string()).increment(1);
}

pub fn circuit_changed(source: &str, open: bool, to: &'static str) {
    gauge!(CIRCUIT_STATE, "source" => source.to_string()).set(if open { 1.0 } else { 0.0 });
    counter!(CIRCUIT_TRANSITIONS, "source" => source.to_string(), "to" => to).increment(1);
}

pub fn source_ready(source: &str, ready: bool) {
    gauge!(SOURCE_READY, "source" => source.to_string()).set(if ready { 1.0 } else { 0.0 });
}

pub fn config_reloaded(result: &'static str) {
    counter!(CONFIG_RELOADS, "result" => result).increment(1);
}

pub fn redis_up(up: bool) {
    gauge!(REDIS_UP).set(if up { 1.0 } else { 0.0 });
}

pub fn redis_error(operation: &'static str) {
    counter!(REDIS_ERRORS, "operation" => operation).increment(1);
}
