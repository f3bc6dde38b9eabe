//! A TCP relay on 127.0.0.1 in front of the test apiserver, for one operator's client: the test
//! can freeze it (a network partition: nothing passes either way, connections stay open, and what
//! was held passes when it heals) or cut it (the apiserver is gone: every connection is closed and
//! new ones are closed at once, until it is restored).
//!
//! It also counts the connections it accepted, so a test can put it in front of a TLS server and
//! count a probe's connections there.
//!
//! Input: the apiserver's address (from KUBECONFIG). Output: a [`Relay`] and a client [`Config`]
//! that reaches the apiserver through it (the apiserver's certificate names 127.0.0.1, so TLS
//! verification holds).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kube::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the relay does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards.
    Open,
    /// Holds everything (a partition).
    Frozen,
    /// Closes everything (the apiserver went away).
    Cut,
}

/// A running relay; it stops with the test's runtime.
pub struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    /// Starts relaying 127.0.0.1:<free port> → `upstream` (a loopback address).
    pub async fn start(upstream: SocketAddr) -> Self {
        assert!(upstream.ip().is_loopback(), "relay to loopback only");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let (mode, watching) = watch::channel(Mode::Open);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let Ok((downstream, _)) = listener.accept().await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let watching = watching.clone();
                tokio::spawn(connection(downstream, upstream, watching));
            }
        });
        Self {
            addr,
            mode,
            accepted,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The relay's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the mode.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// `config` with its apiserver URL pointing at the relay.
    pub fn config(&self, mut config: Config) -> Config {
        config.cluster_url = format!("https://{}", self.addr).parse().expect("relay URL");
        config
    }
}

/// The address of the apiserver of `config` (https://127.0.0.1:PORT).
pub fn upstream(config: &Config) -> SocketAddr {
    let authority = config
        .cluster_url
        .authority()
        .expect("apiserver URL has an authority");
    authority.as_str().parse().expect("apiserver at ip:port")
}

/// Waits until the mode is not `Frozen`; returns false when it is `Cut`.
async fn passable(mode: &mut watch::Receiver<Mode>) -> bool {
    match mode.wait_for(|m| *m != Mode::Frozen).await {
        Ok(m) => *m == Mode::Open,
        Err(_) => false,
    }
}

async fn connection(downstream: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    if !passable(&mut mode).await {
        return;
    }
    let Ok(upstream) = TcpStream::connect(upstream).await else {
        return;
    };
    let (down_read, down_write) = downstream.into_split();
    let (up_read, up_write) = upstream.into_split();
    let cut = {
        let mut mode = mode.clone();
        async move {
            let _ = mode.wait_for(|m| *m == Mode::Cut).await;
        }
    };
    tokio::select! {
        () = pump(down_read, up_write, mode.clone()) => {}
        () = pump(up_read, down_write, mode.clone()) => {}
        () = cut => {}
    }
}

/// Copies `from` → `to`, holding data while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !passable(&mut mode).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
