//! Behind a reverse proxy that terminates TLS (`terrain serve --behind-proxy`), every
//! connection comes from the proxy: the client's address (which login throttling counts)
//! and whether it used HTTPS (which decides HSTS and `Secure` cookies) are in the
//! `X-Forwarded-For` and `X-Forwarded-Proto` headers the proxy adds. They are believed only
//! from the proxies [`Settings::trusted_proxies`] names: from anyone else they are a client's
//! claim, and ignored.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use super::{ClientAddr, Scheme, Settings};

/// The client as the proxy saw it: the last address of the last `X-Forwarded-For` (the one
/// the trusted proxy appended; those before it are the client's own claims), and the
/// scheme of `X-Forwarded-Proto`.
fn reported(headers: &HeaderMap) -> (Option<IpAddr>, Option<Scheme>) {
    let ip = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    let scheme = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).and_then(|v| {
        match v.trim().to_ascii_lowercase().as_str() {
            "https" => Some(Scheme::Https),
            "http" => Some(Scheme::Http),
            _ => None,
        }
    });
    (ip, scheme)
}

/// Replaces the connection's address and scheme with the trusted proxy's report.
pub async fn apply(State(settings): State<Arc<Settings>>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ClientAddr>().map(|a| a.0);
    if let Some(peer) = peer
        && settings.trusted_proxies.contains(&peer.ip())
    {
        let (ip, scheme) = reported(request.headers());
        if let Some(ip) = ip {
            request.extensions_mut().insert(ClientAddr(SocketAddr::new(ip, 0)));
        }
        if let Some(scheme) = scheme {
            request.extensions_mut().insert(scheme);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_proxy_s_own_entry_is_the_last() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1, 2.2.2.2"));
        headers.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert_eq!(reported(&headers), (Some("203.0.113.7".parse().unwrap()), Some(Scheme::Https)));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("not an address"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("gopher"));
        assert_eq!(reported(&headers), (None, None));
    }
}
