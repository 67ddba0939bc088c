//! What the rules allow, in one place: token lifetimes, the budgets that bound what bytes
//! from outside may cost, list lengths, and the throttles on logins and requests. Every
//! figure has a default sized for a field pilot on a small server; the operator can lower
//! (or, for throttles, raise) them.

use std::time::Duration;

use terrain_core::intake::Budget;

/// The limits of a running server's services.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a device's refresh token lives: what a login or an enrolment gives a
    /// device to get session tokens with. Field devices stay offline for weeks, so the
    /// default is long; a lost phone's tokens end when its device is revoked.
    pub token_ttl: chrono::Duration,
    /// How long a device's session token lives, the one every request carries: short, so
    /// one copied from a log or a proxy soon opens nothing. An hour is one extra round trip
    /// (a few hundred bytes) for a sync after a longer pause.
    pub access_ttl: chrono::Duration,
    /// How long a dashboard session lasts (a browser on a shared office laptop).
    pub session_ttl: chrono::Duration,
    /// How long an enrolment's QR code works (it works once).
    pub enrolment_ttl: chrono::Duration,
    /// Sync limits.
    pub sync: SyncLimits,
    /// Login throttles.
    pub logins: LoginLimits,
    /// Requests one token may make: a burst, then a steady rate.
    pub requests: Rate,
    /// The most bytes a published form (XLSForm or JSON) may take, uncompressed.
    pub max_form_bytes: u64,
    /// How webhook deliveries are retried.
    pub webhooks: WebhookLimits,
    /// What attached files may cost.
    pub media: MediaLimits,
}

/// What attached files may cost the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    /// The largest file accepted (`terrain serve --max-media-mb`).
    pub max_file_bytes: u64,
    /// The bytes of an upload held in memory before they are written: what one upload
    /// costs the server's memory, however large its request.
    pub piece_bytes: u64,
    /// The most file bytes one device may send in a minute.
    pub device_bytes_per_minute: u64,
    /// The most file bytes one device may send in a day (UTC): a phone that sends without
    /// end fills no disk (`terrain serve --max-media-mb-per-day`).
    pub device_bytes_per_day: u64,
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits {
            max_file_bytes: terrain_core::media::DEFAULT_MAX_FILE_BYTES,
            piece_bytes: 64 << 10,
            // A minute of a fast 4G link: a phone on a good link is not held back, one
            // sending without end fills no more than this a minute.
            device_bytes_per_minute: 256 << 20,
            // Two hundred 12-megapixel photos, or an hour of video: more than a day of
            // fieldwork takes.
            device_bytes_per_day: 2 << 30,
        }
    }
}

/// How webhook deliveries are made and retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebhookLimits {
    /// The wait before the first retry; each retry waits twice as long, up to an hour.
    pub first_retry: std::time::Duration,
    /// Attempts before a delivery is given up (and shown as failed in its log).
    pub max_attempts: u32,
    /// How long a target may take to answer one delivery.
    pub timeout: std::time::Duration,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        // 30 attempts, doubling from 10 s to an hour: a target down for a day still gets
        // everything when it comes back.
        WebhookLimits {
            first_retry: std::time::Duration::from_secs(10),
            max_attempts: 30,
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl: chrono::Duration::days(60),
            access_ttl: chrono::Duration::hours(1),
            session_ttl: chrono::Duration::hours(12),
            enrolment_ttl: chrono::Duration::hours(24),
            sync: SyncLimits::default(),
            logins: LoginLimits::default(),
            // A phone's sync is a few requests, a dashboard page one; a first sync of
            // thousands of surveys, or a script paging through lists, fits the burst.
            requests: Rate { burst: 300, per_second: 20.0 },
            max_form_bytes: 16 << 20,
            webhooks: WebhookLimits::default(),
            media: MediaLimits::default(),
        }
    }
}

/// A token bucket: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// How many at once.
    pub burst: u32,
    /// How many more each second.
    pub per_second: f64,
}

/// What one sync round, and one device over time, may ask of the server.
#[derive(Debug, Clone)]
pub struct SyncLimits {
    /// What one pushed survey may cost to decode, and grow to once stored (at most
    /// `Budget::WRITE`, which every device also holds to).
    pub survey: Budget,
    /// What all the surveys of one request may cost to decode together.
    pub request_decoded_bytes: u64,
    /// Operations in all the surveys of one request.
    pub request_ops: u64,
    /// Decoded bytes one device may push per minute.
    pub device_decoded_bytes_per_minute: u64,
    /// Most surveys pushed in one request.
    pub max_push_surveys: usize,
    /// Most surveys asked for again (`want`) in one request.
    pub max_want: usize,
    /// Most heads in one pushed or wanted survey (a survey has one head, or a few after
    /// concurrent edits).
    pub max_heads: usize,
    /// Most change bytes sent back in one response, whatever the device asks.
    pub max_pull_bytes: u64,
    /// Sync rounds doing work at once; others wait for a slot.
    pub concurrent_rounds: usize,
    /// How long a round waits for a slot before it is told to come back.
    pub slot_wait: Duration,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            survey: Budget::WRITE,
            request_decoded_bytes: 48 << 20,
            request_ops: 400_000,
            device_decoded_bytes_per_minute: 256 << 20,
            max_push_surveys: 5_000,
            max_want: 5_000,
            max_heads: 64,
            max_pull_bytes: 8 << 20,
            concurrent_rounds: 4,
            slot_wait: Duration::from_secs(20),
        }
    }
}

/// How logins are throttled.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Failed logins allowed for one account before each further one must wait.
    pub free_failures: u32,
    /// The wait after the first failure past the free ones; it doubles with each more.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Login attempts from one address: a burst, then a steady rate.
    pub per_address: Rate,
    /// Password hashes computed at once (each takes 19 MiB and a core for a moment).
    pub concurrent_hashes: usize,
    /// How long a login waits for a hashing slot before it is told to come back.
    pub hash_wait: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            free_failures: 5,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(15 * 60),
            // A whole team behind one village router logs in at the start of the day.
            per_address: Rate { burst: 60, per_second: 1.0 },
            // Half the cores at most: a login flood from many addresses must leave the rest
            // to syncs (one slot hashes about 40 logins a second).
            concurrent_hashes: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            hash_wait: Duration::from_secs(10),
        }
    }
}
