//! HTTPS for the console (rustls on the ring provider, as the matcher's), and the listener
//! `axum::serve` takes connections from: a bounded number at once, the TLS handshakes done
//! off the accepting loop and cut off after [`HANDSHAKE_TIMEOUT`], a connection that moves no
//! byte for [`IDLE_TIMEOUT`] closed (`axum::serve` gives hyper no timer, so nothing else
//! would), so that slow or silent peers hold neither the loop nor unbounded memory for long.

use std::future::Future as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::session::Remote;

/// Connections served at once; past it the kernel's backlog holds new ones.
const MAX_CONNECTIONS: usize = 256;
/// From accepting a connection to the end of its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection through which no byte moved for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}", bidui_i18n::t!("console-tls-certificate", path = .path.display(), message = .message))]
    Certificate { path: PathBuf, message: String },
    #[error("{}", bidui_i18n::t!("console-tls-key", path = .path.display(), message = .message))]
    Key { path: PathBuf, message: String },
    #[error(
        "{}",
        bidui_i18n::t!("console-tls-mismatch", key = .key.display(), certificate = .certificate.display(), message = .message)
    )]
    Mismatch { certificate: PathBuf, key: PathBuf, message: String },
}

/// The certificate chain and private key (PEM files), e.g. from `bidui keys tls-cert`.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |message: String| TlsError::Certificate { path: path.to_owned(), message };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certificates.is_empty() {
        return Err(error(bidui_i18n::t!("console-tls-no-certificate")));
    }
    Ok(certificates)
}

/// TLS 1.3 and 1.2 with ring's default suites, HTTP/1.1.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates(&files.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError::Key { path: files.key.clone(), message: e.to_string() })?;
    let mismatch = |message: String| TlsError::Mismatch {
        certificate: files.certificate.clone(),
        key: files.key.clone(),
        message,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| mismatch(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A connection and its place among the [`MAX_CONNECTIONS`]: the place is given back when
/// the connection is dropped. Reading fails once no byte moved either way for
/// [`IDLE_TIMEOUT`].
pub struct Counted<S> {
    stream: S,
    _place: OwnedSemaphorePermit,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Counted<S> {
    pub fn new(stream: S, place: OwnedSemaphorePermit) -> Counted<S> {
        Counted { stream, _place: place, idle: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)) }
    }

    fn moved(&mut self) {
        self.idle.as_mut().reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(read) => {
                self.moved();
                Poll::Ready(read)
            }
            Poll::Pending if self.idle.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the connection was idle")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if written.is_ready() {
            self.moved();
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

type Stream = Counted<Box<dyn Io>>;

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connections ready for HTTP: accepted, counted, and through their handshake.
pub struct ConsoleListener {
    ready: mpsc::Receiver<(Stream, SocketAddr)>,
    local: SocketAddr,
}

impl ConsoleListener {
    /// Accepts on `listener`, over TLS when `tls` is given.
    pub fn new(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<ConsoleListener> {
        let local = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(16);
        let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        tokio::spawn(async move {
            loop {
                let Ok(place) = places.clone().acquire_owned().await else { return };
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        // Out of descriptors and the like: wait rather than spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (sender, acceptor) = (sender.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let stream: Box<dyn Io> = match acceptor {
                        None => Box::new(tcp),
                        Some(acceptor) => match handshake(acceptor, tcp).await {
                            Some(tls) => Box::new(tls),
                            None => return,
                        },
                    };
                    let _ = sender.send((Counted::new(stream, place), peer)).await;
                });
            }
        });
        Ok(ConsoleListener { ready, local })
    }
}

async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await.ok()?.ok()
}

impl axum::serve::Listener for ConsoleListener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Stream, SocketAddr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accepting task ended (it never does while the listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, ConsoleListener>> for Remote {
    fn connect_info(stream: IncomingStream<'_, ConsoleListener>) -> Remote {
        Remote(*stream.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test(start_paused = true)]
    async fn a_connection_idle_for_a_minute_is_closed_and_gives_its_place_back() {
        let places = Arc::new(Semaphore::new(1));
        let (mut peer, ours) = tokio::io::duplex(64);
        let mut counted = Counted::new(ours, places.clone().try_acquire_owned().unwrap());
        let mut byte = [0u8; 1];
        // Bytes that keep coming keep it open.
        for _ in 0..3 {
            tokio::time::advance(IDLE_TIMEOUT - Duration::from_secs(1)).await;
            peer.write_all(b"x").await.unwrap();
            counted.read_exact(&mut byte).await.unwrap();
        }
        let error = counted.read_exact(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(places.available_permits(), 0);
        drop(counted);
        assert_eq!(places.available_permits(), 1);
    }
}
