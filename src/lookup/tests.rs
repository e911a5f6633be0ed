use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::{Adapter, Contact, LookupError, Query};

use super::*;
use crate::config::{load_text, Settings};

/// A source that counts its calls and answers after a delay.
struct FakeSource {
    calls: AtomicUsize,
    delay: Duration,
    answer: Result<Vec<Contact>, LookupError>,
}

impl FakeSource {
    fn new(answer: Result<Vec<Contact>, LookupError>, delay: Duration) -> Arc<Self> {
        Arc::new(FakeSource {
            calls: AtomicUsize::new(0),
            delay,
            answer,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Adapter for FakeSource {
    fn name(&self) -> &str {
        "fake"
    }

    async fn find(&self, _query: &Query) -> Result<Vec<Contact>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.answer.clone()
    }
}

fn ada(phone: &str) -> Contact {
    Contact {
        id: "501".into(),
        name: Some("Ada Lovelace".into()),
        email: Some("ada@example.com".into()),
        link: "https://crm.example.com/contacts/501".into(),
        phones: vec![phone.into()],
        updated_at: None,
    }
}

fn settings(extra: &str) -> Settings {
    let text = format!(
        "{extra}\n[justcall]\nsecrets = [\"k\"]\n[[sources]]\nname = \"fake\"\ntype = \"fake\"\n"
    );
    load_text(Path::new("test.toml"), &text, &|_| None).expect("test config is valid")
}

fn policy() -> SourcePolicy {
    SourcePolicy {
        timeout: Duration::from_millis(1000),
        max_retries: 0,
        rate_limit_per_sec: None,
        circuit_failures: 5,
        circuit_open_for: Duration::from_secs(30),
    }
}

fn pipeline(settings: &Settings, adapters: Vec<Arc<FakeSource>>) -> Lookup {
    pipeline_with(settings, adapters, policy())
}

fn pipeline_with(
    settings: &Settings,
    adapters: Vec<Arc<FakeSource>>,
    policy: SourcePolicy,
) -> Lookup {
    let sources = adapters
        .into_iter()
        .enumerate()
        .map(|(index, adapter)| {
            let adapter: Arc<dyn Adapter> = adapter;
            Source::new(
                format!("fake{index}"),
                "fake".into(),
                policy.clone(),
                adapter,
            )
        })
        .collect();
    Lookup::new(settings, sources, None)
}

fn number(raw: &str) -> PhoneNumber {
    parse_caller(raw, "US".parse().unwrap()).unwrap()
}

#[tokio::test]
async fn found_contact_becomes_a_badge() {
    let source = FakeSource::new(Ok(vec![ada("+1 (415) 555-0123")]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![source]);
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    let Outcome::Found(badge) = result.outcome else {
        panic!("expected a badge, got {:?}", result.outcome)
    };
    assert_eq!(badge.contact_name(), "Ada Lovelace");
    assert_eq!(
        badge.contact_profile_link(),
        "https://crm.example.com/contacts/501"
    );
    assert_eq!(badge.contact_email(), Some("ada@example.com"));
    assert_eq!(result.cache, CacheStatus::Miss);
}

#[tokio::test]
async fn cache_hit_makes_no_upstream_call() {
    let source = FakeSource::new(Ok(vec![ada("+14155550123")]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![source.clone()]);
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    let second = lookup
        .find(&number("+1 415 555 0123"), "r2", Instant::now())
        .await;
    let third = lookup
        .find(&number("4155550123"), "r3", Instant::now())
        .await;
    assert_eq!(second.cache, CacheStatus::Hit);
    assert_eq!(third.cache, CacheStatus::Hit);
    assert!(matches!(third.outcome, Outcome::Found(_)));
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn concurrent_misses_make_one_upstream_call() {
    let source = FakeSource::new(Ok(vec![ada("+14155550123")]), Duration::from_millis(100));
    let lookup = Arc::new(pipeline(&settings(""), vec![source.clone()]));
    let tasks: Vec<_> = (0..20)
        .map(|index| {
            let lookup = Arc::clone(&lookup);
            tokio::spawn(async move {
                lookup
                    .find(&number("14155550123"), &format!("r{index}"), Instant::now())
                    .await
            })
        })
        .collect();
    for task in tasks {
        let result = task.await.unwrap();
        assert!(
            matches!(result.outcome, Outcome::Found(_)),
            "{:?}",
            result.outcome
        );
    }
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn candidate_with_another_number_is_discarded() {
    let source = FakeSource::new(Ok(vec![ada("+1 (415) 555-0199")]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![source]);
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert_eq!(result.outcome, Outcome::NotFound);
    assert_eq!(result.attempts[0].candidates.len(), 1);
    assert!(!result.attempts[0].candidates[0].kept);
}

#[tokio::test]
async fn not_found_is_cached() {
    let source = FakeSource::new(Ok(vec![]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![source.clone()]);
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    let second = lookup
        .find(&number("14155550123"), "r2", Instant::now())
        .await;
    assert_eq!(second.outcome, Outcome::NotFound);
    assert_eq!(second.cache, CacheStatus::Hit);
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn failure_is_not_cached() {
    let source = FakeSource::new(
        Err(LookupError::Server {
            status: 500,
            retry_after: None,
        }),
        Duration::ZERO,
    );
    let lookup = pipeline(&settings(""), vec![source.clone()]);
    let first = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert_eq!(
        first.outcome,
        Outcome::Unavailable(Unavailable::SourcesFailed)
    );
    lookup
        .find(&number("14155550123"), "r2", Instant::now())
        .await;
    assert_eq!(source.calls(), 2);
}

#[tokio::test]
async fn next_source_answers_after_a_failure() {
    let failing = FakeSource::new(Err(LookupError::Auth { status: 401 }), Duration::ZERO);
    let working = FakeSource::new(Ok(vec![ada("+14155550123")]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![failing, working]);
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert!(matches!(result.outcome, Outcome::Found(_)));
    assert_eq!(result.attempts.len(), 2);
    assert_eq!(result.attempts[0].result, "failed");
}

#[tokio::test]
async fn first_match_stops_at_the_first_match() {
    let first = FakeSource::new(Ok(vec![ada("+14155550123")]), Duration::ZERO);
    let second = FakeSource::new(Ok(vec![]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![first, second.clone()]);
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert_eq!(second.calls(), 0);
}

#[tokio::test]
async fn parallel_mode_asks_every_source_and_keeps_listed_order() {
    let mut second_contact = ada("+14155550123");
    second_contact.name = Some("Second Source".into());
    let first = FakeSource::new(Ok(vec![ada("+14155550123")]), Duration::from_millis(50));
    let second = FakeSource::new(Ok(vec![second_contact]), Duration::ZERO);
    let lookup = pipeline(
        &settings("[lookup]\nmode = \"parallel\""),
        vec![first.clone(), second.clone()],
    );
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    let Outcome::Found(badge) = result.outcome else {
        panic!("expected a badge")
    };
    assert_eq!(badge.contact_name(), "Ada Lovelace");
    assert_eq!((first.calls(), second.calls()), (1, 1));
}

#[tokio::test]
async fn slow_source_ends_at_the_deadline() {
    let slow = FakeSource::new(Ok(vec![ada("+14155550123")]), Duration::from_secs(30));
    let lookup = pipeline(&settings("[lookup]\ndeadline_ms = 200"), vec![slow]);
    let started = Instant::now();
    let result = lookup.find(&number("14155550123"), "r1", started).await;
    assert!(
        matches!(result.outcome, Outcome::Unavailable(_)),
        "{:?}",
        result.outcome
    );
    // Generous bound: the deadline is 200 ms, the source would take 30 s.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn nameless_contact_falls_back_to_email_then_number() {
    let mut nameless = ada("+14155550123");
    nameless.name = Some("  ".into());
    let source = FakeSource::new(Ok(vec![nameless.clone()]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![source]);
    let Outcome::Found(badge) = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await
        .outcome
    else {
        panic!("expected a badge")
    };
    assert_eq!(badge.contact_name(), "ada@example.com");

    nameless.email = None;
    let source = FakeSource::new(Ok(vec![nameless]), Duration::ZERO);
    let lookup = pipeline(&settings(""), vec![source]);
    let Outcome::Found(badge) = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await
        .outcome
    else {
        panic!("expected a badge")
    };
    assert_eq!(badge.contact_name(), "+1 415-555-0123");
}

#[tokio::test]
async fn ambiguous_match_with_policy_none_gives_no_badge() {
    let mut other = ada("+14155550123");
    other.id = "502".into();
    let source = FakeSource::new(Ok(vec![ada("+14155550123"), other]), Duration::ZERO);
    let lookup = pipeline(
        &settings("[lookup]\non_multiple_matches = \"none\""),
        vec![source],
    );
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert_eq!(result.outcome, Outcome::NotFound);
}

/// One scripted answer: the delay before it and what the source returns.
type Step = (Duration, Result<Vec<Contact>, LookupError>);

/// A source that answers from a script, one entry per call, repeating the
/// last entry, and records when each call started.
struct ScriptedSource {
    script: Mutex<Vec<Step>>,
    call_times: Mutex<Vec<Instant>>,
}

impl ScriptedSource {
    fn new(script: Vec<Step>) -> Arc<Self> {
        Arc::new(ScriptedSource {
            script: Mutex::new(script),
            call_times: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.call_times.lock().unwrap().len()
    }
}

#[async_trait]
impl Adapter for ScriptedSource {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn find(&self, _query: &Query) -> Result<Vec<Contact>, LookupError> {
        self.call_times.lock().unwrap().push(Instant::now());
        let (delay, answer) = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.remove(0)
            } else {
                script[0].clone()
            }
        };
        tokio::time::sleep(delay).await;
        answer
    }
}

fn scripted_pipeline(
    settings: &Settings,
    adapters: Vec<Arc<ScriptedSource>>,
    policy: SourcePolicy,
) -> Lookup {
    let sources = adapters
        .into_iter()
        .enumerate()
        .map(|(index, adapter)| {
            let adapter: Arc<dyn Adapter> = adapter;
            Source::new(
                format!("scripted{index}"),
                "fake".into(),
                policy.clone(),
                adapter,
            )
        })
        .collect();
    Lookup::new(settings, sources, None)
}

fn server_error() -> Result<Vec<Contact>, LookupError> {
    Err(LookupError::Server {
        status: 503,
        retry_after: None,
    })
}

fn found() -> Result<Vec<Contact>, LookupError> {
    Ok(vec![ada("+14155550123")])
}

fn retrying(max_retries: u32) -> SourcePolicy {
    SourcePolicy {
        max_retries,
        ..policy()
    }
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_until_success() {
    let source = ScriptedSource::new(vec![
        (Duration::ZERO, server_error()),
        (Duration::ZERO, server_error()),
        (Duration::ZERO, found()),
    ]);
    let lookup = scripted_pipeline(&settings(""), vec![source.clone()], retrying(2));
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert!(
        matches!(result.outcome, Outcome::Found(_)),
        "{:?}",
        result.outcome
    );
    assert_eq!(source.calls(), 3);
    assert_eq!(result.attempts[0].calls, 3);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_retries() {
    let source = ScriptedSource::new(vec![(Duration::ZERO, server_error())]);
    let lookup = scripted_pipeline(&settings(""), vec![source.clone()], retrying(2));
    let result = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert_eq!(
        result.outcome,
        Outcome::Unavailable(Unavailable::SourcesFailed)
    );
    assert_eq!(source.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn auth_failures_are_not_retried() {
    let source = ScriptedSource::new(vec![(
        Duration::ZERO,
        Err(LookupError::Auth { status: 401 }),
    )]);
    let lookup = scripted_pipeline(&settings(""), vec![source.clone()], retrying(2));
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    assert_eq!(source.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_when_it_fits() {
    let limited = Err(LookupError::RateLimited {
        retry_after: Some(Duration::from_secs(1)),
    });
    let source = ScriptedSource::new(vec![
        (Duration::ZERO, limited.clone()),
        (Duration::ZERO, limited),
        (Duration::ZERO, found()),
    ]);
    let lookup = scripted_pipeline(
        &settings("[lookup]\ndeadline_ms = 3000"),
        vec![source.clone()],
        retrying(2),
    );
    let started = Instant::now();
    let result = lookup.find(&number("14155550123"), "r1", started).await;
    assert!(
        matches!(result.outcome, Outcome::Found(_)),
        "{:?}",
        result.outcome
    );
    let calls = source.call_times.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert!(calls[1] - calls[0] >= Duration::from_secs(1));
    assert!(calls[2] - calls[1] >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_the_deadline_gives_up_at_once() {
    let limited = Err(LookupError::RateLimited {
        retry_after: Some(Duration::from_secs(5)),
    });
    let source = ScriptedSource::new(vec![(Duration::ZERO, limited)]);
    let lookup = scripted_pipeline(
        &settings("[lookup]\ndeadline_ms = 1500"),
        vec![source.clone()],
        retrying(2),
    );
    let started = Instant::now();
    let result = lookup.find(&number("14155550123"), "r1", started).await;
    assert_eq!(
        result.outcome,
        Outcome::Unavailable(Unavailable::SourcesFailed)
    );
    assert_eq!(source.calls(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn hung_source_answers_by_the_deadline() {
    let source = ScriptedSource::new(vec![(Duration::from_secs(3600), found())]);
    let lookup = scripted_pipeline(
        &settings("[lookup]\ndeadline_ms = 1500"),
        vec![source],
        SourcePolicy {
            timeout: Duration::from_secs(10),
            ..retrying(2)
        },
    );
    let started = Instant::now();
    let result = lookup.find(&number("14155550123"), "r1", started).await;
    assert!(
        matches!(result.outcome, Outcome::Unavailable(_)),
        "{:?}",
        result.outcome
    );
    assert!(
        started.elapsed() <= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn circuit_opens_then_probes() {
    let source = ScriptedSource::new(vec![(Duration::ZERO, server_error())]);
    let policy = SourcePolicy {
        circuit_failures: 3,
        circuit_open_for: Duration::from_secs(30),
        ..policy()
    };
    let lookup = scripted_pipeline(
        &settings("[cache]\nnot_found_ttl_secs = 1"),
        vec![source.clone()],
        policy,
    );
    for index in 0..3 {
        lookup
            .find(&number(&format!("1415555010{index}")), "r", Instant::now())
            .await;
    }
    assert_eq!(source.calls(), 3);
    assert!(lookup.sources()[0].circuit_open());

    let skipped = lookup
        .find(&number("14155550109"), "r", Instant::now())
        .await;
    assert_eq!(source.calls(), 3, "an open circuit makes no call");
    assert!(skipped.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("circuit is open"));

    tokio::time::advance(Duration::from_secs(30)).await;
    *source.script.lock().unwrap() = vec![(Duration::ZERO, found())];
    let probed = lookup
        .find(&number("14155550123"), "r", Instant::now())
        .await;
    assert!(
        matches!(probed.outcome, Outcome::Found(_)),
        "{:?}",
        probed.outcome
    );
    assert_eq!(source.calls(), 4);
    assert!(!lookup.sources()[0].circuit_open());
}

#[tokio::test(start_paused = true)]
async fn rate_limit_holds_under_concurrent_lookups() {
    let source = ScriptedSource::new(vec![(Duration::from_millis(20), Ok(vec![]))]);
    let policy = SourcePolicy {
        rate_limit_per_sec: Some(4),
        ..policy()
    };
    let lookup = scripted_pipeline(
        &settings("[lookup]\ndeadline_ms = 60000"),
        vec![source.clone()],
        policy,
    );
    let tasks: Vec<_> = (0..30)
        .map(|index| {
            let lookup = lookup.clone();
            tokio::spawn(async move {
                lookup
                    .find(
                        &number(&format!("141555501{index:02}")),
                        "r",
                        Instant::now(),
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().outcome, Outcome::NotFound);
    }
    let mut calls = source.call_times.lock().unwrap().clone();
    calls.sort();
    assert_eq!(calls.len(), 30);
    for (index, start) in calls.iter().enumerate() {
        let in_window = calls[index..]
            .iter()
            .filter(|call| **call < *start + Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 4,
            "{in_window} calls in the second after call {index}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_wait_past_deadline_makes_no_call() {
    let source = ScriptedSource::new(vec![(Duration::ZERO, Ok(vec![]))]);
    let policy = SourcePolicy {
        rate_limit_per_sec: Some(1),
        ..policy()
    };
    let lookup = scripted_pipeline(
        &settings("[lookup]\ndeadline_ms = 500"),
        vec![source.clone()],
        policy,
    );
    lookup
        .find(&number("14155550101"), "r", Instant::now())
        .await;
    let second = lookup
        .find(&number("14155550102"), "r", Instant::now())
        .await;
    assert_eq!(source.calls(), 1);
    assert!(
        matches!(second.outcome, Outcome::Unavailable(_)),
        "{:?}",
        second.outcome
    );
}

#[tokio::test(start_paused = true)]
async fn stale_answer_is_served_when_sources_fail() {
    let source = ScriptedSource::new(vec![
        (Duration::ZERO, found()),
        (Duration::ZERO, server_error()),
    ]);
    let lookup = scripted_pipeline(
        &settings("[cache]\nttl_secs = 60\nstale_if_error_secs = 3600"),
        vec![source.clone()],
        policy(),
    );
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    tokio::time::advance(Duration::from_secs(61)).await;
    let stale = lookup
        .find(&number("14155550123"), "r2", Instant::now())
        .await;
    assert!(
        matches!(stale.outcome, Outcome::Found(_)),
        "{:?}",
        stale.outcome
    );
    assert_eq!(stale.cache, CacheStatus::Stale);
    assert_eq!(source.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn expired_answer_is_replaced_when_sources_answer() {
    let source = ScriptedSource::new(vec![
        (Duration::ZERO, found()),
        (Duration::ZERO, Ok(vec![])),
    ]);
    let lookup = scripted_pipeline(
        &settings("[cache]\nttl_secs = 60"),
        vec![source.clone()],
        policy(),
    );
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    tokio::time::advance(Duration::from_secs(61)).await;
    let fresh = lookup
        .find(&number("14155550123"), "r2", Instant::now())
        .await;
    assert_eq!(fresh.outcome, Outcome::NotFound);
    assert_eq!(fresh.cache, CacheStatus::Miss);
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_serves_cached_and_refreshes_once() {
    let mut renamed = ada("+14155550123");
    renamed.name = Some("Ada King".into());
    let source = ScriptedSource::new(vec![
        (Duration::ZERO, found()),
        (Duration::from_millis(100), Ok(vec![renamed])),
    ]);
    let lookup = scripted_pipeline(
        &settings("[cache]\nttl_secs = 900\nrefresh_after_secs = 60"),
        vec![source.clone()],
        policy(),
    );
    lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await;
    tokio::time::advance(Duration::from_secs(61)).await;
    for index in 0..5 {
        let result = lookup
            .find(&number("14155550123"), &format!("r{index}"), Instant::now())
            .await;
        let Outcome::Found(badge) = result.outcome else {
            panic!("expected a badge")
        };
        assert_eq!(badge.contact_name(), "Ada Lovelace");
        assert_eq!(result.cache, CacheStatus::Hit);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(source.calls(), 2, "five due hits start one refresh");
    let Outcome::Found(badge) = lookup
        .find(&number("14155550123"), "r9", Instant::now())
        .await
        .outcome
    else {
        panic!("expected a badge")
    };
    assert_eq!(badge.contact_name(), "Ada King");
}

#[tokio::test(start_paused = true)]
async fn parallel_slow_sources_cost_one_delay() {
    let first = ScriptedSource::new(vec![(Duration::from_millis(400), Ok(vec![]))]);
    let second = ScriptedSource::new(vec![(Duration::from_millis(400), found())]);
    let lookup = scripted_pipeline(
        &settings("[lookup]\nmode = \"parallel\""),
        vec![first, second],
        policy(),
    );
    let started = Instant::now();
    let result = lookup.find(&number("14155550123"), "r1", started).await;
    assert!(
        matches!(result.outcome, Outcome::Found(_)),
        "{:?}",
        result.outcome
    );
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn parallel_waits_for_higher_priority_source() {
    let mut preferred = ada("+14155550123");
    preferred.name = Some("Preferred".into());
    let first = ScriptedSource::new(vec![(Duration::from_millis(300), Ok(vec![preferred]))]);
    let second = ScriptedSource::new(vec![(Duration::ZERO, found())]);
    let lookup = scripted_pipeline(
        &settings("[lookup]\nmode = \"parallel\""),
        vec![first, second],
        policy(),
    );
    let Outcome::Found(badge) = lookup
        .find(&number("14155550123"), "r1", Instant::now())
        .await
        .outcome
    else {
        panic!("expected a badge")
    };
    assert_eq!(badge.contact_name(), "Preferred");
}

#[tokio::test(start_paused = true)]
async fn parallel_does_not_wait_for_lower_priority_source() {
    let first = ScriptedSource::new(vec![(Duration::ZERO, found())]);
    let second = ScriptedSource::new(vec![(Duration::from_secs(60), Ok(vec![]))]);
    let lookup = scripted_pipeline(
        &settings("[lookup]\nmode = \"parallel\"\ndeadline_ms = 5000"),
        vec![first, second],
        policy(),
    );
    let started = Instant::now();
    let result = lookup.find(&number("14155550123"), "r1", started).await;
    assert!(matches!(result.outcome, Outcome::Found(_)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.attempts[1].result, "cancelled");
}
