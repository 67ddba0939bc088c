//! The simulated network between the devices and the relay. Every request a device's sync
//! client sends passes through [`Link`], which (by the schedule's seeded dice) delivers it,
//! drops it, cuts it, duplicates it, holds it back to deliver later out of order, loses or
//! cuts the answer, crashes the relay, or crashes the device. The relay is the real one
//! (`terrain-services` over SQLite files) without HTTP in between.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::sync::{Transport, TransportError};
use terrain_services::{Error, Services};

use super::template;

/// What the network did to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Lost before the relay saw it.
    DropRequest,
    /// Cut short on the way: the relay got part of it.
    CutRequest,
    /// The relay answered; the answer was lost.
    DropResponse,
    /// The relay answered; the device got part of the answer.
    CutResponse,
    /// Delivered twice.
    Duplicate,
    /// Held back and delivered later, after other messages.
    Delay,
    /// The relay crashed after handling it (and before answering).
    RelayCrash,
    /// The device crashed waiting for the answer (the relay may have handled it).
    DeviceCrash,
}

impl Fault {
    /// Every fault, in a fixed order (the dice index into it).
    pub const ALL: [Fault; 8] = [
        Fault::DropRequest,
        Fault::CutRequest,
        Fault::DropResponse,
        Fault::CutResponse,
        Fault::Duplicate,
        Fault::Delay,
        Fault::RelayCrash,
        Fault::DeviceCrash,
    ];
}

/// The relay: its directory, and its services while it runs.
#[derive(Debug)]
pub struct Relay {
    dir: PathBuf,
    services: Option<Services>,
    /// Restarts so far.
    pub restarts: u32,
}

impl Relay {
    /// The relay whose data is in `dir` (not started until used).
    pub fn new(dir: PathBuf) -> Relay {
        Relay { dir, services: None, restarts: 0 }
    }

    /// The running relay's services, starting it (on the same files) if it is down.
    pub fn services(&mut self) -> Result<&Services, String> {
        if self.services.is_none() {
            let services = Services::open_sqlite(&self.dir, template::settings())
                .map_err(|e| format!("the relay did not start again on its files: {e}"))?;
            self.services = Some(services);
        }
        self.services.as_ref().ok_or_else(|| "the relay is down".to_owned())
    }

    /// Stops the relay the way a crash does: everything in memory is gone; the files stay.
    pub fn crash(&mut self) {
        if self.services.take().is_some() {
            self.restarts += 1;
        }
    }

    /// One sync round for the device holding `token`, as the HTTP face would run it.
    pub fn deliver(&mut self, token: &str, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        let services = self.services().map_err(TransportError::Network)?;
        let auth = services.authenticate(token).map_err(refused)?;
        services
            .sync_round(&auth.scope, body, Some("simulated device"), Instant::now() + Duration::from_secs(60))
            .map_err(refused)
    }
}

/// A refusal as the device sees it; only the difference between a refused token and any
/// other refusal changes what the client does.
fn refused(e: Error) -> TransportError {
    match e {
        Error::Unauthenticated(message) => TransportError::Unauthorized(message),
        other => TransportError::Refused { status: 400, code: other.code().to_owned(), message: other.to_string() },
    }
}

/// The network's state, shared by every device's link.
#[derive(Debug)]
pub struct Net {
    state: Mutex<NetState>,
}

#[derive(Debug)]
struct NetState {
    rng: StdRng,
    /// The chance that a message meets a fault, and the weight of each fault.
    fault_rate: f64,
    weights: [u32; Fault::ALL.len()],
    relay: Relay,
    /// Messages held back, with the token they were sent with.
    held: Vec<(String, Vec<u8>)>,
    /// Devices that crashed and must be reopened.
    crashed: Vec<usize>,
    /// Faults so far, by kind.
    counts: [u64; Fault::ALL.len()],
    delivered: u64,
    reliable: bool,
}

fn lock(m: &Mutex<NetState>) -> MutexGuard<'_, NetState> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Net {
    /// A network to `relay`, with its own dice seeded from `seed`: the schedule's fault rate
    /// (up to a third of messages) and the mix of faults are drawn from it too.
    pub fn new(seed: u64, relay: Relay) -> Arc<Net> {
        let mut rng = StdRng::seed_from_u64(seed);
        let fault_rate = rng.random_range(0.0..0.35);
        let weights = std::array::from_fn(|_| rng.random_range(0..4));
        Arc::new(Net {
            state: Mutex::new(NetState {
                rng,
                fault_rate,
                weights,
                relay,
                held: Vec::new(),
                crashed: Vec::new(),
                counts: [0; Fault::ALL.len()],
                delivered: 0,
                reliable: false,
            }),
        })
    }

    /// Runs `f` on the relay.
    pub fn relay<T>(&self, f: impl FnOnce(&mut Relay) -> T) -> T {
        f(&mut lock(&self.state).relay)
    }

    /// From now on every message arrives once, whole and in order (the healing phase).
    pub fn heal(&self) {
        let mut state = lock(&self.state);
        state.reliable = true;
        // What is still in flight arrives now, late and out of order.
        let held = std::mem::take(&mut state.held);
        for (token, body) in held {
            let _ = state.relay.deliver(&token, &body);
        }
    }

    /// Delivers one held-back message, if any (a step of the schedule).
    pub fn deliver_held(&self) -> bool {
        let mut state = lock(&self.state);
        if state.held.is_empty() {
            return false;
        }
        let held = state.held.len();
        let i = state.rng.random_range(0..held);
        let (token, body) = state.held.swap_remove(i);
        let _ = state.relay.deliver(&token, &body);
        true
    }

    /// The devices that crashed since the last call.
    pub fn take_crashed(&self) -> Vec<usize> {
        std::mem::take(&mut lock(&self.state).crashed)
    }

    /// Faults so far, by kind, and messages delivered.
    pub fn counts(&self) -> ([u64; Fault::ALL.len()], u64) {
        let state = lock(&self.state);
        (state.counts, state.delivered)
    }
}

/// One device's connection through the network.
#[derive(Debug)]
pub struct Link {
    /// The device's index in the world.
    pub device: usize,
    /// Its token.
    pub token: String,
    /// The network.
    pub net: Arc<Net>,
}

impl NetState {
    fn fault(&mut self) -> Option<Fault> {
        if self.reliable || !self.rng.random_bool(self.fault_rate) {
            return None;
        }
        let total: u32 = self.weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut pick = self.rng.random_range(0..total);
        for (fault, weight) in Fault::ALL.iter().zip(self.weights) {
            if pick < weight {
                return Some(*fault);
            }
            pick -= weight;
        }
        None
    }

    fn cut(&mut self, bytes: &[u8]) -> Vec<u8> {
        let at = self.rng.random_range(0..bytes.len().max(1));
        bytes[..at].to_vec()
    }
}

impl Transport for Link {
    fn server(&self) -> &str {
        "sim://relay"
    }

    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let mut state = lock(&self.net.state);
        // Something sent earlier may overtake this message.
        if !state.held.is_empty() && !state.reliable && state.rng.random_bool(0.3) {
            let count = state.held.len();
            let i = state.rng.random_range(0..count);
            let (token, held) = state.held.swap_remove(i);
            let _ = state.relay.deliver(&token, &held);
        }
        let lost = || Err(TransportError::Network("the simulated network lost it".into()));
        let Some(fault) = state.fault() else {
            state.delivered += 1;
            return state.relay.deliver(&self.token, &body);
        };
        state.counts[Fault::ALL.iter().position(|f| *f == fault).unwrap_or(0)] += 1;
        match fault {
            Fault::DropRequest => lost(),
            Fault::CutRequest => {
                let part = state.cut(&body);
                let _ = state.relay.deliver(&self.token, &part);
                lost()
            }
            Fault::DropResponse => {
                let _ = state.relay.deliver(&self.token, &body);
                lost()
            }
            Fault::CutResponse => {
                let answer = state.relay.deliver(&self.token, &body)?;
                Ok(state.cut(&answer))
            }
            Fault::Duplicate => {
                let _ = state.relay.deliver(&self.token, &body);
                state.relay.deliver(&self.token, &body)
            }
            Fault::Delay => {
                state.held.push((self.token.clone(), body));
                lost()
            }
            Fault::RelayCrash => {
                if state.rng.random_bool(0.5) {
                    let _ = state.relay.deliver(&self.token, &body);
                }
                state.relay.crash();
                lost()
            }
            Fault::DeviceCrash => {
                if state.rng.random_bool(0.5) {
                    let _ = state.relay.deliver(&self.token, &body);
                }
                state.crashed.push(self.device);
                lost()
            }
        }
    }

    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        let mut state = lock(&self.net.state);
        let services = state.relay.services().map_err(TransportError::Network)?;
        let auth = services.authenticate(&self.token).map_err(refused)?;
        services.form(&auth.scope, form_id, version).map(|f| f.to_json()).map_err(refused)
    }
}
