//! The relay served on loopback inside a benchmark's process (included by each with
//! `#[path]`): its own two-thread runtime, which lives as long as the caller keeps it.

use std::net::SocketAddr;

/// Serves `app` on a free port of 127.0.0.1; returns the runtime serving it and its address.
pub fn serve(app: axum::Router) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    (runtime, addr)
}
