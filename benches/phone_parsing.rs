//! Parsing the caller's number as JustCall sends it, in the forms the README
//! lists and one international number.

use std::hint::black_box;

use badgegate_adapter::phone::{load_metadata, parse_caller};
use badgegate_adapter::Region;
use criterion::{criterion_group, criterion_main, Criterion};

const FORMS: [(&str, &str); 5] = [
    ("e164_digits", "14155550123"),
    ("e164_spaced", "+1 415 555 0123"),
    ("national_digits", "4155550123"),
    ("national_formatted", "(415) 555-0123"),
    ("uk_e164_spaced", "+44 20 7946 0958"),
];

fn bench_parse_caller(c: &mut Criterion) {
    load_metadata();
    let region: Region = "US".parse().expect("US is a known region");
    for (label, raw) in FORMS {
        parse_caller(raw, region).expect("every benchmark number parses");
        c.bench_function(&format!("phone/parse_caller/{label}"), |b| {
            b.iter(|| parse_caller(black_box(raw), region).unwrap())
        });
    }
}

criterion_group!(benches, bench_parse_caller);
criterion_main!(benches);
