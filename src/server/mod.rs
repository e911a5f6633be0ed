//! The JustCall listener: the badge endpoint and `/healthz`.

mod handler;
pub mod response;
mod url;

use std::sync::Arc;

use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::lookup::Lookup;
use crate::signature::Verifier;

pub use handler::AppState;

/// Serves the JustCall endpoint until the process receives SIGINT or SIGTERM,
/// then stops accepting connections and lets in-flight requests finish.
pub async fn serve(settings: &Settings, lookup: Arc<Lookup>) -> std::io::Result<()> {
    let state = web::Data::new(AppState {
        verifier: Verifier::new(&settings.justcall),
        lookup,
        public_urls: settings.justcall.public_urls.clone(),
        trust_forwarded_headers: settings.justcall.trust_forwarded_headers,
        max_body_bytes: settings.server.max_body_bytes,
    });
    let path = settings.server.path.clone();
    // In-flight requests get their whole deadline to finish after SIGTERM or
    // SIGINT, and a second to send the answer.
    let shutdown_timeout = settings.lookup.deadline.as_secs() + 1;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(
                web::resource(path.as_str())
                    .route(web::post().to(handler::contact_badge))
                    .default_service(web::to(handler::method_not_allowed)),
            )
            .route("/healthz", web::get().to(handler::healthz))
            .default_service(web::to(handler::unknown_path))
    })
    .shutdown_timeout(shutdown_timeout.max(2))
    .disable_signals()
    .bind(settings.server.listen)
    .map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "cannot listen on {} (server.listen): {error}",
                settings.server.listen
            ),
        )
    })?;
    tracing::info!(
        listen = %settings.server.listen,
        path = %settings.server.path,
        "serving JustCall contact badges"
    );
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(async move {
        let signal = wait_for_shutdown_signal().await;
        tracing::info!(
            signal,
            "shutting down: no new connections, finishing in-flight requests"
        );
        handle.stop(true).await;
    });
    server.await
}

/// Waits for SIGTERM or SIGINT and returns its name.
async fn wait_for_shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => "SIGTERM",
                    _ = tokio::signal::ctrl_c() => "SIGINT",
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server gracefully");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
