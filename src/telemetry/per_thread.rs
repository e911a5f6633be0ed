//! The per-request metrics, counted on the thread that handled the request
//! and collected when the metrics are rendered and on each upkeep.
//!
//! A request writes only to its own thread's counts, behind a lock that
//! another thread takes only while it collects them. Recording into the
//! recorder's handles directly would write to memory that every worker thread
//! shares, several times per request, and moving that memory between cores
//! costs more than the rest of the bookkeeping.
//!
//! Counters are added to the Prometheus recorder. The request-duration
//! histogram is rendered here, from bucket counts: the recorder's histogram
//! keeps every sample until its upkeep folds them into buckets, which at
//! about 120,000 requests per second took about 40 ms of CPU per upkeep.

use std::cell::OnceCell;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use metrics::counter;

use super::{LATENCY_BUCKETS, REQUEST_DURATION};

/// The counts one thread gathered since they were last collected.
#[derive(Default)]
struct Pending {
    /// `(name, label, value, count)` for each counter the thread increased.
    counters: Vec<(&'static str, &'static str, &'static str, u64)>,
    /// Request durations by latency bucket: the count and the sum in seconds.
    /// The last entry is for durations above the largest bound.
    durations: [(u64, f64); LATENCY_BUCKETS.len() + 1],
}

type Shard = Arc<Mutex<Pending>>;

/// Every thread's counts. A thread registers on its first count and stays
/// listed after it ends, so that nothing it counted is lost.
static SHARDS: Mutex<Vec<Shard>> = Mutex::new(Vec::new());

/// Request durations collected from every thread since the process started.
static DURATIONS: Mutex<Durations> = Mutex::new(Durations::new());

/// Request durations by latency bucket, not cumulative. The last entry is
/// for durations above the largest bound.
struct Durations {
    counts: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
}

thread_local! {
    static SHARD: OnceCell<Shard> = const { OnceCell::new() };
}

/// Runs `update` on this thread's counts.
fn with_pending(update: impl FnOnce(&mut Pending)) {
    SHARD.with(|cell| {
        let shard = cell.get_or_init(|| {
            let shard = Shard::default();
            lock(&SHARDS).push(Arc::clone(&shard));
            shard
        });
        update(&mut lock(shard));
    });
}

/// Locks `mutex`, also after a panic elsewhere: counts stay usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pending {
    fn increment(&mut self, name: &'static str, label: &'static str, value: &'static str) {
        // Names and values are string constants, so their addresses tell
        // them apart without comparing the text.
        let found = self.counters.iter_mut().find(|(name_at, _, value_at, _)| {
            std::ptr::eq(*name_at, name) && std::ptr::eq(*value_at, value)
        });
        match found {
            Some((_, _, _, count)) => *count += 1,
            None => self.counters.push((name, label, value, 1)),
        }
    }

    fn record_duration(&mut self, seconds: f64) {
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        let (count, sum) = &mut self.durations[bucket];
        *count += 1;
        *sum += seconds;
    }
}

/// Adds one to each counter `name{label="value"}` of `counters` and records
/// one request's duration in seconds, under one lock. The label values come
/// from fixed sets, so a thread's list stays short.
pub(super) fn request_answered(
    counters: &[Option<(&'static str, &'static str, &'static str)>],
    seconds: f64,
) {
    with_pending(|pending| {
        for (name, label, value) in counters.iter().flatten() {
            pending.increment(name, label, value);
        }
        pending.record_duration(seconds);
    });
}

/// Adds every thread's counts to the recorder and to the request durations,
/// and resets them.
pub(super) fn collect() {
    let shards: Vec<Shard> = lock(&SHARDS).clone();
    for shard in &shards {
        let durations = publish(shard);
        lock(&DURATIONS).add(&durations);
    }
}

/// Appends the request-duration histogram to `text`, in Prometheus text
/// format, as the recorder renders its own histograms.
pub(super) fn render_durations(text: &mut String) {
    lock(&DURATIONS).render(text);
}

impl Durations {
    const fn new() -> Self {
        Durations {
            counts: [0; LATENCY_BUCKETS.len() + 1],
            sum: 0.0,
        }
    }

    fn add(&mut self, durations: &[(u64, f64)]) {
        for (total, (count, sum)) in self.counts.iter_mut().zip(durations) {
            *total += count;
            self.sum += sum;
        }
    }

    fn render(&self, text: &mut String) {
        let _ = writeln!(
            text,
            "# HELP {REQUEST_DURATION} Time from request arrival to answer"
        );
        let _ = writeln!(text, "# TYPE {REQUEST_DURATION} histogram");
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                text,
                "{REQUEST_DURATION}_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let total: u64 = self.counts.iter().sum();
        let _ = writeln!(text, "{REQUEST_DURATION}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(text, "{REQUEST_DURATION}_sum {}", self.sum);
        let _ = writeln!(text, "{REQUEST_DURATION}_count {total}");
        text.push('\n');
    }
}

/// Adds one thread's counters to the recorder, resets its counts and returns
/// the durations it had. The lock is held only while they are copied, so the
/// thread's requests do not wait for the recorder.
fn publish(shard: &Mutex<Pending>) -> [(u64, f64); LATENCY_BUCKETS.len() + 1] {
    let (counters, durations) = {
        let mut pending = lock(shard);
        let counters: Vec<_> = pending
            .counters
            .iter_mut()
            .filter(|(_, _, _, count)| *count > 0)
            .map(|(name, label, value, count)| (*name, *label, *value, std::mem::take(count)))
            .collect();
        (counters, std::mem::take(&mut pending.durations))
    };
    for (name, label, value, count) in counters {
        counter!(name, label => value).increment(count);
    }
    durations
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    const TEST_COUNTER: &str = "per_thread_test_total";

    /// Publishes `pending` into a recorder of its own and returns the text
    /// that recorder renders, followed by the durations it had.
    fn render_published(pending: Pending) -> String {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let shard = Mutex::new(pending);
        let durations = metrics::with_local_recorder(&recorder, || publish(&shard));
        let after = lock(&shard);
        assert!(after.counters.iter().all(|entry| entry.3 == 0));
        assert!(after.durations.iter().all(|(count, _)| *count == 0));
        let mut totals = Durations::new();
        totals.add(&durations);
        let mut text = handle.render();
        totals.render(&mut text);
        text
    }

    /// Returns the value of the line that starts with `series ` in `text`.
    fn value(text: &str, series: &str) -> f64 {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{series} ")))
            .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn publish_adds_counter_counts() {
        let mut pending = Pending::default();
        pending.increment(TEST_COUNTER, "result", "hit");
        pending.increment(TEST_COUNTER, "result", "hit");
        pending.increment(TEST_COUNTER, "result", "miss");

        let text = render_published(pending);
        assert_eq!(
            value(&text, &format!("{TEST_COUNTER}{{result=\"hit\"}}")),
            2.0
        );
        assert_eq!(
            value(&text, &format!("{TEST_COUNTER}{{result=\"miss\"}}")),
            1.0
        );
    }

    #[test]
    fn publish_keeps_buckets_sum_and_count() {
        let mut pending = Pending::default();
        for seconds in [0.0012, 0.002, 0.02, 9.0] {
            pending.record_duration(seconds);
        }

        let text = render_published(pending);
        let bucket = |bound: &str| {
            value(
                &text,
                &format!("{REQUEST_DURATION}_bucket{{le=\"{bound}\"}}"),
            )
        };
        assert_eq!(bucket("0.001"), 0.0);
        assert_eq!(bucket("0.0025"), 2.0);
        assert_eq!(bucket("0.01"), 2.0);
        assert_eq!(bucket("0.025"), 3.0);
        assert_eq!(bucket("5"), 3.0);
        assert_eq!(bucket("+Inf"), 4.0);
        assert_eq!(value(&text, &format!("{REQUEST_DURATION}_count")), 4.0);
        let sum = value(&text, &format!("{REQUEST_DURATION}_sum"));
        assert!((sum - 9.0232).abs() < 1e-9, "sum {sum}");
    }

    #[test]
    fn thread_counts_stay_listed_after_thread_ends() {
        const ENDED_THREAD_COUNTER: &str = "per_thread_ended_thread_total";
        std::thread::spawn(|| {
            request_answered(&[Some((ENDED_THREAD_COUNTER, "result", "hit"))], 0.001)
        })
        .join()
        .expect("the counting thread panicked");

        let listed: u64 = lock(&SHARDS)
            .iter()
            .flat_map(|shard| lock(shard).counters.clone())
            .filter(|(name, _, _, _)| std::ptr::eq(*name, ENDED_THREAD_COUNTER))
            .map(|(_, _, _, count)| count)
            .sum();
        assert_eq!(listed, 1);
    }
}
