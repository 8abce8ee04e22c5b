//! An HTTP/1.1 proxy between the agents and the matcher that records every exchange —
//! who signed the request, what was asked, what came back — and can rewrite responses:
//! the test's stand-in for a dishonest matcher; or answer some requests itself with an
//! error, never forwarding them: a matcher away at that moment.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// One request and its response, as the proxy saw them (after any rewriting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// The `bidui-signer` header: which principal made the request.
    pub(crate) signer: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) request_body: Vec<u8>,
    pub(crate) status: u16,
    /// Response headers other than those a server stamps per response (`date`).
    pub(crate) response_headers: Vec<(String, String)>,
    pub(crate) response_body: Vec<u8>,
}

/// Given an exchange with the matcher's honest response and every exchange before it, a
/// replacement response body.
pub(crate) type Rewrite = Arc<RewriteFn>;
pub(crate) type RewriteFn = dyn Fn(&Exchange, &[Exchange]) -> Option<Vec<u8>> + Send + Sync;

/// Given a request's start line (`POST /v2/… HTTP/1.1`), whether to answer it `500` unsent.
pub(crate) type Refuse = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub(crate) struct Proxy {
    pub(crate) port: u16,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl Proxy {
    /// Forwards connections to `127.0.0.1:target`, recording and maybe rewriting.
    pub(crate) fn start(target: u16, rewrite: Option<Rewrite>) -> Proxy {
        Proxy::spawn(target, rewrite, None)
    }

    /// Forwards connections to `127.0.0.1:target`, answering what `refuse` picks itself.
    pub(crate) fn start_refusing(target: u16, refuse: Refuse) -> Proxy {
        Proxy::spawn(target, None, Some(refuse))
    }

    fn spawn(target: u16, rewrite: Option<Rewrite>, refuse: Option<Refuse>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let sink = exchanges.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (sink, rewrite, refuse) = (sink.clone(), rewrite.clone(), refuse.clone());
                thread::spawn(move || {
                    let _ = relay(client, server, &sink, rewrite.as_deref(), refuse.as_deref());
                });
            }
        });
        Proxy { port, exchanges }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().unwrap().clone()
    }
}

struct Message {
    start_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The message with `body` and a matching `content-length` (never chunked).
    fn encode(&self, body: &[u8]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start_line).into_bytes();
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("transfer-encoding") {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out
    }
}

/// Reads one HTTP/1.1 message; `None` at a clean end of the connection.
fn read_message(reader: &mut impl BufRead, bodyless: bool) -> std::io::Result<Option<Message>> {
    let mut start_line = String::new();
    if reader.read_line(&mut start_line)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut message = Message { start_line: start_line.trim_end().to_owned(), headers, body: Vec::new() };
    if bodyless {
        return Ok(Some(message));
    }
    if message.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).expect("a chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            message.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = message.header("content-length") {
        message.body = vec![0; length.parse().expect("a content length")];
        reader.read_exact(&mut message.body)?;
    }
    Ok(Some(message))
}

fn relay(
    client: TcpStream,
    mut server: TcpStream,
    sink: &Mutex<Vec<Exchange>>,
    rewrite: Option<&RewriteFn>,
    refuse: Option<&(dyn Fn(&str) -> bool + Send + Sync)>,
) -> std::io::Result<()> {
    let mut client_write = client.try_clone()?;
    let mut from_client = BufReader::new(client);
    let mut from_server = BufReader::new(server.try_clone()?);
    while let Some(request) = read_message(&mut from_client, false)? {
        if refuse.is_some_and(|refuse| refuse(&request.start_line)) {
            // Not transient (unlike 503): the client gives up at once rather than retrying.
            let body = br#"{"code":"internal","message":"refused by the test's proxy"}"#;
            let head = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            client_write.write_all(&[head.as_bytes(), body].concat())?;
            continue;
        }
        server.write_all(&request.encode(&request.body))?;
        let head = request.start_line.starts_with("HEAD ");
        let Some(response) = read_message(&mut from_server, head)? else { return Ok(()) };
        let mut parts = request.start_line.split(' ');
        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let status = response.start_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut exchange = Exchange {
            signer: request.header("bidui-signer").unwrap_or("").to_owned(),
            method,
            path,
            request_body: request.body.clone(),
            status,
            response_headers: response
                .headers
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
            response_body: response.body.clone(),
        };
        if let Some(rewrite) = rewrite {
            let history = sink.lock().unwrap();
            if let Some(body) = rewrite(&exchange, &history) {
                exchange.response_body = body;
            }
        }
        client_write.write_all(&response.encode(&exchange.response_body))?;
        sink.lock().unwrap().push(exchange);
    }
    let _ = server.shutdown(std::net::Shutdown::Write);
    Ok(())
}
