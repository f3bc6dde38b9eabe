//! The operator's HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (the process serves) and
//! `/readyz` (the operator is started and has reached the apiserver, with the resources it watches
//! and the rights to list them, within the readiness grace period). Input: a bound
//! listener and the shared [`Health`] and [`Metrics`]. Output: HTTP/1 responses until shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Liveness and readiness, flipped by the controller.
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    grace: Duration,
    failing_since: Mutex<Option<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Health {
    /// Health whose readiness turns false once the apiserver checks have failed for `grace`.
    #[must_use]
    pub fn new(grace: Duration) -> Self {
        Self {
            ready: AtomicBool::new(false),
            grace,
            failing_since: Mutex::new(None),
        }
    }

    /// Marks the operator ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Records a check of the apiserver and the watched resources: `true` when it succeeded.
    pub fn checked(&self, ok: bool) {
        let mut since = self
            .failing_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (ok, *since) {
            (true, _) => *since = None,
            (false, None) => *since = Some(Instant::now()),
            (false, Some(_)) => {}
        }
    }

    /// Whether the operator is ready: started, and the checks have not failed for the grace period.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        let failing = self
            .failing_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|t| t.elapsed() >= self.grace);
        self.ready.load(Ordering::Relaxed) && !failing
    }
}

/// Why the HTTP endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listen address could not be bound.
    #[error("failed to bind the metrics address {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
}

/// Binds the listen address (use port 0 for a free port; `local_addr` tells which).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, HttpError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    with_body(status, content_type, Full::new(body.into()).boxed())
}

/// Every response's body: whole, or the metrics exposition in pieces.
type Body = BoxBody<Bytes, Infallible>;

fn with_body(status: StatusCode, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

async fn route(req: &Request<Incoming>, health: &Health, metrics: Arc<Metrics>) -> Response<Body> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, "method not allowed\n");
    }
    match req.uri().path() {
        // Rendering a large registry takes CPU time: off the async workers, so that reconciles and
        // probes are not stalled by a scrape.
        // The exposition goes out in pieces shared with the store: no copy of it is made.
        "/metrics" => match tokio::task::spawn_blocking(move || metrics.render_chunks()).await {
            Ok(Ok(chunks)) => with_body(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                StreamBody::new(futures::stream::iter(
                    chunks
                        .into_iter()
                        .map(|c| Ok::<_, Infallible>(Frame::data(c))),
                ))
                .boxed(),
            ),
            Ok(Err(err)) => respond(StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("{err}\n")),
            Err(err) => respond(StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("{err}\n")),
        },
        "/healthz" => respond(StatusCode::OK, TEXT, "ok\n"),
        "/readyz" if health.is_ready() => respond(StatusCode::OK, TEXT, "ready\n"),
        "/readyz" => respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, "not ready\n"),
        _ => respond(StatusCode::NOT_FOUND, TEXT, "not found\n"),
    }
}

/// Serves until `shutdown` completes; connections in progress finish on their own tasks.
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(error = %err, "metrics listener failed to accept");
                continue;
            }
        };
        let (health, metrics) = (Arc::clone(&health), Arc::clone(&metrics));
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (health, metrics) = (Arc::clone(&health), Arc::clone(&metrics));
                async move { Ok::<_, Infallible>(route(&req, &health, metrics).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "metrics connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn health_readiness_and_metrics_are_served() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let health = Arc::new(Health::default());
        let metrics = Arc::new(Metrics::new().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&health), metrics, async {
            let _ = stopped.await;
        }));
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503"));
        health.set_ready(true);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        let metrics = get(addr, "/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200"));
        assert!(
            metrics.contains("tlsaudit_build_info{version="),
            "{metrics}"
        );
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        stop.send(()).unwrap();
        server.await.unwrap();
    }
}
