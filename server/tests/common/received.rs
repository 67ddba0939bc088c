//! Reading the requests an HTTP/1.1 client sends to a receiver on loopback (the webhook
//! tests and the webhook bench): shared so that the two read requests alike.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::BufRead;

/// The next request on a keep-alive connection: its headers (names lowercased) and body,
/// or `None` once the client has closed it.
pub fn next_request(reader: &mut impl BufRead) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Some((headers, body))
}
