//! Conversion between cached answers and the answers stored in Redis, whose
//! times are Unix milliseconds because every replica has its own clock base.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::cache::CachedAnswer;
use super::outcome::{Answer, Badge};
use crate::shared::{StoredAnswer, StoredBadge};

fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

pub fn to_stored(answer: &Answer) -> StoredAnswer {
    let found = match answer {
        Answer::Found(badge) => Some(StoredBadge {
            name: badge.contact_name().to_string(),
            link: badge.contact_profile_link().to_string(),
            email: badge.contact_email().map(str::to_string),
            source: badge.source().to_string(),
            contact_id: badge.contact_id().to_string(),
        }),
        Answer::NotFound => None,
    };
    StoredAnswer::new(unix_now_ms(), found)
}

pub fn to_cached(stored: &StoredAnswer) -> CachedAnswer {
    let age = Duration::from_millis((unix_now_ms() - stored.stored_at_ms).max(0) as u64);
    let now = Instant::now();
    let answer = match &stored.found {
        Some(badge) => Answer::Found(Badge::new(
            &badge.name,
            &badge.link,
            badge.email.as_deref(),
            &badge.source,
            &badge.contact_id,
        )),
        None => Answer::NotFound,
    };
    CachedAnswer {
        answer,
        stored_at: now.checked_sub(age).unwrap_or(now),
    }
}
