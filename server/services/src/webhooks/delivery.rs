//! Delivering webhooks: each due delivery is posted as JSON, signed with an HMAC-SHA256 of
//! its body under the target's key, and recorded; a target that does not answer 2xx is
//! tried again later, waiting twice as long each time, until the attempts run out. The
//! outbox is in the database, so a restart loses nothing, and the same body and event id
//! go out on every attempt, so a receiver recognises a delivery it already has.
//!
//! Deliveries run on their own thread ([`WebhookWorker`]), never on a request's: a slow
//! or failing target slows only its own deliveries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use terrain_backend::{Attempt, DueDelivery};

use crate::Services;
use crate::error::{Error, Result};
use crate::settings::WebhookLimits;

/// Deliveries attempted per pass.
const PER_PASS: u32 = 64;
/// The pause between passes when there is nothing to do.
const IDLE: Duration = Duration::from_millis(200);
/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The signature header's value for `body` under `secret`: `sha256=` and the HMAC in hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", terrain_core::hex::encode(&tag))
}

/// How long to wait after the `attempts`-th failed attempt.
pub fn backoff(limits: &WebhookLimits, attempts: u32) -> Duration {
    limits.first_retry.saturating_mul(1u32 << attempts.saturating_sub(1).min(20)).min(MAX_WAIT)
}

/// The HTTP client deliveries are made with: no redirects (a moved target is a failure to
/// fix, not to follow), a deadline per delivery.
pub fn client(limits: &WebhookLimits) -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .timeout(limits.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("terrain-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::internal)
}

impl Services {
    /// Attempts the deliveries due now; returns how many were attempted.
    pub fn deliver_due(&self, client: &reqwest::blocking::Client) -> Result<usize> {
        let due = self.backend.due_deliveries(Utc::now(), PER_PASS)?;
        let mut failing: Vec<String> = Vec::new();
        let mut attempted = 0;
        for delivery in &due {
            // One failed attempt per target per pass: a target that is down is not sent the
            // rest of its queue to fail one after the other.
            if failing.contains(&delivery.url) {
                continue;
            }
            let (status, error) = post(client, delivery);
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            if !delivered {
                failing.push(delivery.url.clone());
            }
            let limits = &self.settings.webhooks;
            let made = delivery.attempts + 1;
            let retry_at = (!delivered && made < limits.max_attempts).then(|| {
                Utc::now() + chrono::Duration::from_std(backoff(limits, made)).unwrap_or(chrono::Duration::hours(1))
            });
            if !delivered {
                tracing::info!(url = %delivery.url, event = %delivery.event_id, ?status, error = ?error,
                    attempts = made, "webhook delivery failed; will retry unless out of attempts");
            }
            self.backend.record_attempt(&Attempt {
                id: delivery.id,
                status,
                error: error.as_deref(),
                delivered,
                retry_at,
            })?;
            attempted += 1;
        }
        Ok(attempted)
    }
}

/// Posts one delivery: the target's status, or why there was none.
fn post(client: &reqwest::blocking::Client, d: &DueDelivery) -> (Option<u16>, Option<String>) {
    let sent = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("terrain-event", &d.event)
        .header("terrain-event-id", &d.event_id)
        .header("terrain-signature", signature(&d.secret, d.body.as_bytes()))
        .body(d.body.clone())
        .send();
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let error = (!response.status().is_success()).then(|| format!("the target answered HTTP {status}"));
            (Some(status), error)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

/// The thread that turns the change feed into events and delivers them, until dropped.
#[derive(Debug)]
pub struct WebhookWorker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookWorker {
    /// Starts the worker for `services`.
    pub fn start(services: Arc<Services>) -> Result<WebhookWorker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("terrain-webhooks".into())
            .spawn(move || {
                // Made on this thread: the blocking client runs a runtime of its own, which
                // may be neither made nor dropped on an async one.
                let client = match client(&services.settings.webhooks) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(error = %e, "webhooks: no HTTP client; nothing will be delivered");
                        return;
                    }
                };
                while !flag.load(Ordering::Relaxed) {
                    let busy = match services.dispatch_events().and_then(|n| Ok((n, services.deliver_due(&client)?))) {
                        Ok((seen, attempted)) => seen > 0 || attempted > 0,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhooks: a pass failed; will retry");
                            false
                        }
                    };
                    if !busy {
                        std::thread::sleep(IDLE);
                    }
                }
            })
            .map_err(Error::internal)?;
        Ok(WebhookWorker { stop, thread: Some(thread) })
    }
}

impl Drop for WebhookWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour() {
        let limits = WebhookLimits { first_retry: Duration::from_secs(10), ..WebhookLimits::default() };
        let waits: Vec<u64> = (1..=4).map(|n| backoff(&limits, n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80]);
        assert_eq!(backoff(&limits, 30), MAX_WAIT);
    }
}
