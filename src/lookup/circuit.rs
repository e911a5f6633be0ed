//! A per-source circuit breaker: after a run of failed calls the source is
//! skipped for a while, then one probe call decides whether it is back.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Instant,
    },
    /// The open period is over and one probe call is in flight since `started`.
    Probing {
        started: Instant,
    },
}

/// Whether a call may go to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// The circuit is closed.
    Call,
    /// The circuit was open and this call is the probe.
    Probe,
    /// The circuit is open, or another call is probing.
    Skip,
}

/// A state change worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    Closed,
    Reopened,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    failures_to_open: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(failures_to_open: u32, open_for: Duration) -> Self {
        CircuitBreaker {
            failures_to_open: failures_to_open.max(1),
            open_for,
            state: Mutex::new(State::Closed {
                consecutive_failures: 0,
            }),
        }
    }

    /// Decides whether a call may go out now.
    pub fn permit(&self, now: Instant) -> Permit {
        let mut state = self.state.lock().expect("circuit lock is never poisoned");
        match *state {
            State::Closed { .. } => Permit::Call,
            State::Open { until } if now >= until => {
                *state = State::Probing { started: now };
                Permit::Probe
            }
            // A probe whose outcome never came (its lookup was cancelled)
            // is replaced by a new one after another open period.
            State::Probing { started } if now >= started + self.open_for => {
                *state = State::Probing { started: now };
                Permit::Probe
            }
            State::Open { .. } | State::Probing { .. } => Permit::Skip,
        }
    }

    /// Records a call's outcome and returns the state change it caused.
    pub fn record(&self, succeeded: bool, now: Instant) -> Option<Transition> {
        let mut state = self.state.lock().expect("circuit lock is never poisoned");
        match (*state, succeeded) {
            (State::Closed { .. }, true) => {
                *state = State::Closed {
                    consecutive_failures: 0,
                };
                None
            }
            (
                State::Closed {
                    consecutive_failures,
                },
                false,
            ) => {
                let failures = consecutive_failures + 1;
                if failures >= self.failures_to_open {
                    *state = State::Open {
                        until: now + self.open_for,
                    };
                    Some(Transition::Opened)
                } else {
                    *state = State::Closed {
                        consecutive_failures: failures,
                    };
                    None
                }
            }
            (State::Probing { .. }, true) => {
                *state = State::Closed {
                    consecutive_failures: 0,
                };
                Some(Transition::Closed)
            }
            (State::Probing { .. }, false) => {
                *state = State::Open {
                    until: now + self.open_for,
                };
                Some(Transition::Reopened)
            }
            // A call that started before the circuit opened ends after it:
            // the open period stands.
            (State::Open { .. }, _) => None,
        }
    }

    /// Whether calls are currently skipped.
    pub fn is_open(&self) -> bool {
        !matches!(
            *self.state.lock().expect("circuit lock is never poisoned"),
            State::Closed { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.record(false, now), Some(Transition::Opened));
        assert_eq!(breaker.permit(now), Permit::Skip);
    }

    #[test]
    fn success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(30));
        let now = Instant::now();
        breaker.record(false, now);
        breaker.record(true, now);
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.permit(now), Permit::Call);
    }

    #[test]
    fn one_probe_after_the_open_period() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(30));
        let now = Instant::now();
        breaker.record(false, now);
        let later = now + Duration::from_secs(30);
        assert_eq!(breaker.permit(later), Permit::Probe);
        assert_eq!(breaker.permit(later), Permit::Skip);
        assert_eq!(breaker.record(true, later), Some(Transition::Closed));
        assert_eq!(breaker.permit(later), Permit::Call);
    }

    #[test]
    fn lost_probe_is_replaced() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(30));
        let now = Instant::now();
        breaker.record(false, now);
        let probe_time = now + Duration::from_secs(30);
        assert_eq!(breaker.permit(probe_time), Permit::Probe);
        assert_eq!(
            breaker.permit(probe_time + Duration::from_secs(29)),
            Permit::Skip
        );
        assert_eq!(
            breaker.permit(probe_time + Duration::from_secs(30)),
            Permit::Probe
        );
    }

    #[test]
    fn failed_probe_reopens() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(30));
        let now = Instant::now();
        breaker.record(false, now);
        let later = now + Duration::from_secs(31);
        assert_eq!(breaker.permit(later), Permit::Probe);
        assert_eq!(breaker.record(false, later), Some(Transition::Reopened));
        assert_eq!(
            breaker.permit(later + Duration::from_secs(29)),
            Permit::Skip
        );
        assert_eq!(
            breaker.permit(later + Duration::from_secs(30)),
            Permit::Probe
        );
    }
}
