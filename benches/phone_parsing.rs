//! Parsing the caller's number as JustCall sends it, in the forms the README
//! lists and one international number, then numbers of 55 countries in turn,
//! as a gateway with callers from abroad receives them.

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

/// One number of each of 55 countries, and three more of the North American
/// plan outside the US.
const COUNTRIES: [&str; 58] = [
    "+14155550123",
    "+442079460958",
    "+4930901820",
    "+33142685300",
    "+390612345678",
    "+34912345678",
    "+31201234567",
    "+3225551234",
    "+41445551234",
    "+4315551234",
    "+46812345678",
    "+4721234567",
    "+4533123456",
    "+358912345678",
    "+48221234567",
    "+420212345678",
    "+36112345678",
    "+40212345678",
    "+302101234567",
    "+351212345678",
    "+353112345678",
    "+61291234567",
    "+6491234567",
    "+81312345678",
    "+82212345678",
    "+861012345678",
    "+85221234567",
    "+886212345678",
    "+6561234567",
    "+60312345678",
    "+66212345678",
    "+62215551234",
    "+63212345678",
    "+911123456789",
    "+923001234567",
    "+88029123456",
    "+97143123456",
    "+966112345678",
    "+97221234567",
    "+905321234567",
    "+74951234567",
    "+380441234567",
    "+27211234567",
    "+234123456789",
    "+254201234567",
    "+20212345678",
    "+212522123456",
    "+5511912345678",
    "+5491123456789",
    "+56221234567",
    "+573001234567",
    "+51112345678",
    "+525512345678",
    "+15145550123",
    "+12425550123",
    "+18095550123",
    "+16135550123",
    "+17875550123",
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
    // Each iteration parses all of them, so divide its time by their count.
    c.bench_function("phone/parse_caller/58_numbers_of_55_countries", |b| {
        b.iter(|| {
            for raw in COUNTRIES {
                let _ = black_box(parse_caller(black_box(raw), region));
            }
        })
    });
}

criterion_group!(benches, bench_parse_caller);
criterion_main!(benches);
