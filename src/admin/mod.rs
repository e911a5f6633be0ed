//! The admin listener: metrics, health, readiness and cache control, on its
//! own address so that it need not be exposed where JustCall reaches.

use std::sync::Arc;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};
use badgegate_adapter::phone::parse_caller;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::lookup::Readiness;

/// Adds the admin routes to an actix `App`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/metrics", web::get().to(metrics))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/cache", web::delete().to(purge_all))
        .route("/cache/{number}", web::delete().to(purge_number))
        .default_service(web::to(unknown_path));
}

async fn metrics(app: web::Data<Arc<App>>) -> HttpResponse {
    let runtime = app.current();
    crate::telemetry::cache_size(runtime.lookup.cached_entries());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::render(&app.metrics))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 once every source finished its start-up; 503 naming the sources that
/// are still starting or failed. With Redis, its state is listed too.
async fn readyz(app: web::Data<Arc<App>>) -> HttpResponse {
    let runtime = app.current();
    let mut sources = serde_json::Map::new();
    let mut ready = true;
    for source in runtime.lookup.sources() {
        let state = match source.readiness() {
            Readiness::Ready => json!({"ready": true}),
            Readiness::Starting => {
                ready = false;
                json!({"ready": false, "reason": "starting"})
            }
            Readiness::Failed(error) => {
                ready = false;
                json!({"ready": false, "reason": error})
            }
        };
        sources.insert(source.name.clone(), state);
    }
    let mut body = json!({"ready": ready, "sources": sources});
    // Redis is reported but never makes the replica unready: without it the
    // replica still answers from its own cache and sources.
    if let Some(up) = runtime.lookup.redis_up() {
        body["redis"] = json!({"up": up});
    }
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn purge_number(
    request: HttpRequest,
    number: web::Path<String>,
    app: web::Data<Arc<App>>,
) -> HttpResponse {
    let runtime = app.current();
    if let Some(rejection) = reject_unauthorized(&request, &runtime.settings.admin.token) {
        return rejection;
    }
    let caller = match parse_caller(&number, runtime.lookup.region()) {
        Ok(caller) => caller,
        Err(error) => {
            return HttpResponse::BadRequest().json(json!({
                "error": format!("the number {error}; write it in any format, e.g. +14155550123 or 14155550123")
            }))
        }
    };
    let purged = runtime.lookup.purge(&caller).await;
    if !purged.shared_complete {
        tracing::warn!(number = %caller.masked(), removed = purged.removed, "purged a cached answer on this replica only: Redis did not take the purge");
        return shared_purge_failed(json!({"purged": caller.e164(), "removed": purged.removed}));
    }
    tracing::info!(number = %caller.masked(), removed = purged.removed, "purged a cached answer");
    HttpResponse::Ok().json(json!({"purged": caller.e164(), "removed": purged.removed}))
}

async fn purge_all(request: HttpRequest, app: web::Data<Arc<App>>) -> HttpResponse {
    let runtime = app.current();
    if let Some(rejection) = reject_unauthorized(&request, &runtime.settings.admin.token) {
        return rejection;
    }
    let entries = runtime.lookup.cached_entries();
    if !runtime.lookup.clear_cache().await {
        tracing::warn!(
            entries,
            "purged every cached answer on this replica, but Redis did not take the whole purge"
        );
        return shared_purge_failed(json!({"purged": "all", "entries": entries}));
    }
    tracing::info!(entries, "purged every cached answer");
    HttpResponse::Ok().json(json!({"purged": "all", "entries": entries}))
}

/// 503 for a purge that this replica applied and Redis did not: the body is
/// `purged`'s fields with an `error` saying what to do.
fn shared_purge_failed(mut purged: serde_json::Value) -> HttpResponse {
    purged["error"] = json!(
        "this replica dropped its cached answers, but Redis did not remove them all or did not tell the other replicas; the log names the Redis error; send the request again once Redis answers"
    );
    HttpResponse::ServiceUnavailable().json(purged)
}

/// Checks `Authorization: Bearer {admin.token}` in constant time and returns
/// the rejection when it fails. Without a configured token the cache-control
/// endpoints are off: 403.
fn reject_unauthorized(
    request: &HttpRequest,
    token: &Option<badgegate_adapter::Secret>,
) -> Option<HttpResponse> {
    let Some(token) = token else {
        tracing::warn!("rejected a cache-control request: admin.token is not set");
        return Some(HttpResponse::Forbidden().json(json!({
            "error": "cache control is off because admin.token is not set; set it in the config"
        })));
    };
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or_default();
    if bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes())) {
        return None;
    }
    tracing::warn!("rejected a cache-control request: missing or wrong bearer token");
    Some(
        HttpResponse::Unauthorized()
            .insert_header(("www-authenticate", "Bearer"))
            .json(json!({"error": "send Authorization: Bearer followed by admin.token"})),
    )
}

async fn unknown_path() -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "error": "no endpoint at this path; the admin listener serves /metrics, /healthz, /readyz and DELETE /cache"
    }))
}
