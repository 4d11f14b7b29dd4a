//! Accepting connections: hyper's HTTP/1 server, each socket behind a [`Guard`], with the
//! gateway's edge limits (header-read timeout, send timeout, head limits), and graceful
//! shutdown: when told to stop, the listener closes and every connection finishes the
//! request it is serving, then closes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::guard::{Guard, HeadLimits, Refusal, TOKEN_HEADER};
use super::{Gateway, dispatch};
use crate::config::ServerConfig;

/// The limits of the edge, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// From ready-for-a-request to the whole head received.
    pub header_timeout: Duration,
    /// Longest a response may wait for the client to read any of it.
    pub send_timeout: Duration,
    /// What a head must keep.
    pub head: HeadLimits,
}

impl EdgeLimits {
    /// The configured limits.
    pub fn new(server: &ServerConfig) -> EdgeLimits {
        EdgeLimits {
            header_timeout: crate::gateway::seconds_or_forever(server.header_timeout_seconds),
            send_timeout: crate::gateway::seconds_or_forever(server.send_timeout_seconds),
            head: HeadLimits {
                max_uri_bytes: server.max_uri_bytes,
                max_header_bytes: server.max_header_bytes,
                max_headers: server.max_headers,
            },
        }
    }
}

/// hyper's own read buffer limit: whatever the guard lets through must fit (a head of up to
/// `max_header_bytes`, and what follows it), so hyper never refuses a head first.
const HYPER_MIN_BUF: usize = 400 * 1024;

/// Serve `gw` on `listener` until `shutdown` resolves; then stop accepting and wait for every
/// connection to finish the request it serves.
pub async fn serve<F>(listener: TcpListener, gw: Arc<Gateway>, shutdown: F)
where
    F: Future<Output = ()>,
{
    let router = super::app(gw.clone());
    let limits = gw.edge;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let conn = connection(tcp, router.clone(), gw.clone(), limits, stopping.clone());
                    connections.spawn(conn);
                }
                Err(e) => {
                    // out of file descriptors, say: let some connections end first
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// One connection, from accept to close.
async fn connection(
    tcp: TcpStream,
    router: axum::Router,
    gw: Arc<Gateway>,
    limits: EdgeLimits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let guard = Guard::new(tcp, limits.head, limits.send_timeout);
    let service = ConnectionService {
        router,
        gw,
        token: guard.token(),
        refusals: guard.refusals(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.head.max_headers)
        .max_buf_size(HYPER_MIN_BUF.max(limits.head.max_header_bytes + 64 * 1024));
    let conn = builder.serve_connection(TokioIo::new(guard), service);
    tokio::pin!(conn);
    let mut stop_asked = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stopping.changed(), if !stop_asked => {
                stop_asked = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A connection's requests: the router's, or the answer to a head its guard refused.
#[derive(Clone)]
struct ConnectionService {
    router: axum::Router,
    gw: Arc<Gateway>,
    token: Arc<str>,
    refusals: Arc<Mutex<Option<Refusal>>>,
}

impl ConnectionService {
    /// The refusal this request stands for, if it is the guard's synthetic one.
    fn refusal(&self, req: &http::Request<Incoming>) -> Option<Refusal> {
        let is_synthetic = req
            .headers()
            .get(TOKEN_HEADER)
            .is_some_and(|v| v.as_bytes() == self.token.as_bytes());
        if !is_synthetic {
            return None;
        }
        self.refusals.lock().ok().and_then(|mut slot| slot.take())
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<http::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: http::Request<Incoming>) -> ResponseFuture {
        if let Some(refusal) = self.refusal(&req) {
            let gw = self.gw.clone();
            return Box::pin(async move { Ok(dispatch::refused_head(gw, refusal).await) });
        }
        let router = self.router.clone();
        Box::pin(router.oneshot(req.map(Body::new)))
    }
}
