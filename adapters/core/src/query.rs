use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::phone::PhoneNumber;

/// What the gateway asks an adapter to find: the caller's parsed number, the
/// moment the answer must be ready by, and JustCall's request id for logs.
#[derive(Debug, Clone)]
pub struct Query {
    caller: PhoneNumber,
    deadline: Instant,
    request_id: String,
    /// Requests the adapters made, kept only when a trace was asked for.
    trace: Option<Arc<Mutex<Vec<RecordedRequest>>>>,
}

/// One request an adapter made, as the lookup trace shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub source: String,
    /// Method, URL and body, with every credential left out.
    pub description: String,
}

impl Query {
    pub fn new(caller: PhoneNumber, deadline: Instant, request_id: impl Into<String>) -> Self {
        Query {
            caller,
            deadline,
            request_id: request_id.into(),
            trace: None,
        }
    }

    /// Keeps the requests adapters record, for `badgegate lookup`.
    pub fn traced(mut self) -> Self {
        self.trace = Some(Arc::default());
        self
    }

    /// Records a request for the trace. `describe` runs only when a trace was
    /// asked for, and must leave out credentials: tokens, secrets, and query
    /// parameters or headers that carry them.
    pub fn record_request(&self, source: &str, describe: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace {
            let request = RecordedRequest {
                source: source.to_string(),
                description: describe(),
            };
            trace
                .lock()
                .expect("trace lock is never poisoned")
                .push(request);
        }
    }

    /// The requests recorded for `source`, oldest first.
    pub fn recorded_requests(&self, source: &str) -> Vec<String> {
        let Some(trace) = &self.trace else {
            return Vec::new();
        };
        trace
            .lock()
            .expect("trace lock is never poisoned")
            .iter()
            .filter(|request| request.source == source)
            .map(|request| request.description.clone())
            .collect()
    }

    /// The caller's number, with the search forms an adapter may need.
    pub fn caller(&self) -> &PhoneNumber {
        &self.caller
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left until the deadline; zero once it has passed.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}
