//! Connections before they are requests: bounded in number, and shed when they do not
//! get to a request.
//!
//! `axum::serve` gives hyper no timer (so no header timeout applies) and accepts every
//! connection it can: at a 1,024 open-file limit, 1,100 slow TLS connections made the
//! matcher fail to accept with "Too many open files" and a legitimate request wait 54 s
//! (issue #11). This module serves instead:
//!
//! - at most [`Limits::max_connections`] connections at once, derived from the process's
//!   open-file limit, so `accept` never runs out of descriptors; beyond it the kernel's
//!   backlog holds new ones;
//! - a connection is *pending* until its TLS handshake is done and a whole request head has
//!   arrived, within [`Limits::head_timeout`]. Pending connections are capped at
//!   [`Limits::max_pending`]; past the cap, and whenever room is needed, the one pending
//!   longest is dropped. An honest client sends its request head at once, so it passes
//!   through while a crowd of slow or silent connections is shed oldest first;
//! - between requests on a kept-alive connection, hyper's header timeout (with a timer)
//!   closes it after [`Limits::idle_timeout`].
//!
//! Bodies are bounded after this, where the request's signature headers are known
//! (`auth::Verified`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify};
use tokio_rustls::TlsAcceptor;

/// File descriptors kept for the database, its WAL and shared memory, the log and the rest.
const RESERVED_FILES: usize = 64;
/// The longest request head read before hyper takes over (hyper's own limit is larger; a
/// head longer than this is handed over as is and hyper applies its limits).
const MAX_HEAD_PREFIX: usize = 16 * 1024;

/// How many connections are served, and for how long they may take to become requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_pending: usize,
    /// From accepting a connection to the end of its first request head (TLS handshake
    /// included).
    pub head_timeout: Duration,
    /// A kept-alive connection's wait for its next request head.
    pub idle_timeout: Duration,
}

impl Limits {
    /// Limits for a process that may open `open_files` files.
    pub fn for_open_files(open_files: usize) -> Limits {
        let max_connections = open_files.saturating_sub(RESERVED_FILES).clamp(16, 16_384);
        Limits {
            max_connections,
            max_pending: (max_connections / 4).max(8),
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    /// Limits for this process's open-file limit (the soft limit in `/proc/self/limits`;
    /// 1,024, a common service default, where it cannot be read).
    pub fn from_process() -> Limits {
        Limits::for_open_files(open_file_limit().unwrap_or(1024))
    }
}

/// The soft open-file limit, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

fn parse_open_file_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    match soft {
        "unlimited" => Some(usize::MAX),
        number => number.parse().ok(),
    }
}

/// The connections being served, and which of them are still pending, oldest first.
#[derive(Default)]
struct Tracker {
    state: Mutex<TrackerState>,
    freed: Notify,
}

#[derive(Default)]
struct TrackerState {
    next_id: u64,
    open: usize,
    /// Pending connections by arrival; sending on the channel drops that connection.
    pending: BTreeMap<u64, oneshot::Sender<()>>,
}

impl Tracker {
    fn open(&self) -> usize {
        self.state.lock().expect("tracker lock").open
    }

    /// Registers a newly accepted connection as pending; past `max_pending`, drops the one
    /// pending longest.
    fn admit(self: &Arc<Self>, max_pending: usize) -> (Slot, oneshot::Receiver<()>) {
        let (drop_it, dropped) = oneshot::channel();
        let mut state = self.state.lock().expect("tracker lock");
        let id = state.next_id;
        state.next_id += 1;
        state.open += 1;
        state.pending.insert(id, drop_it);
        if state.pending.len() > max_pending {
            if let Some((_, oldest)) = state.pending.pop_first() {
                let _ = oldest.send(());
            }
        }
        (Slot { tracker: Arc::clone(self), id }, dropped)
    }

    /// Drops the connection pending longest; false if none is pending.
    fn shed_oldest_pending(&self) -> bool {
        let oldest = self.state.lock().expect("tracker lock").pending.pop_first();
        match oldest {
            Some((_, oldest)) => {
                let _ = oldest.send(());
                true
            }
            None => false,
        }
    }
}

/// A connection's place among those served; freed when dropped.
struct Slot {
    tracker: Arc<Tracker>,
    id: u64,
}

impl Slot {
    /// The connection has sent a request head: it is no longer pending.
    fn became_request(&self) {
        self.tracker.state.lock().expect("tracker lock").pending.remove(&self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.tracker.state.lock().expect("tracker lock");
        state.pending.remove(&self.id);
        state.open -= 1;
        drop(state);
        self.tracker.freed.notify_one();
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) within `limits` until `shutdown`
/// resolves; then stops accepting and lets open requests finish for a few seconds.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let tls = tls.map(TlsAcceptor::from);
    let tracker = Arc::new(Tracker::default());
    let (stopping, stop) = watch::channel(false);
    let accepting = async {
        loop {
            // Never accept past the cap: make room by shedding a pending connection, or
            // wait for one to close while the kernel's backlog holds the newcomers.
            // One connection shed per slot needed: it frees its slot once its task has
            // seen the signal, and shedding more meanwhile would drop newcomers too.
            while tracker.open() >= limits.max_connections {
                tracker.shed_oldest_pending();
                tracker.freed.notified().await;
            }
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: shed and wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tracker.shed_oldest_pending();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (slot, dropped) = tracker.admit(limits.max_pending);
            let connection = Connection { tls: tls.clone(), app: app.clone(), limits, stop: stop.clone() };
            tokio::spawn(connection.run(stream, peer, slot, dropped));
        }
    };
    tokio::select! {
        () = accepting => {}
        () = shutdown => {}
    }
    let _ = stopping.send(true);
    // Requests under way get a few seconds to finish.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tracker.open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Connection {
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr, slot: Slot, dropped: oneshot::Receiver<()>) {
        let _ = stream.set_nodelay(true);
        let head = tokio::time::timeout(self.limits.head_timeout, first_request_head(stream, self.tls.as_ref()));
        let (io, prefix) = tokio::select! {
            _ = dropped => {
                tracing::debug!(%peer, "dropped a connection pending longest to make room");
                return;
            }
            head = head => match head {
                Ok(Ok(Some(ready))) => ready,
                Ok(Ok(None)) => return,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "connection closed before its first request");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "no request head in time");
                    return;
                }
            },
        };
        slot.became_request();
        let service = TowerToHyperService::new(self.app);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(self.limits.idle_timeout).keep_alive(true);
        let connection = http.serve_connection(TokioIo::new(Prefixed { prefix, at: 0, inner: io }), service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            }
            () = async { drop(self.stop.wait_for(|stopping| *stopping).await) } => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
        drop(slot);
    }
}

/// Either side of the port: plain TCP (loopback tests) or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Completes the TLS handshake, if any, and reads until the end of the first request head
/// (or [`MAX_HEAD_PREFIX`] bytes). `None` when the connection closed, or spoke plain HTTP
/// to the HTTPS port and was answered.
async fn first_request_head(
    stream: TcpStream,
    tls: Option<&TlsAcceptor>,
) -> std::io::Result<Option<(Stream, Vec<u8>)>> {
    let mut stream = match tls {
        None => Stream::Plain(stream),
        Some(acceptor) => match crate::tls::handshake(stream, acceptor).await? {
            Some(tls) => Stream::Tls(Box::new(tls)),
            None => return Ok(None),
        },
    };
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 4096];
    loop {
        let n = match &mut stream {
            Stream::Plain(s) => s.read(&mut buffer).await?,
            Stream::Tls(s) => s.read(&mut buffer).await?,
        };
        if n == 0 {
            return Ok(None);
        }
        // The head ends at the first blank line; search only where it can have begun.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buffer[..n]);
        if head[from..].windows(4).any(|w| w == b"\r\n\r\n") || head.len() >= MAX_HEAD_PREFIX {
            return Ok(Some((stream, head)));
        }
    }
}

/// A stream whose first bytes were already read: they are read again first.
struct Prefixed {
    prefix: Vec<u8>,
    at: usize,
    inner: Stream,
}

impl AsyncRead for Prefixed {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = (this.prefix.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        match &mut this.inner {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match &mut self.get_mut().inner {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().inner {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().inner {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_open_file_limit() {
        let limits = Limits::for_open_files(1024);
        assert_eq!((limits.max_connections, limits.max_pending), (960, 240));
        assert_eq!(Limits::for_open_files(20).max_connections, 16, "a floor to serve at all");
        assert_eq!(Limits::for_open_files(usize::MAX).max_connections, 16_384);
    }

    #[test]
    fn the_soft_open_file_limit_is_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_file_limit(limits), Some(1024));
        assert_eq!(parse_open_file_limit("Max open files  unlimited  unlimited  files"), Some(usize::MAX));
        assert_eq!(parse_open_file_limit("nothing here"), None);
        assert!(open_file_limit().is_some(), "Linux has /proc/self/limits");
    }

    #[tokio::test]
    async fn past_the_cap_the_connection_pending_longest_is_dropped() {
        let tracker = Arc::new(Tracker::default());
        let (first, mut first_dropped) = tracker.admit(2);
        let (second, mut second_dropped) = tracker.admit(2);
        second.became_request();
        let (_third, _) = tracker.admit(2);
        assert!(first_dropped.try_recv().is_err(), "two pending fit");
        let (_fourth, _) = tracker.admit(2);
        assert!(first_dropped.try_recv().is_ok(), "the oldest pending goes");
        assert!(second_dropped.try_recv().is_err(), "a connection with a request is never shed");
        assert_eq!(tracker.open(), 4);
        drop((first, second));
        assert_eq!(tracker.open(), 2);
        assert!(tracker.shed_oldest_pending());
        assert!(tracker.shed_oldest_pending());
        assert!(!tracker.shed_oldest_pending(), "nothing left pending");
    }
}
