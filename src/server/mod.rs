//! The listeners: the JustCall endpoint with `/healthz`, and the admin
//! listener when `admin.listen` is set. SIGTERM and SIGINT stop both
//! gracefully; SIGHUP reloads the config.

pub mod client_limit;
mod handler;
pub mod response;
mod url;

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpServer};

use crate::app::App;

/// Binds the listeners and starts the sources, then serves until the process
/// receives SIGINT or SIGTERM, then stops accepting connections and lets
/// in-flight requests finish within their deadline.
pub async fn serve(app: Arc<App>) -> std::io::Result<()> {
    let signals = Signals::install();
    let runtime = app.current();
    let settings = &runtime.settings;
    // In-flight requests get their whole deadline to finish after SIGTERM or
    // SIGINT, and a second to send the answer.
    let shutdown_timeout = (settings.lookup.deadline.as_secs() + 1).max(2);
    let path = settings.server.path.clone();
    let data = web::Data::new(Arc::clone(&app));

    let main_data = data.clone();
    let main = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(main_data.clone())
            .service(
                web::resource(path.as_str())
                    .route(web::post().to(handler::contact_badge))
                    .default_service(web::to(handler::method_not_allowed)),
            )
            .route("/healthz", web::get().to(handler::healthz))
            .default_service(web::to(handler::unknown_path))
    })
    .shutdown_timeout(shutdown_timeout)
    .disable_signals()
    .client_request_timeout(settings.server.client_timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(settings.server.keep_alive)
    .max_connections(connections_per_worker(settings.server.max_connections))
    .bind(settings.server.listen)
    .map_err(|error| listen_error("server.listen", settings.server.listen, error))?;

    // Both listeners are bound before either serves, and the sources start
    // only then, so a busy port stops the process before anything runs.
    let admin = match settings.admin.listen {
        Some(address) => {
            let admin_data = data.clone();
            let server = HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(admin_data.clone())
                    .configure(crate::admin::routes)
            })
            .workers(1)
            .shutdown_timeout(shutdown_timeout)
            .disable_signals()
            .bind(address)
            .map_err(|error| listen_error("admin.listen", address, error))?;
            Some((address, server))
        }
        None => None,
    };

    let main = main.run();
    tracing::info!(
        listen = %settings.server.listen,
        path = %settings.server.path,
        "serving JustCall contact badges"
    );
    let mut handles = vec![main.handle()];
    let admin = admin.map(|(address, server)| {
        let server = server.run();
        tracing::info!(listen = %address, "serving metrics, health and cache control");
        handles.push(server.handle());
        server
    });
    let starting = runtime.lookup.clone();
    tokio::spawn(async move { starting.start_sources().await });

    tokio::spawn(handle_signals(app, handles, signals));
    match admin {
        Some(admin) => {
            let (main, admin) = tokio::join!(main, admin);
            main.and(admin)
        }
        None => main.await,
    }
}

/// Splits `server.max_connections` over the workers, one per core.
fn connections_per_worker(total: usize) -> usize {
    let workers = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    (total / workers).max(1)
}

fn listen_error(key: &str, address: std::net::SocketAddr, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        error.kind(),
        format!("cannot listen on {address} ({key}): {error}"),
    )
}

/// Reloads the config on SIGHUP; stops the servers on SIGTERM or SIGINT.
async fn handle_signals(app: Arc<App>, servers: Vec<ServerHandle>, mut signals: Signals) {
    let name = signals.wait_for_stop(&app).await;
    crate::logging::stop_waiting_for_room();
    tracing::info!(
        signal = name,
        "shutting down: no new connections, finishing in-flight requests"
    );
    let stops = servers.iter().map(|server| server.stop(true));
    futures_util::future::join_all(stops).await;
}

/// The signal handlers, installed before the listeners accept anything, so
/// that an early SIGHUP reloads instead of ending the process.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};

        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(terminate), Ok(hangup)) => Signals {
                unix: Some((terminate, hangup)),
            },
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for SIGTERM and SIGHUP; only SIGINT stops the server gracefully");
                Signals { unix: None }
            }
        }
    }

    #[cfg(not(unix))]
    fn install() -> Signals {
        Signals {}
    }

    /// Reloads on every SIGHUP until SIGTERM or SIGINT arrives; returns its name.
    #[cfg(unix)]
    async fn wait_for_stop(&mut self, app: &App) -> &'static str {
        let Some((terminate, hangup)) = &mut self.unix else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        loop {
            tokio::select! {
                _ = terminate.recv() => return "SIGTERM",
                _ = tokio::signal::ctrl_c() => return "SIGINT",
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP received: reloading the config");
                    let _ = app.reload().await;
                }
            }
        }
    }

    #[cfg(not(unix))]
    async fn wait_for_stop(&mut self, _app: &App) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
