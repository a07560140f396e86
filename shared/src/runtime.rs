//! `serve(function)`: one binary, three ways to run.
//!
//! - Cloud Run service (default): axum on hyper bound to `0.0.0.0:$PORT`; on SIGTERM/SIGINT it
//!   stops accepting, lets in-flight requests finish within the grace period (8 s: Cloud Run
//!   kills at 10 s), then flushes the publisher and closes the pool.
//! - Cloud Run job execution (`CLOUD_RUN_JOB` set): runs a job function once and exits 0/1.
//! - AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set): the same router through `lambda_http`.
//!
//! Nothing before binding touches the network: the pool and the Pub/Sub client connect lazily.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Platform};
use crate::function::Function;
use crate::state::AppState;
use crate::{http, telemetry};

/// The entry point of every function binary: `fn main() -> ExitCode { serve(my::function()) }`.
pub fn serve(function: Function) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            // Logging is not set up yet; this is the one message a misconfigured start gives.
            eprintln!("{}: configuration error: {err}", function.name());
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{}: cannot start the async runtime: {err}", function.name());
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(function, config))
}

/// Runs `function` on the platform `config` names.
pub async fn run(function: Function, config: Config) -> ExitCode {
    telemetry::init(&config, function.name());
    let platform = config.platform;
    let state = match AppState::from_config(config) {
        Ok(state) => state,
        Err(err) => {
            tracing::error!(function = function.name(), error = %err, "configuration error");
            return ExitCode::from(2);
        }
    };
    let code = match platform {
        Platform::CloudRun => serve_cloud_run(&function, state.clone()).await,
        Platform::CloudRunJob => run_job_once(&function, state.clone()).await,
        Platform::Lambda => serve_lambda(&function, state.clone()).await,
    };
    state.close().await;
    code
}

async fn serve_cloud_run(function: &Function, state: AppState) -> ExitCode {
    let config = state.config().clone();
    let address = SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(%address, error = %err, "cannot bind");
            return ExitCode::from(1);
        }
    };
    tracing::info!(function = function.name(), %address, "listening");
    let app = http::app(function.router(), state);
    match serve_until(listener, app, shutdown_signal(), config.shutdown_grace).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::from(1)
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains: no new connections are
/// accepted, in-flight requests get up to `grace` to finish.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let draining = CancellationToken::new();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(draining.clone().cancelled_owned());
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = server.as_mut() => return result,
        () = shutdown => {}
    }
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "shutting down: no new connections, draining in-flight requests"
    );
    draining.cancel();
    if let Ok(result) = tokio::time::timeout(grace, server).await {
        result
    } else {
        tracing::warn!("drain deadline passed; cutting the remaining requests");
        Ok(())
    }
}

/// Resolves on SIGTERM (Cloud Run's stop signal) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn run_job_once(function: &Function, state: AppState) -> ExitCode {
    let started = std::time::Instant::now();
    match function.run_job(state).await {
        Ok(report) => {
            tracing::info!(
                function = function.name(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                report = %report,
                "job finished"
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(function = function.name(), error = %err, "job failed");
            ExitCode::from(1)
        }
    }
}

async fn serve_lambda(function: &Function, state: AppState) -> ExitCode {
    let app = http::app(function.router(), state);
    match lambda_http::run(app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "lambda runtime failed");
            ExitCode::from(1)
        }
    }
}
