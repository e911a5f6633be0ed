//! Arbitrary text through config loading: TOML parsing, `${VAR}`
//! interpolation, deserialization and validation, and the formatting of
//! every problem, which locates its key in the text.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

/// Returns the value of the environment variable `name` for `${VAR}` references.
fn env(name: &str) -> Option<String> {
    match name {
        "JUSTCALL_API_SECRET" => Some("fuzz-justcall-secret".to_string()),
        "HUBSPOT_TOKEN" => Some("pat-fuzz-token".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match badgegate::config::load_text(Path::new("/fuzz/gateway.toml"), &text, &env) {
        Ok(settings) => {
            let _ = format!("{settings:?}");
        }
        Err(problems) => {
            for problem in problems {
                let _ = problem.to_string();
            }
        }
    }
});
