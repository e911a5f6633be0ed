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

/// Serves the JustCall endpoint until the process receives SIGINT or SIGTERM.
pub async fn serve(settings: &Settings, lookup: Arc<Lookup>) -> std::io::Result<()> {
    let state = web::Data::new(AppState {
        verifier: Verifier::new(&settings.justcall),
        lookup,
        public_urls: settings.justcall.public_urls.clone(),
        trust_forwarded_headers: settings.justcall.trust_forwarded_headers,
        max_body_bytes: settings.server.max_body_bytes,
    });
    let path = settings.server.path.clone();
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
    server.run().await
}
