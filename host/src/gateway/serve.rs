//! Serving a gateway (and its admin API, when `[admin] listen` is set) until a signal, then
//! stopping it gracefully: in-flight requests finish within the grace period while the
//! workers hand their jobs back.

use std::time::Duration;

use anyhow::Context;

use super::{build, spawn_background};
use crate::config::Config;

/// Serve until SIGINT or SIGTERM, then give in-flight requests `grace` to finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let built = build(&config).await?;
    let gw = built.gateway.clone();
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, plugins = gw.plugins.len(), "backup-gateway listening");
    let background = spawn_background(gw.clone(), &config);
    let stopping = background.stopping();
    let admin_addr = match config.admin.listen {
        Some(listen) => Some(serve_admin(listen, gw.clone(), stopping.clone()).await?),
        None => None,
    };
    if config.server.print_examples {
        crate::demo::print_examples(&config, &gw, addr, admin_addr);
    }
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = crate::http::serve(listener, gw, async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests, handing back jobs");
        // the workers wind down while the requests finish
        stopping.cancel();
        let _ = tx.send(());
    });
    tokio::select! {
        () = server => {}
        _ = async { let _ = rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("grace period over; exiting with requests still in flight");
        }
    }
    background.stop(grace).await;
    drop(built);
    Ok(())
}

/// Bind the admin listener and serve it until `stop`; its address.
async fn serve_admin(
    listen: std::net::SocketAddr,
    gw: std::sync::Arc<crate::gateway::Gateway>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<std::net::SocketAddr> {
    let admin = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the admin listener {listen}"))?;
    let addr = admin.local_addr()?;
    tracing::info!(%addr, "admin API listening");
    tokio::spawn(async move {
        if let Err(e) = crate::admin::serve(admin, gw, stop.cancelled_owned()).await {
            tracing::error!(error = %e, "admin listener failed");
        }
    });
    Ok(addr)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
