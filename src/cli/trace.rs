//! `badgegate lookup`: one lookup in-process, printed as a trace an
//! integrator reads when a badge is missing.

use std::process::ExitCode;

use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::Printable;
use serde_json::json;
use tokio::time::Instant;

use crate::lookup::{Lookup, LookupResult, Outcome};

pub async fn run(lookup: &Lookup, input: &str, as_json: bool) -> ExitCode {
    lookup.start_sources().await;
    let caller = match parse_caller(input, lookup.region()) {
        Ok(caller) => caller,
        Err(error) => {
            eprintln!("error: `{input}` {error}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let result = lookup.find_traced(&caller, started).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;

    let number = json!({
        "input": input,
        "default_region": lookup.region().code(),
        "e164": caller.e164(),
        "e164_digits": caller.e164_digits(),
        "country_code": caller.country_code(),
        "national_digits": caller.national_digits(),
        "national_formatted": caller.national_formatted(),
        "international_formatted": caller.international_formatted(),
    });
    if as_json {
        let badge = match &result.outcome {
            Outcome::Found(badge) => json!(badge),
            _ => serde_json::Value::Null,
        };
        let trace = json!({
            "number": number,
            "cache": result.cache,
            "sources": result.attempts,
            "outcome": result.outcome.label(),
            "badge": badge,
            "duration_ms": elapsed_ms,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&trace).expect("the trace is plain JSON")
        );
    } else {
        print_text(&number, &result, elapsed_ms);
    }
    ExitCode::SUCCESS
}

fn print_text(number: &serde_json::Value, result: &LookupResult, elapsed_ms: f64) {
    let field = |name: &str| number[name].as_str().unwrap_or_default().to_string();
    println!(
        "number    {} (read in region {})",
        field("input"),
        field("default_region")
    );
    println!("  e164               {}", field("e164"));
    println!("  national digits    {}", field("national_digits"));
    println!("  national format    {}", field("national_formatted"));
    println!("  international      {}", field("international_formatted"));
    println!("cache     {}", result.cache.label());
    for attempt in &result.attempts {
        println!(
            "source    {} ({}): {} in {:.1} ms, {} call{}",
            attempt.source,
            attempt.kind,
            attempt.result,
            attempt.duration.as_secs_f64() * 1000.0,
            attempt.calls,
            if attempt.calls == 1 { "" } else { "s" }
        );
        for request in &attempt.requests {
            println!("  request            {request}");
        }
        if let Some(error) = &attempt.error {
            println!("  error              {}", Printable(&error.to_string()));
        }
        for candidate in &attempt.candidates {
            let verdict = if candidate.kept { "kept" } else { "discarded" };
            println!(
                "  {verdict:<9} {}: {}",
                Printable(&candidate.id),
                Printable(&candidate.reason)
            );
        }
        if let Some(chosen) = &attempt.chosen {
            println!("  chosen             {}", Printable(chosen));
        }
    }
    match &result.outcome {
        Outcome::Found(badge) => {
            println!("badge     {}", Printable(badge.contact_name()));
            println!(
                "  link               {}",
                Printable(badge.contact_profile_link())
            );
            if let Some(email) = badge.contact_email() {
                println!("  email              {}", Printable(email));
            }
        }
        Outcome::NotFound => println!("badge     none: no contact matches this number"),
        Outcome::Unavailable(reason) => println!("badge     none: {reason}"),
    }
    println!("took      {elapsed_ms:.1} ms");
}
