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
}

impl Query {
    pub fn new(caller: PhoneNumber, deadline: Instant, request_id: impl Into<String>) -> Self {
        Query {
            caller,
            deadline,
            request_id: request_id.into(),
        }
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
