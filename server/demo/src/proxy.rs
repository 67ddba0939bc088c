//! A TCP proxy on loopback between a device and the server: it counts the bytes that cross
//! it (headers included), can cut the next connection after a number of bytes (a 2G link
//! dropping in the middle of a sync), and can pace bytes to a bandwidth with a one-way
//! latency (a throttled link). The demo puts one in front of every device; the tests use
//! it for cut and slow links.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How the link behind a proxy behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    /// Bytes per second in each direction; `None` passes bytes as fast as they come.
    pub bytes_per_sec: Option<u64>,
    /// Delay added to every byte in each direction (only with a bandwidth).
    pub latency: Duration,
}

impl Link {
    /// A 2G-like link: `kbit` kilobits per second each way, `latency_ms` one-way delay.
    pub fn throttled(kbit: u64, latency_ms: u64) -> Link {
        Link { bytes_per_sec: Some((kbit * 1000 / 8).max(1)), latency: Duration::from_millis(latency_ms) }
    }
}

/// A running proxy; it stops accepting when dropped (connections in flight finish).
#[derive(Debug)]
pub struct Proxy {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    bytes: AtomicU64,
    uploaded: AtomicU64,
    cut_next: AtomicUsize,
    cuts: AtomicUsize,
    stop: AtomicBool,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `target`.
    pub fn start(target: SocketAddr, link: Link) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = shared.clone();
        thread::Builder::new().name("proxy-accept".into()).spawn(move || {
            for client in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let limit = accept.cut_next.swap(0, Ordering::SeqCst) as u64;
                let _ = connect(client, upstream, accept.clone(), limit, link);
            }
        })?;
        Ok(Proxy { url: format!("http://{addr}"), addr, shared })
    }

    /// The proxy's base URL, for a device to sync through.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every byte that crossed the proxy so far, both directions.
    pub fn bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::SeqCst)
    }

    /// Of those, the bytes from the device to the server (requests).
    pub fn uploaded(&self) -> u64 {
        self.shared.uploaded.load(Ordering::SeqCst)
    }

    /// Cuts the next connection once `bytes` have crossed it (both directions together).
    pub fn cut_next_after(&self, bytes: usize) {
        self.shared.cut_next.store(bytes.max(1), Ordering::SeqCst);
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One proxied connection: a pump per direction sharing the connection's byte count.
fn connect(client: TcpStream, upstream: TcpStream, shared: Arc<Shared>, limit: u64, link: Link) -> io::Result<()> {
    let total = Arc::new(AtomicU64::new(0));
    let ends = [client.try_clone()?, upstream.try_clone()?];
    let ends = Arc::new(ends);
    for (upload, from, to) in [(true, client.try_clone()?, upstream.try_clone()?), (false, upstream, client)] {
        let pump = Pump { shared: shared.clone(), total: total.clone(), limit, ends: ends.clone(), link, upload };
        thread::Builder::new().name("proxy-pump".into()).spawn(move || pump.run(from, to))?;
    }
    Ok(())
}

struct Pump {
    shared: Arc<Shared>,
    total: Arc<AtomicU64>,
    limit: u64,
    ends: Arc<[TcpStream; 2]>,
    link: Link,
    /// Whether this pump carries the device's requests.
    upload: bool,
}

impl Pump {
    fn count(&self, n: u64) {
        self.shared.bytes.fetch_add(n, Ordering::SeqCst);
        if self.upload {
            self.shared.uploaded.fetch_add(n, Ordering::SeqCst);
        }
    }

    fn run(self, mut from: TcpStream, to: TcpStream) {
        // A paced link is read in its pacing slices, and holds what its latency keeps in
        // flight (bandwidth × latency), no more: the sender waits as it would on a real slow
        // link, and a cut loses what was in flight, not everything it had written.
        let mut read_size = 16384;
        let (tx, deliver) = match self.link.bytes_per_sec {
            Some(rate) => {
                let slice = pacing_slice(rate);
                read_size = slice;
                let in_flight = (rate as f64 * self.link.latency.as_secs_f64() / slice as f64).ceil() as usize + 1;
                let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(in_flight);
                let latency = self.link.latency;
                let handle =
                    thread::Builder::new().name("proxy-pace".into()).spawn(move || pace(rx, to, rate, latency)).ok();
                (Some(tx), Sink::Paced(handle))
            }
            None => (None, Sink::Direct(to)),
        };
        let mut sink = deliver;
        let mut buf = vec![0u8; read_size];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let before = self.total.fetch_add(n as u64, Ordering::SeqCst);
            if self.limit > 0 && before + n as u64 > self.limit {
                // The link drops: both ends see the connection die mid-message.
                let pass = (self.limit.saturating_sub(before)) as usize;
                self.count(pass as u64);
                if let Sink::Direct(to) = &mut sink {
                    let _ = to.write_all(&buf[..pass]);
                }
                self.shared.cuts.fetch_add(1, Ordering::SeqCst);
                for end in self.ends.iter() {
                    let _ = end.shutdown(Shutdown::Both);
                }
                return;
            }
            self.count(n as u64);
            let sent = match (&mut sink, &tx) {
                (Sink::Direct(to), _) => to.write_all(&buf[..n]).is_ok(),
                (Sink::Paced(_), Some(tx)) => tx.send((Instant::now(), buf[..n].to_vec())).is_ok(),
                (Sink::Paced(_), None) => false,
            };
            if !sent {
                break;
            }
        }
        drop(tx);
        match sink {
            Sink::Direct(to) => {
                let _ = to.shutdown(Shutdown::Write);
            }
            Sink::Paced(Some(handle)) => {
                let _ = handle.join();
            }
            Sink::Paced(None) => {}
        }
    }
}

enum Sink {
    Direct(TcpStream),
    Paced(Option<thread::JoinHandle<()>>),
}

/// Slices of about 1/50 s of the bandwidth keep the pacing smooth.
fn pacing_slice(rate: u64) -> usize {
    (rate / 50).clamp(64, 16384) as usize
}

/// Delivers each chunk `latency` after it arrived, at most `rate` bytes per second.
fn pace(rx: mpsc::Receiver<(Instant, Vec<u8>)>, mut to: TcpStream, rate: u64, latency: Duration) {
    let slice = pacing_slice(rate);
    for (arrived, bytes) in rx {
        let due = arrived + latency;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        for part in bytes.chunks(slice) {
            if to.write_all(part).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs_f64(part.len() as f64 / rate as f64));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// A server that answers every connection with `reply` bytes, after reading 4 bytes.
    fn replier(reply: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                thread::spawn(move || {
                    let mut ask = [0u8; 4];
                    let _ = stream.read_exact(&mut ask);
                    let _ = stream.write_all(&vec![7u8; reply]);
                });
            }
        });
        addr
    }

    fn fetch(proxy: &Proxy) -> usize {
        let mut stream = TcpStream::connect(proxy.addr).unwrap();
        stream.write_all(b"ask?").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        got.len()
    }

    #[test]
    fn counts_cuts_once_then_passes() {
        let proxy = Proxy::start(replier(10_000), Link::default()).unwrap();
        proxy.cut_next_after(1000);
        assert!(fetch(&proxy) < 1000, "the first connection is cut");
        assert_eq!(proxy.cuts(), 1);
        assert_eq!(fetch(&proxy), 10_000, "the next one passes whole");
        assert!(proxy.bytes() >= 10_004 && proxy.bytes() <= 11_004, "{}", proxy.bytes());
        assert_eq!(proxy.uploaded(), 8);
    }

    #[test]
    fn paces_to_the_bandwidth_after_the_latency() {
        // 80 kbit/s = 10,000 B/s: 3,000 bytes take 0.3 s, plus 2 × 100 ms of latency.
        let proxy = Proxy::start(replier(3000), Link::throttled(80, 100)).unwrap();
        let started = Instant::now();
        assert_eq!(fetch(&proxy), 3000);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
}
