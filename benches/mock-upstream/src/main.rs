//! A stand-in for HubSpot's contact search, for the benchmark suite.
//!
//! `POST /crm/v3/objects/contacts/search` waits `--latency-ms`, then returns
//! one contact whose `phone` is the number badgegate searched for, in the
//! shape of HubSpot's search response. The number is read from the
//! `hs_searchable_calculated_international_phone_number` filter, which
//! badgegate's HubSpot adapter sends with the E.164 digits. `GET /calls`
//! returns how many searches arrived, so a benchmark can count upstream calls.
//!
//! Usage: `mock-upstream [--listen ADDR] [--latency-ms N]`, by default
//! `127.0.0.1:8091` and 5 ms.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";

/// Portal id in the record links; the benchmark config sets the same one.
const PORTAL_ID: u64 = 44237313;

struct State {
    latency: Duration,
    calls: AtomicU64,
}

async fn search(body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let call = state.calls.fetch_add(1, Ordering::Relaxed) + 1;
    // tokio's timer fires on whole milliseconds, so a client that sends its
    // next request right after each answer falls into step with it, and
    // work done before the call would vanish into the rounding. A thread's
    // sleep ends within tens of microseconds of the latency instead.
    let latency = state.latency;
    tokio::task::spawn_blocking(move || std::thread::sleep(latency))
        .await
        .expect("a sleeping thread does not panic");

    let digits = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|request| international_digits(&request));
    let Some(digits) = digits else {
        return HttpResponse::Ok().json(json!({"total": 0, "results": []}));
    };
    let id = format!("{}", 50_000_000_000u64 + call);
    let contact = json!({
        "id": id,
        "properties": {
            "createdate": "2024-03-01T09:00:00.000Z",
            "email": "grace.hopper@example.com",
            "firstname": "Grace",
            "hs_object_id": id,
            "lastmodifieddate": "2025-01-15T08:30:00.000Z",
            "lastname": "Hopper",
            "mobilephone": null,
            "phone": format!("+{digits}"),
        },
        "createdAt": "2024-03-01T09:00:00.000Z",
        "updatedAt": "2025-01-15T08:30:00.000Z",
        "archived": false,
        "url": format!("https://app.hubspot.com/contacts/{PORTAL_ID}/record/0-1/{id}"),
    });
    HttpResponse::Ok().json(json!({"total": 1, "results": [contact]}))
}

/// Finds the value of the `hs_searchable_calculated_international_phone_number`
/// filter in a search request.
fn international_digits(request: &Value) -> Option<String> {
    request["filterGroups"]
        .as_array()?
        .iter()
        .filter_map(|group| group["filters"].as_array())
        .flatten()
        .find(|filter| {
            filter["propertyName"] == "hs_searchable_calculated_international_phone_number"
        })
        .and_then(|filter| filter["value"].as_str())
        .map(str::to_string)
}

async fn calls(state: web::Data<Arc<State>>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"calls": state.calls.load(Ordering::Relaxed)}))
}

const USAGE: &str = "usage: mock-upstream [--listen ADDR] [--latency-ms N]";

struct Options {
    listen: SocketAddr,
    latency: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:8091"
            .parse()
            .expect("the default address is valid"),
        latency: Duration::from_millis(5),
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
            "--latency-ms" => {
                let text = value("--latency-ms")?;
                let millis: u64 = text.parse().map_err(|_| {
                    format!("--latency-ms `{text}` is not a whole number of milliseconds")
                })?;
                options.latency = Duration::from_millis(millis);
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
        "mock-upstream: listening on {} with a latency of {} ms",
        options.listen,
        options.latency.as_millis()
    );
    let state = web::Data::new(Arc::new(State {
        latency: options.latency,
        calls: AtomicU64::new(0),
    }));
    // One worker is enough: each request waits on a thread of the blocking pool.
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route(SEARCH_PATH, web::post().to(search))
                .route("/calls", web::get().to(calls))
        })
        .workers(1)
        .bind(options.listen)?
        .run(),
    )
}
