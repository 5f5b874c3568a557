//! Hostile servers for the fault tests, on loopback: a TCP proxy in front
//! of a real server that can be switched, while running, to refuse, hang,
//! freeze the connections it carries (half-open: nothing relayed, nothing
//! closed, new connections still relayed), or answer by itself with an HTTP
//! status, garbage, an empty page, or an endless body. No network admin
//! rights needed: it is all user space.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Relays both ways.
    Relay,
    /// Closes every new connection at once; carried ones are cut.
    Down,
    /// Accepts and never answers; carried ones stop relaying.
    Hang,
    /// Carried connections stop relaying (nothing closed); new ones relay.
    HalfOpen,
    /// Answers HTTP itself: this status, this content type, this body.
    Http(u16, &'static str, String),
    /// Answers bytes that are no protocol at all.
    Garbage,
    /// Answers 200 with a body that never ends.
    Endless,
    /// Answers, as soon as a client connects, these bytes and then filler
    /// without end: the head of a reply announcing gigabytes (a RESP bulk
    /// string, a PostgreSQL message), then the gigabytes.
    Flood(&'static [u8]),
}

/// A proxy on 127.0.0.1 in front of `upstream`; its mode can be changed
/// while it runs. Stops when dropped.
pub struct Proxy {
    /// Where to connect to reach the upstream through the proxy.
    pub addr: SocketAddr,
    mode: watch::Sender<(Mode, u64)>,
    generation: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy relaying to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (mode, watching) = watch::channel((Mode::Relay, 0u64));
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let watching = watching.clone();
                tokio::spawn(serve(client, upstream, watching));
            }
        });
        Proxy {
            addr,
            mode,
            generation: Arc::new(Mutex::new(0)),
            task,
        }
    }

    /// Switches the proxy to `mode`.
    pub fn set(&self, mode: Mode) {
        let g = {
            let mut g = self.generation.lock().expect("lock");
            *g += 1;
            *g
        };
        let _ = self.mode.send((mode, g));
    }

    /// The proxy's URL with `scheme`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection through the proxy.
async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<(Mode, u64)>,
) {
    let (now, born) = mode.borrow().clone();
    match now {
        Mode::Down => return,
        Mode::Hang => {
            // Held open, never answered, until the proxy goes.
            let _ = mode.changed().await;
            std::future::pending::<()>().await;
        }
        Mode::Http(status, kind, body) => {
            let _ = read_request(&mut client).await;
            let head = format!(
                "HTTP/1.1 {status} Whatever\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = client.write_all(head.as_bytes()).await;
            let _ = client.write_all(body.as_bytes()).await;
            return;
        }
        Mode::Garbage => {
            let _ = client
                .write_all(b"\x00\x01\x02 this is no protocol at all \xff\xfe\r\n\r\n")
                .await;
            let _ = read_request(&mut client).await;
            return;
        }
        Mode::Endless => {
            let _ = read_request(&mut client).await;
            let _ = client
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n")
                .await;
            let chunk = vec![b'#'; 64 << 10];
            while client.write_all(&chunk).await.is_ok() {}
            return;
        }
        Mode::Flood(head) => {
            let _ = client.write_all(head).await;
            let chunk = vec![b'x'; 64 << 10];
            while client.write_all(&chunk).await.is_ok() {}
            return;
        }
        Mode::Relay | Mode::HalfOpen => {}
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut up = [0u8; 16 << 10];
    let mut down = [0u8; 16 << 10];
    loop {
        // The mode is looked at first: bytes read after a switch are not
        // relayed, whatever order the reads and the switch were woken in.
        tokio::select! {
            biased;
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                let (m, g) = mode.borrow().clone();
                match m {
                    Mode::Relay => {}
                    // Frozen: neither relayed nor closed, whatever comes next.
                    Mode::HalfOpen | Mode::Hang if g > born => {
                        let _keep = (cr, cw, sr, sw);
                        std::future::pending::<()>().await;
                        return;
                    }
                    _ => return,
                }
            }
            n = cr.read(&mut up) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if sw.write_all(&up[..n]).await.is_err() { return },
            },
            n = sr.read(&mut down) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if !relaying(&mode, born) {
                        return;
                    }
                    if cw.write_all(&down[..n]).await.is_err() { return }
                }
            },
        }
    }
}

/// Whether a connection born at generation `born` still relays: the
/// proxy has not been switched since, or has been switched back to relay.
fn relaying(mode: &watch::Receiver<(Mode, u64)>, born: u64) -> bool {
    let now = mode.borrow();
    now.1 == born || matches!(now.0, Mode::Relay)
}

/// Reads what looks like an HTTP request head (or whatever comes first).
async fn read_request(client: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 64 << 10 {
        match tokio::time::timeout(std::time::Duration::from_secs(2), client.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}
