//! The wall-clock time of a monotonic reading, without reading the wall
//! clock each time.
//!
//! Reading either clock costs about 50 ns on a virtual machine of the kind
//! badgegate was measured on, and a cache hit used to read them seven times
//! at `log.level = "info"`. The handler reads the monotonic clock three
//! times: when a request arrives, when its body is in, which the signature
//! check and the cache's age check use, and when the lookup has finished,
//! which the `answered` line and the metrics use.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

/// How long a thread maps monotonic readings to wall-clock time through one
/// pair of readings before it reads both clocks again.
const ANCHOR_FOR: Duration = Duration::from_secs(1);

thread_local! {
    /// The last pair of readings of both clocks this thread took.
    static ANCHOR: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
}

/// Returns the wall-clock time at which the monotonic clock read `at`.
///
/// NOTE: a step of the wall clock (set by hand, or a large NTP correction)
/// shows in the times returned here up to a second late, because each
/// thread reads the wall clock again only once a second. Gradual NTP
/// corrections change both clocks alike and show at once.
pub fn wall_time(at: Instant) -> SystemTime {
    let anchor = ANCHOR.with(|anchor| match anchor.get() {
        // A reading from before the anchor, taken before another request
        // on this thread took a new one, maps backwards from it.
        Some(pair @ (monotonic, _)) if at.saturating_duration_since(monotonic) < ANCHOR_FOR => pair,
        _ => {
            let pair = (Instant::now(), SystemTime::now());
            anchor.set(Some(pair));
            pair
        }
    });
    from_anchor(at, anchor)
}

fn from_anchor(at: Instant, (monotonic, wall): (Instant, SystemTime)) -> SystemTime {
    match at.checked_duration_since(monotonic) {
        Some(after) => wall + after,
        None => wall - monotonic.duration_since(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_follows_the_monotonic_clock() {
        let before = SystemTime::now();
        let now = Instant::now();
        let wall = wall_time(now);
        let after = SystemTime::now();
        assert!(
            before <= wall && wall <= after,
            "{before:?} {wall:?} {after:?}"
        );

        // Later readings within the anchor's second keep their distance.
        let later = now + Duration::from_millis(250);
        assert_eq!(wall_time(later), wall + Duration::from_millis(250));
    }

    #[test]
    fn readings_before_the_anchor_map_backwards() {
        let monotonic = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_472_506);
        let earlier = monotonic - Duration::from_millis(3);
        assert_eq!(
            from_anchor(earlier, (monotonic, wall)),
            wall - Duration::from_millis(3)
        );
        assert_eq!(
            from_anchor(monotonic + Duration::from_secs(2), (monotonic, wall)),
            wall + Duration::from_secs(2)
        );
    }

    #[test]
    fn anchor_is_replaced_after_a_second() {
        let now = Instant::now();
        wall_time(now);
        let (first, _) = ANCHOR.with(Cell::get).unwrap();
        // A reading from before the anchor keeps it.
        wall_time(first - Duration::from_millis(5));
        assert_eq!(ANCHOR.with(Cell::get).unwrap().0, first);
        // A reading a second past it makes the thread read both clocks again.
        let later = first + ANCHOR_FOR;
        std::thread::sleep(later.saturating_duration_since(Instant::now()));
        wall_time(later);
        let (second, _) = ANCHOR.with(Cell::get).unwrap();
        assert!(second >= later, "{second:?} {later:?}");
    }
}
