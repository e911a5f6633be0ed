//! A cache hit in the lookup pipeline (`Lookup::find` for a number looked up
//! before), the parse of a caller's number sent before (`Lookup::parse_caller`),
//! and the JSON badge response built from a hit, with the shipped
//! gateway.toml and its sample contacts file.

use std::hint::black_box;
use std::path::Path;

use badgegate::lookup::{CacheStatus, Lookup, Outcome};
use badgegate::server::response;
use badgegate::Registry;
use badgegate_adapter::phone::parse_caller;
use criterion::{criterion_group, criterion_main, Criterion};
use tokio::time::Instant;

fn bench_cache_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("gateway.toml")).expect("gateway.toml is readable");
    let settings = badgegate::config::load_text(&root.join("gateway.toml"), &text, &|_| None)
        .expect("the shipped gateway.toml is valid");
    let lookup = runtime.block_on(async {
        let sources = Registry::builtin()
            .build_sources(&settings)
            .expect("the sample contacts file loads");
        let lookup = Lookup::new(&settings, sources, None);
        lookup.start_sources().await;
        lookup
    });
    let caller = parse_caller("14155550123", lookup.region()).expect("the sample number parses");

    let first = runtime.block_on(lookup.find(&caller, "warm-up", Instant::now()));
    assert!(
        matches!(first.outcome, Outcome::Found(_)),
        "the sample contact is found"
    );
    let second = runtime.block_on(lookup.find(&caller, "warm-up", Instant::now()));
    assert_eq!(
        second.cache,
        CacheStatus::Hit,
        "the second lookup is a cache hit"
    );
    let Outcome::Found(badge) = second.outcome else {
        unreachable!("a cache hit of a found contact is found");
    };

    c.bench_function("lookup/find_cache_hit", |b| {
        b.iter(|| runtime.block_on(lookup.find(black_box(&caller), "bench", Instant::now())))
    });
    c.bench_function("lookup/parse_caller_again", |b| {
        b.iter(|| lookup.parse_caller(black_box("14155550123")))
    });
    c.bench_function("response/badge_json", |b| {
        b.iter(|| response::badge(black_box(&badge)))
    });
}

criterion_group!(benches, bench_cache_hit);
criterion_main!(benches);
