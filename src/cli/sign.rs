//! `badgegate sign`: a ready curl command with JustCall's signing headers,
//! for trying a running gateway without JustCall.

use std::borrow::Cow;
use std::process::ExitCode;

use chrono::Utc;
use rand::Rng;

use crate::config::Settings;
use crate::signature::sign;

/// Crockford's base32 alphabet, which ULIDs use.
const ULID_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn run(settings: &Settings, number: &str, url: Option<&str>) -> ExitCode {
    let Some(secret) = settings.justcall.secrets.first() else {
        eprintln!(
            "error: justcall.secrets is empty, so there is no secret to sign with; add one to {}",
            settings.path.display()
        );
        return ExitCode::FAILURE;
    };
    let url = url
        .map(str::to_string)
        .or_else(|| settings.justcall.public_urls.first().cloned())
        .unwrap_or_else(|| format!("http://{}{}", settings.server.listen, settings.server.path));
    let request_id = request_id();
    let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let signature = sign(secret.expose(), &url, &request_id, &timestamp);
    let body = serde_json::json!({"request_id": request_id, "contact_number": number}).to_string();

    let command = [
        "curl -sS -w '\\n' -X POST".to_string(),
        quote(&url).into_owned(),
        "-H 'content-type: application/json'".to_string(),
        format!(
            "-H {}",
            quote(&format!("x-justcall-signature: {signature}"))
        ),
        "-H 'x-justcall-signature-version: v1'".to_string(),
        format!(
            "-H {}",
            quote(&format!("x-justcall-request-timestamp: {timestamp}"))
        ),
        format!("--data {}", quote(&body)),
    ];
    println!("{}", command.join(" "));
    ExitCode::SUCCESS
}

/// A random 26-character id shaped like JustCall's ULIDs.
fn request_id() -> String {
    let mut random = rand::thread_rng();
    (0..26)
        .map(|_| ULID_ALPHABET[random.gen_range(0..ULID_ALPHABET.len())] as char)
        .collect()
}

fn quote(text: &str) -> Cow<'_, str> {
    // Text with a NUL byte cannot be a shell word; it is dropped instead.
    shlex::try_quote(text)
        .unwrap_or_else(|_| Cow::Owned(format!("'{}'", text.replace(['\0', '\''], ""))))
}
