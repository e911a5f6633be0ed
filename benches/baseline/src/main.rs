//! The benchmark baseline: an actix-web server that reads the same JSON body
//! as badgegate's badge endpoint and returns a fixed badge for every valid
//! one. It checks no signature, parses no number and has no cache, so the
//! gap between it and badgegate is the cost of those steps.
//!
//! Usage: `baseline [--listen ADDR] [--workers N]`. The defaults are
//! `127.0.0.1:8090` and one worker per core, which is also badgegate's
//! worker count.

use std::net::SocketAddr;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::{Deserialize, Serialize};

const PATH: &str = "/justcall/contact-badge";

/// The body JustCall sends. Both fields are read, as badgegate reads them.
#[derive(Deserialize)]
struct BadgeRequest {
    request_id: String,
    contact_number: String,
}

#[derive(Serialize)]
struct Badge {
    contact_name: &'static str,
    contact_profile_link: &'static str,
    contact_email: &'static str,
}

/// The badge of the sample contact that the gateway benchmark looks up, so
/// both servers send a body of the same size.
const BADGE: Badge = Badge {
    contact_name: "Ada Lovelace",
    contact_profile_link: "https://crm.example.com/contacts/1001",
    contact_email: "ada.lovelace@example.com",
};

async fn contact_badge(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<BadgeRequest>(&body) {
        Ok(request) if !request.request_id.is_empty() && !request.contact_number.is_empty() => {
            HttpResponse::Ok().json(serde_json::json!({"success": true, "data": BADGE}))
        }
        _ => HttpResponse::BadRequest().json(serde_json::json!({
            "success": false,
            "error": {"code": "bad_request", "message": "send {\"request_id\", \"contact_number\"}"},
        })),
    }
}

const USAGE: &str = "usage: baseline [--listen ADDR] [--workers N]";

struct Options {
    listen: SocketAddr,
    workers: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:8090"
            .parse()
            .expect("the default address is valid"),
        workers: std::thread::available_parallelism().map_or(1, |cores| cores.get()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                options.listen = text
                    .parse()
                    .map_err(|error| format!("--listen `{text}` is not ADDRESS:PORT: {error}"))?;
            }
            "--workers" => {
                let text = value("--workers")?;
                options.workers = match text.parse() {
                    Ok(workers) if workers > 0 => workers,
                    _ => return Err(format!("--workers `{text}` is not a positive integer")),
                };
            }
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> std::io::Result<()> {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "baseline: listening on {} with {} workers",
        options.listen, options.workers
    );
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| App::new().route(PATH, web::post().to(contact_badge)))
            .workers(options.workers)
            .bind(options.listen)?
            .run(),
    )
}
