//! Builds the application: the actor system and the HTTP server on top.

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::actors::Registry;
use crate::config::Settings;
use crate::http::{self, AppState, RequestLimits};
use crate::metrics::Metrics;
use crate::system::{self, Services, StartupError};

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on `server.metrics_port`, with its port.
    metrics: Option<(u16, Server)>,
    services: Services,
    shutdown_timeout: Duration,
}

impl Application {
    /// Binds the listener, starts the actors and prepares the server. Must
    /// run inside an actix System.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let metrics_listener = match settings.server.metrics_port {
            Some(metrics_port) => {
                let address = format!("{}:{metrics_port}", settings.server.host);
                let bind_error = |source| StartupError::Bind {
                    address: address.clone(),
                    source,
                };
                let listener = TcpListener::bind(&address).map_err(bind_error)?;
                let port = listener.local_addr().map_err(bind_error)?.port();
                Some((address, port, listener))
            }
            None => None,
        };
        let services = system::start(
            &settings,
            settings.node_id(port),
            format!("http://{}:{port}", settings.server.host),
            crate::http::products::render_product,
        )
        .await?;
        let state = app_state(&settings, &services, metrics_listener.is_some());
        let server = serve(listener, &settings, state.clone()).map_err(bind_error)?;
        let metrics = match metrics_listener {
            Some((address, port, listener)) => {
                let server =
                    serve_metrics(listener, state).map_err(|source| StartupError::Bind {
                        address: address.clone(),
                        source,
                    })?;
                tracing::info!(%address, port, "metrics are served on a port of their own");
                Some((port, server))
            }
            None => None,
        };
        tracing::info!(%address, port, "storefront is listening");
        Ok(Application {
            port,
            server,
            metrics,
            services,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when `server.metrics_port` asked for one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn registry(&self) -> &Registry {
        &self.services.registry
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish and
    /// delivers the events already accepted before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, actix_web::rt::spawn(server))
        });
        self.server.await?;
        if let Some((handle, serving)) = metrics {
            // A scrape cut short loses nothing: no grace.
            handle.stop(false).await;
            if let Ok(Err(err)) = serving.await {
                tracing::warn!(error = %err, "the metrics listener stopped with an error");
            }
        }
        // The workers are gone, and the instances that ran on them with
        // them; events still to deliver need them back.
        self.services.registry.go_home();
        if !self.services.bus.drain(self.shutdown_timeout).await {
            tracing::warn!("shutting down with events still undelivered");
        }
        let background = &self.services.background;
        background.close();
        if tokio::time::timeout(self.shutdown_timeout, background.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "shutting down with mail still being sent; it stays queued for the next start"
            );
        }
        tracing::info!("storefront stopped");
        Ok(())
    }
}

fn app_state(settings: &Settings, services: &Services, metrics_apart: bool) -> web::Data<AppState> {
    let limits = RequestLimits {
        max_body_bytes: usize::try_from(settings.server.max_body_bytes.get()).unwrap_or(usize::MAX),
        max_header_bytes: usize::try_from(settings.server.max_header_bytes.get())
            .unwrap_or(usize::MAX),
        body_timeout: settings.server.body_timeout(),
    };
    web::Data::new(AppState {
        registry: services.registry.clone(),
        bus: services.bus.clone(),
        signer: services.signer.clone(),
        guest_carts: services.guest_carts.clone(),
        admins: services.admins.clone(),
        cluster: services.cluster.clone(),
        metrics: Arc::new(Metrics::new()),
        cookie_secure: settings.auth.cookie_secure,
        trusted_proxies: settings.server.trusted_proxies.clone(),
        cors_origins: settings.server.cors_origins.clone(),
        metrics_apart,
        limits,
        catalogue: http::conditional::CatalogueAnswers::new(&settings.catalogue),
        overview: Default::default(),
        known_users: Default::default(),
    })
}

fn serve(
    listener: TcpListener,
    settings: &Settings,
    state: web::Data<AppState>,
) -> std::io::Result<Server> {
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        workers => workers,
    };
    // The factory runs on each worker's thread as it starts (again for a
    // worker the server restarts): the count tells the workers apart.
    let started_workers = Arc::new(AtomicUsize::new(0));
    let server = HttpServer::new(move || {
        let worker = started_workers.fetch_add(1, Ordering::Relaxed) % workers;
        state.registry.settle_on_worker(worker, workers);
        App::new()
            .wrap(http::cors::cors(&state.cors_origins))
            .wrap(from_fn(http::middleware::observe))
            .app_data(state.clone())
            .configure(http::configure)
    })
    .workers(workers)
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .listen(listener)?;
    Ok(server.run())
}

/// The metrics listener: one worker, and no signal handling of its own, as
/// `run_until_stopped` stops it after the main server.
fn serve_metrics(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(http::middleware::observe))
            .app_data(state.clone())
            .configure(http::ops::metrics_listener_routes)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?;
    Ok(server.run())
}
