use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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

fn pipeline(settings: &Settings, adapters: Vec<Arc<FakeSource>>) -> Lookup {
    let sources = adapters
        .into_iter()
        .enumerate()
        .map(|(index, adapter)| Source {
            name: format!("fake{index}"),
            kind: "fake".into(),
            timeout: Duration::from_millis(1000),
            adapter,
        })
        .collect();
    Lookup::new(settings, sources)
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
    assert_eq!(badge.contact_name, "Ada Lovelace");
    assert_eq!(
        badge.contact_profile_link,
        "https://crm.example.com/contacts/501"
    );
    assert_eq!(badge.contact_email.as_deref(), Some("ada@example.com"));
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
    assert_eq!(badge.contact_name, "Ada Lovelace");
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
    assert_eq!(badge.contact_name, "ada@example.com");

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
    assert_eq!(badge.contact_name, "+1 415-555-0123");
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
