//! Hostile sync bodies: real requests and responses (pushed and pulled surveys carrying
//! change chunks, acknowledgements, refusals), written field by field in postcard's format so
//! that any length, tag or flag can lie while everything around it stays valid, then wrapped
//! in zstd frames that can lie too (bombs, truncation, bad checksums, huge windows, several
//! frames).

use terrain_core::sync::wire::{
    Ack, Epoch, PROTOCOL_VERSION, PulledEntity, PulledSurvey, PushedEntity, PushedSurvey, SyncRequest, SyncResponse,
    WantedEntity, WantedSurvey,
};

use super::{bombs, docs};
use crate::dice::Dice;

attacks! {
    "One way of making a sync body hostile.";
    /// A real message, compressed as the codec does.
    Valid => "valid";
    /// A length field (of a list, bytes or a string) that lies: huge, off by one, overlong.
    LengthLie => "length-lie";
    /// An enum tag or a boolean out of range.
    TagLie => "tag-lie";
    /// A string that is not UTF-8.
    BadUtf8 => "bad-utf8";
    /// The message cut short, or followed by more bytes.
    Truncated => "truncated";
    /// A zstd frame inflating past the 64 MiB cap.
    Bomb => "bomb";
    /// A zstd frame asking for a huge window (Automerge's memory, not ours, on the line).
    HugeWindow => "huge-window";
    /// A zstd frame with its checksum flag set and a wrong checksum, or cut short.
    BrokenFrame => "broken-frame";
    /// Several zstd frames, or a skippable frame first.
    Frames => "frames";
    /// Bytes that are not zstd at all.
    NotZstd => "not-zstd";
    /// A few bytes of a valid message changed before compression.
    ByteMutation => "byte-mutation";
}

/// Any hostile body.
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let attack = *dice.pick(Attack::ALL).unwrap_or(&Attack::Valid);
    generate_with(dice, attack)
}

/// A body made by one attack on a real message.
pub fn generate_with(dice: &mut Dice, attack: Attack) -> Vec<u8> {
    let lies = match attack {
        Attack::LengthLie => Lies { length: 15, tag: 0, utf8: 0 },
        Attack::TagLie => Lies { length: 0, tag: 30, utf8: 0 },
        Attack::BadUtf8 => Lies { length: 0, tag: 0, utf8: 40 },
        _ => Lies::default(),
    };
    let mut w = Writer { dice, lies, out: Vec::new() };
    if w.dice.percent(50) {
        let message = request(w.dice);
        w.request(&message);
    } else {
        let message = response(w.dice);
        w.response(&message);
    }
    let Writer { dice, mut out, .. } = w;
    match attack {
        Attack::Truncated => {
            if dice.percent(50) {
                out.truncate(dice.below(out.len()));
            } else {
                out.extend(dice.junk(1, 8));
            }
        }
        Attack::ByteMutation => super::chunks::mutate_bytes(dice, &mut out),
        _ => {}
    }
    compress(dice, attack, &out)
}

fn compress(dice: &mut Dice, attack: Attack, raw: &[u8]) -> Vec<u8> {
    let level = *dice.pick(&[1, 3, 9, 19]).unwrap_or(&3);
    let frame = zstd::bulk::compress(raw, level).unwrap_or_default();
    match attack {
        Attack::Bomb => bombs::zstd_zeros_65m().to_vec(),
        Attack::HugeWindow => huge_window_frame(dice, raw),
        Attack::BrokenFrame => {
            let mut frame = frame;
            if dice.percent(50) {
                frame.truncate(dice.below(frame.len()));
            } else if let Some(last) = frame.last_mut() {
                *last ^= 0xff;
            }
            frame
        }
        Attack::Frames => match dice.below(3) {
            0 => frame.repeat(2 + dice.below(3)),
            1 => {
                // A skippable frame (magic 0x184D2A5?), its length, then the real frame.
                let len = dice.below(64);
                let mut out = vec![0x50 + dice.below(16) as u8, 0x2a, 0x4d, 0x18];
                out.extend((len as u32).to_le_bytes());
                out.extend(dice.bytes(len));
                out.extend(frame);
                out
            }
            _ => [frame.as_slice(), &zstd::bulk::compress(b"", 1).unwrap_or_default()].concat(),
        },
        Attack::NotZstd => raw.to_vec(),
        _ => frame,
    }
}

/// One zstd frame holding `raw` as a raw block, with a window descriptor asking for 2^10 to
/// 2^41 bytes of window.
fn huge_window_frame(dice: &mut Dice, raw: &[u8]) -> Vec<u8> {
    let raw = &raw[..raw.len().min((1 << 17) - 1)];
    let mut out = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Frame header descriptor: no content size, not single-segment, no checksum, no dict.
    out.push(0);
    // Window descriptor: exponent (window log - 10) in the high five bits.
    out.push(((dice.between(0, 31) as u8) << 3) | dice.below(8) as u8);
    // One raw block, the last: `size << 3 | type (0, raw) << 1 | last`.
    let header = ((raw.len() as u32) << 3) | 1;
    out.extend(&header.to_le_bytes()[..3]);
    out.extend_from_slice(raw);
    out
}

/// A real request: pushed surveys with change chunks of real documents.
pub fn request(dice: &mut Dice) -> SyncRequest {
    SyncRequest {
        protocol: if dice.percent(90) { PROTOCOL_VERSION } else { dice.u64() as u32 },
        cursor: dice.edgy_u64() % 1_000_000,
        push: (0..dice.below(4))
            .map(|_| PushedSurvey {
                survey: dice.array(),
                base: hashes(dice),
                heads: hashes(dice),
                changes: changes(dice),
            })
            .collect(),
        want: (0..dice.below(3)).map(|_| WantedSurvey { survey: dice.array(), heads: hashes(dice) }).collect(),
        max_pull_bytes: dice.edgy_u64(),
        epoch: dice.edgy_u64(),
        push_entities: (0..dice.below(3))
            .map(|_| PushedEntity {
                list: docs::text(dice, 12),
                id: docs::text(dice, 40),
                base: hashes(dice),
                heads: hashes(dice),
                changes: changes(dice),
            })
            .collect(),
        want_entities: (0..dice.below(2))
            .map(|_| WantedEntity { list: docs::text(dice, 12), id: docs::text(dice, 40), heads: hashes(dice) })
            .collect(),
    }
}

/// A real response: acknowledgements of every kind and pulled surveys.
pub fn response(dice: &mut Dice) -> SyncResponse {
    SyncResponse {
        cursor: dice.edgy_u64(),
        acks: (0..dice.below(5))
            .map(|_| match dice.below(3) {
                0 => Ack::Stored,
                1 => Ack::ResendAll,
                _ => Ack::Refused {
                    status: *dice.pick(&[403, 422, 0, u16::MAX]).unwrap_or(&422),
                    code: docs::text(dice, 20),
                    message: docs::text(dice, 200),
                },
            })
            .collect(),
        pull: (0..dice.below(4))
            .map(|_| PulledSurvey {
                survey: dice.array(),
                form_id: docs::text(dice, 20),
                form_version: docs::text(dice, 12),
                changes: changes(dice),
                heads: hashes(dice),
            })
            .collect(),
        more: dice.percent(50),
        epoch: dice.percent(50).then(|| Epoch { server: dice.array(), epoch: dice.edgy_u64(), start: dice.edgy_u64() }),
        entity_acks: (0..dice.below(3)).map(|_| if dice.percent(50) { Ack::Stored } else { Ack::ResendAll }).collect(),
        pull_entities: (0..dice.below(3))
            .map(|_| {
                let (list, id) = (docs::text(dice, 12), docs::text(dice, 40));
                let changes = if dice.percent(50) { lean_entity(dice, &list, &id) } else { changes(dice) };
                PulledEntity { list, id, changes, heads: hashes(dice) }
            })
            .collect(),
    }
}

fn hashes(dice: &mut Dice) -> Vec<[u8; 32]> {
    (0..dice.below(4)).map(|_| dice.array()).collect()
}

/// A real entity's changes in lean form (`intake::lean`), now and then with a byte set
/// wrong: what a device expands.
fn lean_entity(dice: &mut Dice, list: &str, id: &str) -> Vec<u8> {
    use terrain_core::entity::EntityDoc;
    use terrain_core::form::EntityAction;
    let (Ok(genesis), Ok(mut doc)) = (EntityDoc::genesis_chunk(list, id), EntityDoc::genesis(list, id)) else {
        return dice.junk(0, 99);
    };
    let create = EntityAction::Create {
        list: list.to_owned(),
        id: id.to_owned(),
        label: docs::text(dice, 30),
        properties: (0..dice.below(4)).map(|_| (docs::text(dice, 10), docs::text(dice, 30))).collect(),
    };
    let actor = automerge::ActorId::from(dice.array::<16>().as_slice());
    if doc.apply(&create, "s", true, actor, chrono::Utc::now()).is_err() {
        return dice.junk(0, 99);
    }
    let mut lean = terrain_core::intake::lean::shrink(&genesis, &doc.changes_after(&[])).unwrap_or_default();
    if !lean.is_empty() && dice.percent(30) {
        let at = dice.below(lean.len());
        lean[at] = dice.array::<1>()[0];
    }
    lean
}

fn changes(dice: &mut Dice) -> Vec<u8> {
    if dice.percent(70) { docs::random_doc(dice, 10).save_after(&[]) } else { dice.junk(0, 99) }
}

/// How often (in percent) each kind of field lies.
#[derive(Debug, Clone, Copy, Default)]
struct Lies {
    length: u32,
    tag: u32,
    utf8: u32,
}

/// Writes messages in postcard's format (varints, length-prefixed sequences, enum tags as
/// varints, fixed arrays as their bytes), lying where told to.
struct Writer<'d> {
    dice: &'d mut Dice,
    lies: Lies,
    out: Vec<u8>,
}

impl Writer<'_> {
    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(byte);
                return;
            }
            self.out.push(byte | 0x80);
        }
    }

    /// A length, honest or not.
    fn len(&mut self, n: usize) {
        if self.dice.percent(self.lies.length) {
            match self.dice.below(4) {
                0 => {
                    let huge = self.dice.huge();
                    self.varint(huge);
                }
                1 => self.varint(n as u64 + 1),
                2 => self.varint(u64::MAX),
                // An overlong varint: more continuation bytes than a u64 holds.
                _ => self.out.extend([0xff; 11]),
            }
        } else {
            self.varint(n as u64);
        }
    }

    fn tag(&mut self, tag: u64, count: u64) {
        if self.dice.percent(self.lies.tag) {
            let bogus = count + self.dice.between(0, 1000);
            self.varint(bogus);
        } else {
            self.varint(tag);
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.out.extend_from_slice(bytes);
    }

    fn string(&mut self, s: &str) {
        if self.dice.percent(self.lies.utf8) {
            let bad = [s.as_bytes(), &[0xff, 0xc0, 0x80][..1 + self.dice.below(3)]].concat();
            self.bytes(&bad);
        } else {
            self.bytes(s.as_bytes());
        }
    }

    fn hashes(&mut self, hashes: &[[u8; 32]]) {
        self.len(hashes.len());
        hashes.iter().for_each(|h| self.out.extend_from_slice(h));
    }

    fn request(&mut self, m: &SyncRequest) {
        self.varint(u64::from(m.protocol));
        self.varint(m.cursor);
        self.len(m.push.len());
        for p in &m.push {
            self.out.extend_from_slice(&p.survey);
            self.hashes(&p.base);
            self.hashes(&p.heads);
            self.bytes(&p.changes);
        }
        self.len(m.want.len());
        for w in &m.want {
            self.out.extend_from_slice(&w.survey);
            self.hashes(&w.heads);
        }
        self.varint(m.max_pull_bytes);
        self.varint(m.epoch);
        self.len(m.push_entities.len());
        for e in &m.push_entities {
            self.string(&e.list);
            self.string(&e.id);
            self.hashes(&e.base);
            self.hashes(&e.heads);
            self.bytes(&e.changes);
        }
        self.len(m.want_entities.len());
        for w in &m.want_entities {
            self.string(&w.list);
            self.string(&w.id);
            self.hashes(&w.heads);
        }
    }

    fn response(&mut self, m: &SyncResponse) {
        self.varint(m.cursor);
        self.len(m.acks.len());
        for ack in &m.acks {
            self.ack(ack);
        }
        self.len(m.pull.len());
        for p in &m.pull {
            self.out.extend_from_slice(&p.survey);
            self.string(&p.form_id);
            self.string(&p.form_version);
            self.bytes(&p.changes);
            self.hashes(&p.heads);
        }
        // A boolean is one byte, 0 or 1.
        let more = if self.dice.percent(self.lies.tag) { 2 + self.dice.below(254) as u8 } else { u8::from(m.more) };
        self.out.push(more);
        // An option is a one-byte tag, then its value.
        match &m.epoch {
            None => self.tag(0, 2),
            Some(epoch) => {
                self.tag(1, 2);
                self.out.extend_from_slice(&epoch.server);
                self.varint(epoch.epoch);
                self.varint(epoch.start);
            }
        }
        self.len(m.entity_acks.len());
        for ack in &m.entity_acks {
            self.ack(ack);
        }
        self.len(m.pull_entities.len());
        for p in &m.pull_entities {
            self.string(&p.list);
            self.string(&p.id);
            self.bytes(&p.changes);
            self.hashes(&p.heads);
        }
    }

    fn ack(&mut self, ack: &Ack) {
        match ack {
            Ack::Stored => self.tag(0, 3),
            Ack::ResendAll => self.tag(1, 3),
            Ack::Refused { status, code, message } => {
                self.tag(2, 3);
                self.varint(u64::from(*status));
                self.string(code);
                self.string(message);
            }
        }
    }
}

/// Makes a postcard encoding lie without knowing its schema: an overlong or huge varint
/// spliced in, a byte set to a large tag, the end cut or extended.
pub fn lie(dice: &mut Dice, raw: &mut Vec<u8>) {
    let at = dice.below(raw.len() + 1);
    match dice.below(4) {
        0 => {
            let mut huge = Vec::new();
            terrain_forge::uleb(dice.huge(), &mut huge);
            raw.splice(at..at, huge);
        }
        1 if at < raw.len() => raw[at] = *dice.pick(&[0x7f, 0xff, 0x80, 0x05]).unwrap_or(&0xff),
        2 => raw.truncate(at),
        _ => raw.extend(dice.junk(1, 8)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_writer_writes_what_postcard_writes() {
        for seed in 0..20 {
            let mut dice = Dice::new(seed);
            let (req, resp) = (request(&mut dice), response(&mut dice));
            let mut w = Writer { dice: &mut dice, lies: Lies::default(), out: Vec::new() };
            w.request(&req);
            assert_eq!(w.out, postcard::to_allocvec(&req).unwrap());
            w.out.clear();
            w.response(&resp);
            assert_eq!(w.out, postcard::to_allocvec(&resp).unwrap());
        }
    }
}
