//! The sync messages as they travel: serde types, encoded with postcard and compressed
//! with zstd as one stream per request or response.
//!
//! One compressed stream per batch is what brings the bytes near the floor: surveys share
//! question names, choice codes and village names, which compressing each survey alone
//! cannot exploit (about 3× worse). Decoding is bounded: the inflated size is capped before
//! postcard sees a byte, and postcard never allocates beyond the input it is given.

use std::io::Read;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The protocol version spoken by this code. Version 2 added the server's [`Epoch`];
/// version 3, entities.
pub const PROTOCOL_VERSION: u32 = 3;

/// The most a message may inflate to (compressed bodies are capped separately by the
/// server's body limit).
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// The media type of sync bodies.
pub const CONTENT_TYPE: &str = "application/vnd.terrain.sync+zstd";

/// A 16-byte survey id (a UUID) or actor id.
pub type Id16 = [u8; 16];

/// A 32-byte change hash.
pub type Hash = [u8; 32];

/// What a device sends in one sync round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// [`PROTOCOL_VERSION`] of the device.
    pub protocol: u32,
    /// The device's position in the server's change feed.
    pub cursor: u64,
    /// Surveys with changes the server has not acknowledged.
    pub push: Vec<PushedSurvey>,
    /// Surveys to resend from the given heads (the device's real state), when a pull could
    /// not be applied (for example after the device was restored from a backup).
    pub want: Vec<WantedSurvey>,
    /// The most change bytes the device wants pulled in this response.
    pub max_pull_bytes: u64,
    /// [`Epoch::epoch`] of the server as the device last synced with it (0 before the first
    /// sync). Its acknowledgements and its cursor are from that epoch.
    pub epoch: u64,
    /// Entities with changes the server has not acknowledged (created and updated by
    /// finalized surveys, settled, deleted).
    pub push_entities: Vec<PushedEntity>,
    /// Entities to resend from the given heads, when a pull could not be applied.
    pub want_entities: Vec<WantedEntity>,
}

/// One entity's unacknowledged changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedEntity {
    /// Its list.
    pub list: String,
    /// Its id in the list.
    pub id: String,
    /// The heads the changes build on (what the server acknowledged before).
    pub base: Vec<Hash>,
    /// The device's heads once the changes are applied.
    pub heads: Vec<Hash>,
    /// The changes, as Automerge change chunks.
    #[serde(with = "serde_bytes_compat")]
    pub changes: Vec<u8>,
}

/// An entity the device asks to receive again from its actual heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedEntity {
    /// Its list.
    pub list: String,
    /// Its id in the list.
    pub id: String,
    /// The device's heads (empty if it does not have the entity).
    pub heads: Vec<Hash>,
}

/// Changes of one entity for the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledEntity {
    /// Its list.
    pub list: String,
    /// Its id in the list.
    pub id: String,
    /// The changes, as Automerge change chunks in lean form (`intake::lean`: the genesis,
    /// the genesis's hash and each chunk's checksum left out, as the device derives them).
    #[serde(with = "serde_bytes_compat")]
    pub changes: Vec<u8>,
    /// The server's heads after these changes; empty when they are the heads the changes
    /// themselves leave (the server sent every change of the entity).
    pub heads: Vec<Hash>,
}

/// One survey's unacknowledged changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedSurvey {
    /// The survey id.
    pub survey: Id16,
    /// The heads the changes build on (what the server acknowledged before).
    pub base: Vec<Hash>,
    /// The device's heads once the changes are applied.
    pub heads: Vec<Hash>,
    /// The changes, as Automerge change chunks.
    #[serde(with = "serde_bytes_compat")]
    pub changes: Vec<u8>,
}

/// A survey the device asks to receive again from its actual heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedSurvey {
    /// The survey id.
    pub survey: Id16,
    /// The device's heads (empty if it does not have the survey).
    pub heads: Vec<Hash>,
}

/// The server's answer to a sync round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The device's new position in the change feed, to store once the pulled changes are
    /// applied.
    pub cursor: u64,
    /// One outcome per pushed survey, in the order pushed.
    pub acks: Vec<Ack>,
    /// Changes the device lacks.
    pub pull: Vec<PulledSurvey>,
    /// Whether more feed entries remain: sync again with the new cursor.
    pub more: bool,
    /// The server's epoch, sent when the request named another: the server may have lost
    /// what it acknowledged before (it was restored from a backup, or it is another server
    /// behind the same address). The device re-offers every survey it was acknowledged,
    /// and this response's pull already started from `min(cursor, start)`.
    pub epoch: Option<Epoch>,
    /// One outcome per pushed entity, in the order pushed.
    pub entity_acks: Vec<Ack>,
    /// Entity changes the device lacks, from the same feed (and up to the same cursor) as
    /// the surveys.
    pub pull_entities: Vec<PulledEntity>,
}

/// Which server answers, and which epoch of it. A server starts a new epoch whenever its
/// data is restored from a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// The server's id, made with its data directory.
    pub server: Id16,
    /// The epoch: random, a new one at every restore, so restoring the same backup twice
    /// still starts two epochs.
    pub epoch: u64,
    /// The change feed's position when the epoch started. The entries up to it are the
    /// same in the old epoch and the new one; those after it in the old epoch are gone.
    pub start: u64,
}

/// What became of one pushed survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ack {
    /// Durably stored; the server holds at least the pushed heads.
    Stored,
    /// The server lacks changes these build on: resend the survey's whole history.
    ResendAll,
    /// Refused whole: nothing of it was stored.
    Refused {
        /// An HTTP-like status (403 forbidden, 422 invalid).
        status: u16,
        /// A stable code.
        code: String,
        /// What to do about it.
        message: String,
    },
}

/// Changes of one survey for the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledSurvey {
    /// The survey id.
    pub survey: Id16,
    /// Its form.
    pub form_id: String,
    /// Its form version.
    pub form_version: String,
    /// The changes, as Automerge change chunks.
    #[serde(with = "serde_bytes_compat")]
    pub changes: Vec<u8>,
    /// The server's heads after these changes.
    pub heads: Vec<Hash>,
}

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not zstd, or truncated.
    #[error("the body is not zstd-compressed or is truncated: {0}")]
    Compression(String),
    /// Inflates beyond [`MAX_INFLATED_BYTES`].
    #[error("the body inflates beyond {MAX_INFLATED_BYTES} bytes; send smaller batches")]
    TooLarge,
    /// Not a message of this protocol.
    #[error("the body is not a valid sync message: {0}")]
    Malformed(String),
    /// A message of another version of the protocol.
    #[error("{}", protocol_mismatch(*.0))]
    Protocol(u32),
}

/// Encodes and compresses a message.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let raw = postcard::to_allocvec(message).map_err(|e| WireError::Malformed(e.to_string()))?;
    zstd::bulk::compress(&raw, 9).map_err(|e| WireError::Compression(e.to_string()))
}

/// Inflates (at most [`MAX_INFLATED_BYTES`]) and decodes a message.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let raw = inflate(body)?;
    let (message, rest) = postcard::take_from_bytes(&raw).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed("trailing bytes after the message".into()));
    }
    Ok(message)
}

/// How far past this code's version a request's first field still reads as a protocol
/// version (of a newer app) rather than as garbage.
const MAX_NEWER_PROTOCOLS: u32 = 16;

fn protocol_mismatch(theirs: u32) -> String {
    if theirs < PROTOCOL_VERSION {
        format!("this device speaks sync protocol {theirs} but the server speaks {PROTOCOL_VERSION}: update the app")
    } else {
        format!(
            "this device speaks sync protocol {theirs}, newer than the server's {PROTOCOL_VERSION}: ask the \
             administrator to update the server"
        )
    }
}

/// Inflates and decodes a device's request, telling a request of another protocol version
/// (its first field) apart from a malformed one: the fields after it may differ.
pub fn decode_request(body: &[u8]) -> Result<SyncRequest, WireError> {
    let raw = inflate(body)?;
    let (protocol, _) = postcard::take_from_bytes::<u32>(&raw).map_err(|e| WireError::Malformed(e.to_string()))?;
    // Versions are small numbers: anything else is not a sync message at all.
    if protocol != PROTOCOL_VERSION && (1..=PROTOCOL_VERSION + MAX_NEWER_PROTOCOLS).contains(&protocol) {
        return Err(WireError::Protocol(protocol));
    }
    let (message, rest) = postcard::take_from_bytes(&raw).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed("trailing bytes after the message".into()));
    }
    Ok(message)
}

/// The largest window (as a power of two) a body may make the decoder hold: 8 MiB. What
/// [`encode`] writes (level 9) needs at most 2^22. zstd's own limit is 2^27, and a frame
/// that asks for it makes the relay hold 128 MiB while it decodes that one body.
const MAX_WINDOW_LOG: u32 = 23;

/// Inflates a zstd stream, refusing to go past [`MAX_INFLATED_BYTES`] or to hold a window
/// larger than 2^[`MAX_WINDOW_LOG`].
pub fn inflate(body: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut decoder = zstd::stream::read::Decoder::new(body).map_err(|e| WireError::Compression(e.to_string()))?;
    decoder.window_log_max(MAX_WINDOW_LOG).map_err(|e| WireError::Compression(e.to_string()))?;
    let mut raw = Vec::new();
    decoder.take(MAX_INFLATED_BYTES + 1).read_to_end(&mut raw).map_err(|e| WireError::Compression(e.to_string()))?;
    if raw.len() as u64 > MAX_INFLATED_BYTES {
        return Err(WireError::TooLarge);
    }
    Ok(raw)
}

/// Byte vectors as postcard byte strings (a length then the bytes), not as sequences of
/// numbers; borrowed from the input when decoding.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

/// A survey id as the 16 bytes of its UUID.
pub fn survey_id_bytes(survey_id: &str) -> Option<Id16> {
    uuid::Uuid::parse_str(survey_id).ok().map(|u| *u.as_bytes())
}

/// A survey id from its 16 bytes, in the canonical hyphenated form.
pub fn survey_id_string(bytes: &Id16) -> String {
    uuid::Uuid::from_bytes(*bytes).to_string()
}

/// Change hashes for the wire.
pub fn hashes(heads: &[automerge::ChangeHash]) -> Vec<Hash> {
    heads.iter().map(|h| h.0).collect()
}

/// Change hashes from the wire.
pub fn change_hashes(hashes: &[Hash]) -> Vec<automerge::ChangeHash> {
    hashes.iter().map(|h| automerge::ChangeHash(*h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SyncRequest {
        SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: 7,
            push: vec![PushedSurvey {
                survey: [1; 16],
                base: vec![[2; 32]],
                heads: vec![[3; 32]],
                changes: vec![9; 300],
            }],
            want: vec![],
            max_pull_bytes: 1 << 20,
            epoch: 0x0123_4567_89ab_cdef,
            push_entities: vec![PushedEntity {
                list: "plots".into(),
                id: "BGD-0412".into(),
                base: vec![],
                heads: vec![[4; 32]],
                changes: vec![8; 100],
            }],
            want_entities: vec![],
        }
    }

    #[test]
    fn a_request_of_another_protocol_is_named_as_such() {
        let mut old = sample();
        old.protocol = 2;
        let body = encode(&old).unwrap();
        assert!(matches!(decode_request(&body), Err(WireError::Protocol(2))));
        assert_eq!(decode_request(&encode(&sample()).unwrap()).unwrap(), sample());
        let garbage = zstd::bulk::compress(&[0xff; 12], 3).unwrap();
        assert!(matches!(decode_request(&garbage), Err(WireError::Malformed(_))));
        // A first field far past any version is read as this version's message (the round
        // then refuses its version), and garbage stays garbage.
        let mut far = sample();
        far.protocol = 10_176;
        assert_eq!(decode_request(&encode(&far).unwrap()).unwrap(), far);
        let mut garbage = postcard::to_allocvec(&10_176u32).unwrap();
        garbage.extend([0xff; 40]);
        let garbage = zstd::bulk::compress(&garbage, 3).unwrap();
        assert!(matches!(decode_request(&garbage), Err(WireError::Malformed(_))));
        let mut newer = sample();
        newer.protocol = PROTOCOL_VERSION + 1;
        let refused = decode_request(&encode(&newer).unwrap());
        assert!(matches!(&refused, Err(e @ WireError::Protocol(_)) if e.to_string().contains("update the server")));
    }

    #[test]
    fn messages_round_trip() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(decode::<SyncRequest>(&bytes).unwrap(), sample());
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let bomb = zstd::bulk::compress(&vec![0u8; (MAX_INFLATED_BYTES + 10) as usize], 3).unwrap();
        assert!(bomb.len() < 10_000_000);
        assert!(matches!(decode::<SyncRequest>(&bomb), Err(WireError::TooLarge)));
    }

    #[test]
    fn a_frame_asking_for_a_huge_window_is_refused() {
        use std::io::Write;
        let raw = postcard::to_allocvec(&sample()).unwrap();
        // A streamed frame (no content size) declares the window it was written with.
        let frame = |window_log: u32| {
            let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            encoder.include_contentsize(false).unwrap();
            encoder.window_log(window_log).unwrap();
            encoder.write_all(&raw).unwrap();
            encoder.finish().unwrap()
        };
        assert_eq!(decode::<SyncRequest>(&frame(MAX_WINDOW_LOG)).unwrap(), sample());
        let huge = decode::<SyncRequest>(&frame(27));
        assert!(matches!(huge, Err(WireError::Compression(_))), "{huge:?}");
    }

    #[test]
    fn a_claimed_huge_length_does_not_allocate() {
        // A varint length of ~2^63 for the push list, then nothing.
        let raw = [1u8, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        let body = zstd::bulk::compress(&raw, 3).unwrap();
        assert!(decode::<SyncRequest>(&body).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode::<SyncRequest>(&bytes);
            if let Ok(body) = zstd::bulk::compress(&bytes, 1) {
                let _ = decode::<SyncRequest>(&body);
                let _ = decode::<SyncResponse>(&body);
            }
        }

        #[test]
        fn mutated_messages_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let mut raw = postcard::to_allocvec(&sample()).unwrap();
            let len = raw.len();
            for (at, v) in flips {
                raw[at % len] = v;
            }
            let body = zstd::bulk::compress(&raw, 1).unwrap();
            let _ = decode::<SyncRequest>(&body);
        }
    }
}
