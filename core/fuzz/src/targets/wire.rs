//! The sync wire codec, `terrain_core::sync::wire`: every sync body a device or the server
//! receives. Properties: `decode` never panics and never inflates past its cap; whatever
//! decodes (as a request or as a response) encodes again, and that decodes to an equal
//! message; a pulled entity's lean changes expand within the limit given, or are refused.

use terrain_core::sync::wire::{self, MAX_INFLATED_BYTES, SyncRequest, SyncResponse, WireError};

use crate::{Finding, Outcome};

/// Runs one body through the codec.
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    if let Ok(raw) = wire::inflate(input)
        && raw.len() as u64 > MAX_INFLATED_BYTES
    {
        return Err(Finding::violation(format!("a body inflated to {} bytes, past the cap", raw.len())));
    }
    let request = wire::decode::<SyncRequest>(input);
    let response = wire::decode::<SyncResponse>(input);
    // The relay's own reading: a request of this protocol decodes exactly as `decode` does.
    match (wire::decode_request(input), &request) {
        (Ok(read), Ok(decoded)) if &read != decoded => {
            return Err(Finding::violation("decode_request and decode read one request two ways"));
        }
        (Ok(_), Err(_)) => return Err(Finding::violation("decode_request accepts a body decode refuses")),
        _ => {}
    }
    if let Ok(message) = &request {
        round_trip(message, "request")?;
    }
    if let Ok(message) = &response {
        round_trip(message, "response")?;
        for pulled in &message.pull_entities {
            expand_within(pulled)?;
        }
    }
    match (request, response) {
        (Err(e), Err(_)) => Ok(Outcome::Refused(kind(&e).to_owned())),
        _ => Ok(Outcome::Accepted),
    }
}

/// The device's reading of a pulled entity's lean changes stays within its limit.
fn expand_within(pulled: &wire::PulledEntity) -> Result<(), Finding> {
    const LIMIT: usize = 1 << 20;
    let Ok(genesis) = terrain_core::entity::EntityDoc::genesis_chunk(&pulled.list, &pulled.id) else { return Ok(()) };
    match terrain_core::intake::lean::expand(&genesis, &pulled.changes, LIMIT) {
        Ok((chunks, _)) if chunks.len() > LIMIT => {
            Err(Finding::violation(format!("lean changes expanded to {} bytes, past the limit", chunks.len())))
        }
        _ => Ok(()),
    }
}

fn round_trip<T>(message: &T, what: &str) -> Result<(), Finding>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes =
        wire::encode(message).map_err(|e| Finding::violation(format!("a decoded {what} does not encode: {e}")))?;
    match wire::decode::<T>(&bytes) {
        Ok(again) if &again == message => Ok(()),
        Ok(_) => Err(Finding::violation(format!("a {what} decodes, encodes and decodes to another {what}"))),
        Err(e) => Err(Finding::violation(format!("a {what} decodes, but what it encodes to does not: {e}"))),
    }
}

/// The kind of a refusal, for counting.
pub fn kind(e: &WireError) -> &'static str {
    match e {
        WireError::Compression(_) => "compression",
        WireError::TooLarge => "too large",
        WireError::Malformed(_) => "malformed",
        WireError::Protocol(_) => "protocol",
    }
}
