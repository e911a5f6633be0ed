//! The shared Redis tier, with two gateway replicas in front of one
//! `redis-server` and one wiremock HubSpot: answers and "not found" shared
//! between replicas, purges sent to every replica, the fleet-wide rate limit,
//! lookups while Redis is down and after it is back, and `badgegate_redis_up`.
//!
//! Each test starts a `redis-server` of its own (see
//! [`common::redis_server`]). Without one installed, each test prints why it
//! is skipped and passes.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use common::{free_port, http_client, toml_string, Gateway, Reply};
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "shared-redis-test-secret";
const HUBSPOT_TOKEN: &str = "pat-na1-shared-redis-token";
const ADMIN_TOKEN: &str = "shared-redis-admin-token";
const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";

const ADA_NUMBER: &str = "14155550123";
const ADA_E164: &str = "+14155550123";

/// The `cache` field of the `answered` log line for each way a lookup ends.
const LOCAL_HIT: &str = "hit";
const SHARED_HIT: &str = "shared_hit";
const MISS: &str = "miss";

const REDIS_DOWN_WARNING: &str = "Redis is unavailable";
const REDIS_BACK_MESSAGE: &str = "Redis is reachable again";

/// Maximum wait for something a gateway does in the background, such as
/// writing an answer to Redis or subscribing to purges. Generous, because
/// debug builds run side by side on a busy machine.
const BACKGROUND_BOUND: Duration = Duration::from_secs(5);

/// Interval between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Time within which a purge on one replica must reach the others. The
/// README promises "well under a second".
const PURGE_BOUND: Duration = Duration::from_secs(1);

/// Maximum wait for both replicas to use Redis again after it restarts.
/// Each replica waits a second between connection attempts.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);

/// Interval between two rounds of lookups while Redis is down.
const OUTAGE_ROUND_INTERVAL: Duration = Duration::from_millis(500);

/// Maximum number of these tests running at once. Each test runs two
/// gateways, and the harness runs at most 4 at once. With more tests at once,
/// each could hold one gateway slot and wait forever for a second.
static RUNNING_TESTS: Semaphore = Semaphore::const_new(2);

async fn test_slot() -> SemaphorePermit<'static> {
    RUNNING_TESTS
        .acquire()
        .await
        .expect("the test semaphore is never closed")
}

/// Waits until no other test of this file runs, for a test that measures
/// timing and would be thrown off by gateways starting beside it.
async fn exclusive_test_slot() -> SemaphorePermit<'static> {
    RUNNING_TESTS
        .acquire_many(2)
        .await
        .expect("the test semaphore is never closed")
}

/// Config values that differ between the tests.
struct Options {
    deadline_ms: u64,
    source_timeout_ms: u64,
    /// `None` keeps HubSpot's default rate limit.
    rate_limit_per_sec: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            deadline_ms: 1500,
            source_timeout_ms: 1000,
            rate_limit_per_sec: None,
        }
    }
}

/// Builds a gateway config with one HubSpot source that calls `hubspot`, an
/// admin listener on `admin_port` with [`ADMIN_TOKEN`], and `redis` as the
/// shared tier under `key_prefix`.
fn config(
    redis: &RedisServer,
    key_prefix: &str,
    hubspot: &MockServer,
    admin_port: u16,
    options: &Options,
) -> String {
    let rate_limit = options
        .rate_limit_per_sec
        .map(|rate| format!("rate_limit_per_sec = {rate}\n"))
        .unwrap_or_default();
    // The Redis timeout is well above the 100 ms default, so that a slow
    // debug build on a busy machine does not give up on a Redis that is up.
    // Without retries, each lookup that reaches HubSpot makes one search.
    format!(
        r#"
[justcall]
secrets = ["{SECRET}"]

[lookup]
deadline_ms = {deadline_ms}

[admin]
listen = "127.0.0.1:{admin_port}"
token = "{ADMIN_TOKEN}"

[redis]
url = {url}
key_prefix = {key_prefix}
timeout_ms = 1000

[[sources]]
name = "hubspot"
type = "hubspot"
timeout_ms = {source_timeout_ms}
max_retries = 0
access_token = "{HUBSPOT_TOKEN}"
base_url = {base_url}
portal_id = 1
{rate_limit}"#,
        deadline_ms = options.deadline_ms,
        source_timeout_ms = options.source_timeout_ms,
        url = toml_string(&redis.url()),
        key_prefix = toml_string(key_prefix),
        base_url = toml_string(&hubspot.uri()),
    )
}

/// Returns the key prefix of the test named `test`.
fn key_prefix(test: &str) -> String {
    format!("badgegate-test-{test}:")
}

/// Returns the 11-digit US number `1 415 555 {suffix}`.
fn number(suffix: u32) -> String {
    format!("1415555{suffix:04}")
}

/// One gateway of the fleet, with its admin listener.
struct Replica {
    name: &'static str,
    gateway: Gateway,
    admin_port: u16,
    client: reqwest::Client,
}

impl Replica {
    async fn start(
        name: &'static str,
        redis: &RedisServer,
        key_prefix: &str,
        hubspot: &MockServer,
        options: &Options,
    ) -> Replica {
        let admin_port = free_port();
        let gateway =
            Gateway::start(&config(redis, key_prefix, hubspot, admin_port, options)).await;
        Replica {
            name,
            gateway,
            admin_port,
            client: http_client(),
        }
    }

    /// Sends a signed badge request for `number`.
    async fn lookup(&self, number: &str) -> Reply {
        self.gateway.request_badge(SECRET, number).await
    }

    /// Sends a signed badge request for `number` and returns the reply with
    /// the `cache` field of the `answered` log line the request added.
    /// Requests to one replica must not overlap while this runs.
    async fn lookup_logged(&self, number: &str) -> (Reply, String) {
        let before = self.answered_lines().len();
        let reply = self.lookup(number).await;
        let limit = Instant::now() + BACKGROUND_BOUND;
        loop {
            let lines = self.answered_lines();
            if lines.len() > before {
                let line = &lines[before];
                let cache = cache_field(line)
                    .unwrap_or_else(|| panic!("{}: no cache field in `{line}`", self.name));
                return (reply, cache.to_string());
            }
            assert!(
                Instant::now() < limit,
                "{}: no `answered` log line for the request for {number}:\n{}",
                self.name,
                self.gateway.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn answered_lines(&self) -> Vec<String> {
        self.gateway
            .logs()
            .lines()
            .filter(|line| line.contains(" answered "))
            .map(str::to_string)
            .collect()
    }

    /// Counts the log lines that contain `text`.
    fn log_lines_containing(&self, text: &str) -> usize {
        self.gateway
            .logs()
            .lines()
            .filter(|line| line.contains(text))
            .count()
    }

    fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// Sends `DELETE /cache/{number}` with the admin token.
    async fn purge(&self, number: &str) -> Reply {
        let response = self
            .client
            .delete(self.admin_url(&format!("/cache/{number}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the DELETE to the admin listener failed");
        read_reply(response).await
    }

    /// Sends `DELETE /cache` with the admin token.
    async fn purge_all(&self) -> Reply {
        let response = self
            .client
            .delete(self.admin_url("/cache"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the DELETE to the admin listener failed");
        read_reply(response).await
    }

    /// Scrapes `GET /metrics`.
    async fn metrics(&self) -> String {
        let response = self
            .client
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .expect("the GET to the admin listener failed");
        let reply = read_reply(response).await;
        assert_eq!(
            reply.status, 200,
            "{}: GET /metrics: {}",
            self.name, reply.text
        );
        reply.text
    }
}

async fn read_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .expect("reading the admin listener's response body failed");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, text, body }
}

/// Returns the value of the `cache` field of a text log line, without quotes.
fn cache_field(line: &str) -> Option<&str> {
    let start = line.find(" cache=")? + " cache=".len();
    let value = line[start..].split_whitespace().next()?;
    Some(value.trim_matches('"'))
}

/// Returns the value of the unlabelled sample `name` in a Prometheus text
/// exposition, or `None` when there is none.
fn metric_value(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Sums every sample of `name`, labelled or not.
fn metric_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Matches a contact search sent with the configured token.
fn contact_search() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(SEARCH_PATH))
        .and(header(
            "authorization",
            format!("Bearer {HUBSPOT_TOKEN}").as_str(),
        ))
}

/// Returns the record link the gateway builds for contact `id` with `portal_id = 1`.
fn record_link(id: &str) -> String {
    format!("https://app.hubspot.com/contacts/1/record/0-1/{id}")
}

/// Returns the name of the contact stored under `number` in [`contact_mock`].
fn contact_name(number: &str) -> String {
    format!("Caller {number}")
}

/// Builds a search mock for the 11-digit US `number` that responds with one
/// contact, named by [`contact_name`], whose id is `number` and whose phone
/// is `number`. The search body contains the 10 national digits, which is what
/// the mock matches.
fn contact_mock(number: &str) -> Mock {
    contact_mock_after(number, Duration::ZERO)
}

/// [`contact_mock`] responding after `delay`.
fn contact_mock_after(number: &str, delay: Duration) -> Mock {
    let national = &number[1..];
    contact_search()
        .and(body_string_contains(national))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(delay)
                .set_body_json(json!({
                    "total": 1,
                    "results": [{
                        "id": number,
                        "properties": {
                            "firstname": "Caller",
                            "lastname": number,
                            "email": format!("{number}@example.com"),
                            "phone": format!("+{number}"),
                            "mobilephone": null
                        },
                        "createdAt": "2025-01-01T00:00:00Z",
                        "updatedAt": "2026-01-01T00:00:00Z",
                        "archived": false
                    }]
                })),
        )
}

fn no_contacts() -> Value {
    json!({"total": 0, "results": []})
}

/// Counts the contact searches `hubspot` has received.
async fn search_calls(hubspot: &MockServer) -> usize {
    hubspot
        .received_requests()
        .await
        .expect("wiremock records requests")
        .iter()
        .filter(|request| request.url.path() == SEARCH_PATH)
        .count()
}

/// Asserts that `reply` is the badge of the contact of [`contact_mock`] for `number`.
fn assert_badge(replica: &str, reply: &Reply, number: &str) {
    assert_eq!(reply.status, 200, "{replica}: {}", reply.text);
    assert_eq!(reply.body["success"], true, "{replica}: {}", reply.text);
    assert_eq!(
        reply.data("contact_name"),
        contact_name(number),
        "{replica}: {}",
        reply.text
    );
    assert_eq!(
        reply.data("contact_profile_link"),
        record_link(number),
        "{replica}: {}",
        reply.text
    );
    assert_eq!(
        reply.data("contact_email"),
        format!("{number}@example.com"),
        "{replica}: {}",
        reply.text
    );
}

fn assert_not_found(replica: &str, reply: &Reply) {
    assert_eq!(reply.status, 200, "{replica}: {}", reply.text);
    assert_eq!(reply.body["success"], false, "{replica}: {}", reply.text);
    assert_eq!(reply.error_code(), "not_found", "{replica}: {}", reply.text);
}

/// Waits up to `bound` until Redis contains a key under `prefix` that names
/// `e164`, which is how a replica's answer for that number is stored.
/// Returns whether one appeared.
async fn wait_for_shared_answer(
    redis: &RedisServer,
    prefix: &str,
    e164: &str,
    bound: Duration,
) -> bool {
    let pattern = format!("{prefix}*{e164}*");
    let limit = Instant::now() + bound;
    loop {
        if !redis.keys(&pattern).is_empty() {
            return true;
        }
        if Instant::now() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until a channel under `prefix` has `count` subscribers, which is
/// when every replica follows purges.
async fn wait_for_purge_subscribers(redis: &RedisServer, prefix: &str, count: u64) {
    let pattern = format!("{prefix}*");
    let limit = Instant::now() + BACKGROUND_BOUND;
    loop {
        let channels = redis.channel_subscribers(&pattern);
        if channels
            .iter()
            .any(|(_, subscribers)| *subscribers >= count)
        {
            return;
        }
        assert!(
            Instant::now() < limit,
            "no channel under `{prefix}` had {count} subscribers within {} s: {channels:?}",
            BACKGROUND_BOUND.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Looks `number` up on `replica` every 100 ms until the replica calls
/// HubSpot again, which shows that a purge sent at `purged_at` removed its
/// own copy. Until then each lookup must be a local cache hit. Returns how
/// long after `purged_at` the first lookup that called HubSpot was sent, and
/// the cache result of every lookup. Polls for up to 5 s, past any bound a
/// caller asserts, so that a late purge is distinguished from a lost one.
async fn wait_for_purge(
    replica: &Replica,
    hubspot: &MockServer,
    number: &str,
    purged_at: Instant,
) -> (Duration, Vec<String>) {
    let mut checks = Vec::new();
    while purged_at.elapsed() < BACKGROUND_BOUND {
        let sent_after = purged_at.elapsed();
        let calls_before = search_calls(hubspot).await;
        let (reply, cache) = replica.lookup_logged(number).await;
        let calls_after = search_calls(hubspot).await;
        assert_badge(replica.name, &reply, number);
        checks.push(format!("{} ms: {cache}", sent_after.as_millis()));
        if calls_after > calls_before {
            assert_eq!(
                cache,
                MISS,
                "{}'s log:\n{}",
                replica.name,
                replica.gateway.logs()
            );
            return (sent_after, checks);
        }
        assert_eq!(
            cache,
            LOCAL_HIT,
            "{}'s log:\n{}",
            replica.name,
            replica.gateway.logs()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    panic!(
        "{} still answered from its own cache {} s after the purge; checks: {checks:?}\nits log:\n{}",
        replica.name,
        BACKGROUND_BOUND.as_secs(),
        replica.gateway.logs()
    );
}

#[tokio::test]
async fn found_answer_is_shared_between_replicas() {
    let Some(redis) = RedisServer::start_or_skip("found_answer_is_shared_between_replicas") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("found");
    let hubspot = MockServer::start().await;
    contact_mock(ADA_NUMBER).expect(1).mount(&hubspot).await;
    let options = Options::default();
    let a = Replica::start("A", &redis, &prefix, &hubspot, &options).await;
    let b = Replica::start("B", &redis, &prefix, &hubspot, &options).await;

    let (first, first_cache) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &first, ADA_NUMBER);
    assert_eq!(first_cache, MISS, "A's log:\n{}", a.gateway.logs());
    assert!(
        wait_for_shared_answer(&redis, &prefix, ADA_E164, BACKGROUND_BOUND).await,
        "A did not store its answer in Redis within {} s: keys {:?}\nA's log:\n{}",
        BACKGROUND_BOUND.as_secs(),
        redis.keys("*"),
        a.gateway.logs()
    );

    // B has never seen the number, so it must take A's answer from Redis;
    // a second search would fail `expect(1)`.
    let (second, second_cache) = b.lookup_logged(ADA_NUMBER).await;
    assert_badge("B", &second, ADA_NUMBER);
    assert_eq!(second_cache, SHARED_HIT, "B's log:\n{}", b.gateway.logs());

    hubspot.verify().await;
}

#[tokio::test]
async fn not_found_is_shared_between_replicas() {
    let Some(redis) = RedisServer::start_or_skip("not_found_is_shared_between_replicas") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("not-found");
    let hubspot = MockServer::start().await;
    contact_search()
        .respond_with(ResponseTemplate::new(200).set_body_json(no_contacts()))
        .expect(1)
        .mount(&hubspot)
        .await;
    let options = Options::default();
    let a = Replica::start("A", &redis, &prefix, &hubspot, &options).await;
    let b = Replica::start("B", &redis, &prefix, &hubspot, &options).await;

    let (first, first_cache) = a.lookup_logged(ADA_NUMBER).await;
    assert_not_found("A", &first);
    assert_eq!(first_cache, MISS, "A's log:\n{}", a.gateway.logs());
    assert!(
        wait_for_shared_answer(&redis, &prefix, ADA_E164, BACKGROUND_BOUND).await,
        "A did not store its \"not found\" in Redis within {} s: keys {:?}\nA's log:\n{}",
        BACKGROUND_BOUND.as_secs(),
        redis.keys("*"),
        a.gateway.logs()
    );

    let (second, second_cache) = b.lookup_logged(ADA_NUMBER).await;
    assert_not_found("B", &second);
    assert_eq!(second_cache, SHARED_HIT, "B's log:\n{}", b.gateway.logs());

    hubspot.verify().await;
}

#[tokio::test]
async fn purge_reaches_other_replica() {
    let Some(redis) = RedisServer::start_or_skip("purge_reaches_other_replica") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("purge");
    let hubspot = MockServer::start().await;
    contact_mock(ADA_NUMBER).mount(&hubspot).await;
    let options = Options::default();
    let a = Replica::start("A", &redis, &prefix, &hubspot, &options).await;
    let b = Replica::start("B", &redis, &prefix, &hubspot, &options).await;

    let (first, first_cache) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &first, ADA_NUMBER);
    assert_eq!(first_cache, MISS, "A's log:\n{}", a.gateway.logs());
    assert!(
        wait_for_shared_answer(&redis, &prefix, ADA_E164, BACKGROUND_BOUND).await,
        "A did not store its answer in Redis within {} s",
        BACKGROUND_BOUND.as_secs()
    );
    let (shared, shared_cache) = b.lookup_logged(ADA_NUMBER).await;
    assert_badge("B", &shared, ADA_NUMBER);
    assert_eq!(shared_cache, SHARED_HIT, "B's log:\n{}", b.gateway.logs());
    let (local, local_cache) = b.lookup_logged(ADA_NUMBER).await;
    assert_badge("B", &local, ADA_NUMBER);
    assert_eq!(local_cache, LOCAL_HIT, "B's log:\n{}", b.gateway.logs());
    assert_eq!(search_calls(&hubspot).await, 1);

    // A purge sent before a replica subscribed never reaches it, so the
    // test waits until both follow purges.
    wait_for_purge_subscribers(&redis, &prefix, 2).await;
    let purge = a.purge(ADA_NUMBER).await;
    let purged_at = Instant::now();
    assert_eq!(purge.status, 200, "{}", purge.text);
    assert_eq!(purge.body["purged"], ADA_E164, "{}", purge.text);
    assert_eq!(purge.body["removed"], true, "{}", purge.text);

    let (reached_after, checks) = wait_for_purge(&b, &hubspot, ADA_NUMBER, purged_at).await;
    assert!(
        reached_after <= PURGE_BOUND,
        "the purge reached B {} ms after A answered it, more than {} ms; checks: {checks:?}",
        reached_after.as_millis(),
        PURGE_BOUND.as_millis()
    );
}

/// Responds to every contact search with no contacts and records when each
/// arrived.
struct ArrivalRecorder {
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for ArrivalRecorder {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.arrivals
            .lock()
            .expect("the arrivals lock is never poisoned")
            .push(Instant::now());
        ResponseTemplate::new(200).set_body_json(no_contacts())
    }
}

#[tokio::test]
async fn rate_limit_holds_across_replicas() {
    let Some(redis) = RedisServer::start_or_skip("rate_limit_holds_across_replicas") else {
        return;
    };
    let _slot = exclusive_test_slot().await;
    const RATE: usize = 5;
    const REQUESTS: u32 = 40;
    // Calls may arrive up to 50 ms closer together than the limiter's
    // 1 s window, for scheduling and network jitter on a busy machine.
    const CHECKED_WINDOW: Duration = Duration::from_millis(950);

    let prefix = key_prefix("rate-limit");
    let hubspot = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    contact_search()
        .respond_with(ArrivalRecorder {
            arrivals: Arc::clone(&arrivals),
        })
        .mount(&hubspot)
        .await;
    let options = Options {
        deadline_ms: 15000,
        source_timeout_ms: 2000,
        rate_limit_per_sec: Some(RATE as u32),
    };
    let a = Replica::start("A", &redis, &prefix, &hubspot, &options).await;
    let b = Replica::start("B", &redis, &prefix, &hubspot, &options).await;

    let requests = (0..REQUESTS).map(|i| {
        let replica = if i % 2 == 0 { &a } else { &b };
        let number = number(100 + i);
        async move { (replica.name, number.clone(), replica.lookup(&number).await) }
    });
    let replies = futures_util::future::join_all(requests).await;

    // A replica that lost Redis would fall back to its own limiter, and the
    // two limiters together would let twice the rate through.
    for replica in [&a, &b] {
        assert_eq!(
            replica.log_lines_containing(REDIS_DOWN_WARNING),
            0,
            "{}'s log:\n{}",
            replica.name,
            replica.gateway.logs()
        );
    }
    for (replica, number, reply) in &replies {
        assert_eq!(reply.status, 200, "{replica}, {number}: {}", reply.text);
        assert_eq!(
            reply.error_code(),
            "not_found",
            "{replica}, {number}: every lookup must reach HubSpot: {}",
            reply.text
        );
    }
    let mut arrivals = arrivals
        .lock()
        .expect("the arrivals lock is never poisoned")
        .clone();
    arrivals.sort();
    assert_eq!(arrivals.len(), REQUESTS as usize, "one search per number");
    let first = arrivals[0];
    let offsets: Vec<u128> = arrivals
        .iter()
        .map(|arrival| arrival.duration_since(first).as_millis())
        .collect();
    for (index, window_start) in arrivals.iter().enumerate() {
        let in_window = arrivals[index..]
            .iter()
            .take_while(|arrival| arrival.duration_since(*window_start) < CHECKED_WINDOW)
            .count();
        assert!(
            in_window <= RATE,
            "{in_window} searches arrived within {} ms from search {index}; \
             arrival times in ms: {offsets:?}",
            CHECKED_WINDOW.as_millis()
        );
    }
}

#[tokio::test]
async fn replicas_answer_while_redis_is_down() {
    let Some(mut redis) = RedisServer::start_or_skip("replicas_answer_while_redis_is_down") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("outage");
    let hubspot = MockServer::start().await;
    contact_mock(ADA_NUMBER).mount(&hubspot).await;
    let options = Options::default();
    let a = Replica::start("A", &redis, &prefix, &hubspot, &options).await;
    let b = Replica::start("B", &redis, &prefix, &hubspot, &options).await;

    let (first, _) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &first, ADA_NUMBER);
    assert!(
        wait_for_shared_answer(&redis, &prefix, ADA_E164, BACKGROUND_BOUND).await,
        "A did not store its answer in Redis within {} s",
        BACKGROUND_BOUND.as_secs()
    );
    let (shared, shared_cache) = b.lookup_logged(ADA_NUMBER).await;
    assert_badge("B", &shared, ADA_NUMBER);
    assert_eq!(shared_cache, SHARED_HIT, "B's log:\n{}", b.gateway.logs());

    redis.stop();

    // Several lookups per replica, of new numbers and of the cached one, so
    // that a warning per request would show. The rounds span more than the
    // 1 s between connection attempts, so failed reconnections are included.
    for round in 0..4 {
        if round > 0 {
            tokio::time::sleep(OUTAGE_ROUND_INTERVAL).await;
        }
        for (index, replica) in [&a, &b].into_iter().enumerate() {
            let new_number = number(200 + round * 2 + index as u32);
            contact_mock(&new_number).mount(&hubspot).await;
            let (reply, cache) = replica.lookup_logged(&new_number).await;
            assert_badge(replica.name, &reply, &new_number);
            assert_eq!(
                cache,
                MISS,
                "{}'s log:\n{}",
                replica.name,
                replica.gateway.logs()
            );

            let (cached, cache) = replica.lookup_logged(ADA_NUMBER).await;
            assert_badge(replica.name, &cached, ADA_NUMBER);
            assert_eq!(
                cache,
                LOCAL_HIT,
                "{}'s log:\n{}",
                replica.name,
                replica.gateway.logs()
            );
        }
    }
    for replica in [&a, &b] {
        assert_eq!(
            replica.log_lines_containing(REDIS_DOWN_WARNING),
            1,
            "{} must warn once that Redis is unavailable; its log:\n{}",
            replica.name,
            replica.gateway.logs()
        );
    }

    redis.restart();

    // Each attempt looks a new number up on A and, once A has stored the
    // answer, on B. Both replicas reconnect at most once a second, so the
    // first attempts may miss Redis.
    let restarted_at = Instant::now();
    let mut attempts = Vec::new();
    let mut shared_number = None;
    let mut suffix = 300;
    while restarted_at.elapsed() < RECOVERY_BOUND {
        suffix += 1;
        let new_number = number(suffix);
        let e164 = format!("+{new_number}");
        contact_mock(&new_number).mount(&hubspot).await;
        let (reply, a_cache) = a.lookup_logged(&new_number).await;
        assert_badge("A", &reply, &new_number);
        if !wait_for_shared_answer(&redis, &prefix, &e164, Duration::from_secs(1)).await {
            attempts.push(format!("{new_number}: A {a_cache}, not stored"));
            continue;
        }
        let (reply, b_cache) = b.lookup_logged(&new_number).await;
        assert_badge("B", &reply, &new_number);
        attempts.push(format!("{new_number}: A {a_cache}, B {b_cache}"));
        if b_cache == SHARED_HIT {
            shared_number = Some(new_number);
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let shared_number = shared_number.unwrap_or_else(|| {
        panic!(
            "B served no answer of A's from Redis within {} s of the restart; attempts: {attempts:?}\n\
             A's log:\n{}\nB's log:\n{}",
            RECOVERY_BOUND.as_secs(),
            a.gateway.logs(),
            b.gateway.logs()
        )
    });
    for replica in [&a, &b] {
        assert!(
            replica.log_lines_containing(REDIS_BACK_MESSAGE) >= 1,
            "{} did not log that Redis is reachable again; its log:\n{}",
            replica.name,
            replica.gateway.logs()
        );
    }

    // Both replicas follow purges again: B took the last number from Redis
    // into its own cache, and a purge on A removes it there.
    wait_for_purge_subscribers(&redis, &prefix, 2).await;
    let purge = a.purge(&shared_number).await;
    let purged_at = Instant::now();
    assert_eq!(purge.status, 200, "{}", purge.text);
    wait_for_purge(&b, &hubspot, &shared_number, purged_at).await;
}

#[tokio::test]
async fn redis_up_metric_follows_redis() {
    let Some(mut redis) = RedisServer::start_or_skip("redis_up_metric_follows_redis") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("metric");
    let hubspot = MockServer::start().await;
    let up_number = number(400);
    let down_number = number(401);
    contact_mock(&up_number).mount(&hubspot).await;
    contact_mock(&down_number).mount(&hubspot).await;
    let gateway = Replica::start("A", &redis, &prefix, &hubspot, &Options::default()).await;

    let reply = gateway.lookup(&up_number).await;
    assert_badge("A", &reply, &up_number);
    let metrics = gateway.metrics().await;
    assert_eq!(
        metric_value(&metrics, "badgegate_redis_up"),
        Some(1.0),
        "while Redis runs:\n{metrics}"
    );

    redis.stop();
    let reply = gateway.lookup(&down_number).await;
    assert_badge("A", &reply, &down_number);
    let metrics = gateway.metrics().await;
    assert_eq!(
        metric_value(&metrics, "badgegate_redis_up"),
        Some(0.0),
        "after Redis stopped:\n{metrics}"
    );
    assert!(
        metric_sum(&metrics, "badgegate_redis_errors_total") >= 1.0,
        "after Redis stopped:\n{metrics}"
    );
}

/// Replaces `gateway`'s config file with `text` and sends SIGHUP, then waits
/// until the gateway logs that the new config serves.
async fn reload_config(gateway: &Gateway, text: &str) {
    gateway.rewrite_config(text);
    gateway.send_sighup();
    let reloaded = gateway
        .wait_for_log_line(|line| line.contains("config reloaded"))
        .await;
    assert!(
        reloaded.is_some(),
        "no line says the config reloaded; the logs are:\n{}",
        gateway.logs()
    );
}

/// A lookup that started under the old config and ends after a reload
/// that changed `lookup.default_region` stores its answer under the old
/// config's generation, where the reloaded replica does not read.
#[tokio::test]
async fn reload_keeps_old_answers_apart() {
    let Some(redis) = RedisServer::start_or_skip("reload_keeps_old_answers_apart") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("reload");
    let hubspot = MockServer::start().await;
    contact_mock_after(ADA_NUMBER, Duration::from_millis(800))
        .mount(&hubspot)
        .await;
    let a = Replica::start("A", &redis, &prefix, &hubspot, &Options::default()).await;

    // The mock stores the number with its country code, so the record
    // still matches in GB.
    let original =
        std::fs::read_to_string(a.gateway.config_path()).expect("reading the config failed");
    let in_gb = original.replace("[lookup]\n", "[lookup]\ndefault_region = \"GB\"\n");
    assert_ne!(in_gb, original, "the config has no [lookup] table");
    let reload_during_lookup = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        reload_config(&a.gateway, &in_gb).await;
    };
    let ((first, first_cache), ()) =
        tokio::join!(a.lookup_logged(ADA_NUMBER), reload_during_lookup);
    assert_badge("A", &first, ADA_NUMBER);
    assert_eq!(first_cache, MISS, "A's log:\n{}", a.gateway.logs());
    assert_eq!(
        a.log_lines_containing("dropped the cached answers"),
        1,
        "A's log:\n{}",
        a.gateway.logs()
    );
    assert!(
        wait_for_shared_answer(&redis, &prefix, ADA_E164, BACKGROUND_BOUND).await,
        "the lookup under the old config stored no answer in Redis"
    );

    let (after, after_cache) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &after, ADA_NUMBER);
    assert_eq!(after_cache, MISS, "A's log:\n{}", a.gateway.logs());
    assert_eq!(search_calls(&hubspot).await, 2);
    let limit = Instant::now() + BACKGROUND_BOUND;
    let mut answers = redis.keys(&format!("{prefix}answer:*"));
    while answers.len() < 2 && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
        answers = redis.keys(&format!("{prefix}answer:*"));
    }
    assert_eq!(answers.len(), 2, "one answer per generation: {answers:?}");
}

/// `DELETE /cache` empties Redis while it is up. A purge that Redis cannot
/// take is still applied on the replica that got it, and the response is
/// 503 rather than a success.
#[tokio::test]
async fn purge_reports_whether_redis_took_it() {
    let Some(mut redis) = RedisServer::start_or_skip("purge_reports_whether_redis_took_it") else {
        return;
    };
    let _slot = test_slot().await;
    let prefix = key_prefix("purge-down");
    let hubspot = MockServer::start().await;
    contact_mock(ADA_NUMBER).mount(&hubspot).await;
    let a = Replica::start("A", &redis, &prefix, &hubspot, &Options::default()).await;
    let (first, _) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &first, ADA_NUMBER);
    assert!(
        wait_for_shared_answer(&redis, &prefix, ADA_E164, BACKGROUND_BOUND).await,
        "A did not store its answer in Redis"
    );
    let cleared = a.purge_all().await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    let answers = redis.keys(&format!("{prefix}answer:*"));
    assert!(answers.is_empty(), "answers left in Redis: {answers:?}");
    let (again, _) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &again, ADA_NUMBER);

    redis.stop();
    let number_purge = a.purge(ADA_NUMBER).await;
    assert_eq!(number_purge.status, 503, "{}", number_purge.text);
    assert!(
        number_purge.text.contains("Redis did not"),
        "{}",
        number_purge.text
    );
    assert!(
        number_purge.text.contains("\"removed\":true"),
        "{}",
        number_purge.text
    );
    let all_purge = a.purge_all().await;
    assert_eq!(all_purge.status, 503, "{}", all_purge.text);
    assert!(
        all_purge.text.contains("send the request again"),
        "{}",
        all_purge.text
    );

    // The replica's own cache was emptied all the same.
    let (after, after_cache) = a.lookup_logged(ADA_NUMBER).await;
    assert_badge("A", &after, ADA_NUMBER);
    assert_eq!(after_cache, MISS, "A's log:\n{}", a.gateway.logs());
}
