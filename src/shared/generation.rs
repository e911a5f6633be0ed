//! The answer generation: which config the answers shared through Redis
//! were found under.

use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::lookup::Source;

/// Returns 16 hex digits that change whenever something that decides an
/// answer changes: the `[[sources]]` entries, `lookup.default_region`,
/// `lookup.on_multiple_matches`, and the data each source loaded when it was
/// built. Replicas with the same config and files get the same generation,
/// and shared answers are stored under it, so a replica never reads an
/// answer found under another config, and a lookup still running under a
/// replaced config cannot store its answer where the new config reads. A
/// reload keeps the in-memory answers exactly when the generation is
/// unchanged, so memory and Redis agree on what an old answer is.
pub fn answer_generation(settings: &Settings, sources: &[Source]) -> String {
    let mut digest = Sha256::new();
    // Each piece is preceded by its length, so that moving text from one
    // piece to the next changes the digest.
    let mut feed = |piece: &str| {
        digest.update((piece.len() as u64).to_le_bytes());
        digest.update(piece.as_bytes());
    };
    feed(&format!("{:?}", settings.lookup.default_region));
    feed(&format!("{:?}", settings.lookup.on_multiple_matches));
    for (entry, source) in settings.sources.iter().zip(sources) {
        feed(&entry.name);
        feed(&entry.kind);
        feed(&entry.options.to_string());
        feed(&format!("{:?}", source.adapter.content_digest()));
    }
    // NOTE: the options include credentials such as access tokens. The
    // generation is a truncated SHA-256 of them together with the rest of
    // the config, in the names of Redis keys only.
    let hash = digest.finalize();
    hex::encode(&hash[..8])
}
