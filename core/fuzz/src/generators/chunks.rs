//! Hostile Automerge chunks for the front door: real documents and changes taken apart by
//! `terrain-forge`, attacked where Automerge trusts its input (column lengths, run counts,
//! compression, actor indices, op counters, dependency tables, chunk types), and put back
//! together with valid checksums, so the attack reaches the structure it aims at instead of
//! failing the framing.
//!
//! Every attack has a name, so the corpus holds one input of each and a finding says what
//! kind of input it was.

use terrain_forge::{
    Change, Column, Document, chunk, col, delta_run, kind, null_run, run, sleb, string_run, uleb, unframe,
};

use super::runs;
use super::{bombs, docs};
use crate::dice::Dice;

/// Which chunks an attack applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
    Document,
    Change,
    Either,
}

macro_rules! attacks {
    ($($(#[$doc:meta])* $variant:ident => $name:literal, $aim:ident;)*) => {
        /// One way of making a valid chunk hostile.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Attack {
            $($(#[$doc])* $variant,)*
        }

        impl Attack {
            /// Every attack, in a fixed order (the corpus is written in it).
            pub const ALL: &'static [Attack] = &[$(Attack::$variant,)*];

            /// The attack's name in corpus file names.
            pub fn name(self) -> &'static str {
                match self { $(Attack::$variant => $name,)* }
            }

            fn aim(self) -> Aim {
                match self { $(Attack::$variant => Aim::$aim,)* }
            }
        }
    };
}

attacks! {
    /// A saved document, untouched.
    ValidDocument => "valid-document", Document;
    /// A document's change chunks, untouched.
    ValidChanges => "valid-changes", Change;
    /// A column replaced by, or extended with, a run claiming 2^20..2^62 rows.
    HugeRun => "huge-run", Either;
    /// A run of just under, at, or just over a budget's rows.
    NearBudgetRun => "near-budget-run", Either;
    /// A delta column's run of many rows and an extreme step.
    DeltaRun => "delta-run", Either;
    /// A run of a huge number of nulls.
    NullRun => "null-run", Either;
    /// A string repeated until it decodes to about the decoded-bytes budget.
    StringRun => "string-run", Either;
    /// A literal run claiming far more values than follow it.
    LiteralLie => "literal-lie", Either;
    /// One column's runs multiplied, so it no longer matches its table.
    AmplifyColumn => "amplify-column", Either;
    /// Every column of a table multiplied alike: consistent, and large.
    AmplifyTable => "amplify-table", Either;
    /// A column replaced by a deflate bomb (9 MiB to 256 MiB inflated).
    DeflateBomb => "deflate-bomb", Either;
    /// A column compressed honestly (refused in a change, allowed in a document).
    Deflate => "deflate", Either;
    /// The deflate bit set on bytes that do not inflate.
    CorruptDeflate => "corrupt-deflate", Either;
    /// A column cut short, mid-value.
    Truncate => "truncate", Either;
    /// A column with bytes after its last run.
    Extend => "extend", Either;
    /// Two columns' specifications swapped.
    SwapSpecs => "swap-specs", Either;
    /// A column written twice.
    DuplicateColumn => "duplicate-column", Either;
    /// A column left out.
    DropColumn => "drop-column", Either;
    /// A column id of 16 or more (Automerge keeps four bits of it in places).
    HighColumnId => "high-column-id", Either;
    /// The columns in another order.
    ReorderColumns => "reorder-columns", Either;
    /// Value metadata claiming more raw bytes than the value column holds.
    ValueMetaLie => "value-meta-lie", Either;
    /// Actor indices past the actor table.
    ActorOutOfRange => "actor-out-of-range", Either;
    /// A document's `seq` column broken (zero, repeated, jumping).
    SeqBroken => "seq-broken", Document;
    /// A document's `max_op` past 32 bits or below its dependencies'.
    MaxOpBogus => "max-op-bogus", Document;
    /// A document's dependency count claiming a huge number of dependencies.
    DepsCountHuge => "deps-count-huge", Document;
    /// A document's dependency indices pointing forward or past the table.
    DepsIndexBogus => "deps-index-bogus", Document;
    /// A document's actor table past the actor budget, empty, or with a megabyte actor.
    ActorTable => "actor-table", Document;
    /// A document's heads: bogus hashes, many of them, or none.
    HeadsBogus => "heads-bogus", Document;
    /// Bytes after a document's columns.
    SuffixGarbage => "suffix-garbage", Document;
    /// A change's `seq` at an edge.
    SeqEdgy => "seq-edgy", Change;
    /// A change's first op counter at 0, at 32 bits, or past them.
    StartOpEdgy => "start-op-edgy", Change;
    /// A change's time at the edges of i64.
    TimeEdgy => "time-edgy", Change;
    /// A change's message huge or not UTF-8.
    MessageBogus => "message-bogus", Change;
    /// A change with hundreds of dependencies, or dependencies nobody has.
    DepsBogus => "deps-bogus", Change;
    /// A change naming hundreds of other actors, or an empty or huge actor.
    ActorsBogus => "actors-bogus", Change;
    /// Bytes after a change's columns.
    ExtraGarbage => "extra-garbage", Change;
    /// A well-formed chunk with another type byte (compressed change, bundle, unknown).
    WrongType => "wrong-type", Either;
    /// A change whose checksum does not match its contents.
    ChecksumBroken => "checksum-broken", Change;
    /// Many chunks: copies, a document followed by changes, or past the chunk limit.
    Concatenate => "concatenate", Either;
    /// A few bytes of a valid chunk's body changed, the checksum recomputed.
    ByteMutation => "byte-mutation", Either;
    /// An op's predecessors, key, object or action rewritten and the change encoded by
    /// Automerge itself: canonical bytes that say something wrong (a predecessor on another
    /// key, a deletion of nothing), which a document does not carry through a save.
    ForgedOps => "forged-ops", Change;
}

/// Any hostile input: usually one to three attacks on one real chunk, now and then a valid
/// one, so that the accepting path is exercised too.
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let first = if dice.percent(8) {
        *dice.pick(&[Attack::ValidDocument, Attack::ValidChanges]).unwrap_or(&Attack::ValidDocument)
    } else {
        *dice.pick(Attack::ALL).unwrap_or(&Attack::HugeRun)
    };
    let mut attacks = vec![first];
    if !matches!(first, Attack::ValidDocument | Attack::ValidChanges) {
        // Column attacks combine: a bomb in one column, a lie in another.
        for _ in 0..dice.below(3) {
            let more = *dice.pick(Attack::ALL).unwrap_or(&Attack::HugeRun);
            if more.aim() == Aim::Either || more.aim() == first.aim() {
                attacks.push(more);
            }
        }
    }
    generate_with(dice, &attacks)
}

/// An input made by exactly these attacks, in order, on one real chunk (a document if any
/// attack aims at documents only, a change if any aims at changes only, else either).
pub fn generate_with(dice: &mut Dice, attacks: &[Attack]) -> Vec<u8> {
    let edits = 1 + dice.below(40);
    let mut doc = docs::random_doc(dice, edits);
    let aim = attacks.iter().map(|a| a.aim()).find(|a| *a != Aim::Either).unwrap_or(Aim::Either);
    let document = match aim {
        Aim::Document => true,
        Aim::Change => false,
        Aim::Either => dice.percent(50),
    };
    if document {
        let saved = if dice.percent(50) { doc.save() } else { doc.save_nocompress() };
        attack_document(dice, &saved, &doc.save_after(&[]), attacks)
    } else {
        let changes: Vec<Vec<u8>> = doc.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();
        attack_changes(dice, &changes, attacks)
    }
}

/// These attacks on real bytes from elsewhere (a survey's history): a saved document, or
/// change chunks. Attacks that do not fit the bytes are skipped.
pub fn attack_bytes(dice: &mut Dice, bytes: &[u8], attacks: &[Attack]) -> Vec<u8> {
    let Some(chunks) = terrain_forge::split(bytes) else { return bytes.to_vec() };
    if chunks.len() == 1 && Document::parse(chunks[0]).is_some() {
        attack_document(dice, bytes, &[], attacks)
    } else {
        attack_changes(dice, &chunks.iter().map(|c| c.to_vec()).collect::<Vec<_>>(), attacks)
    }
}

fn attack_document(dice: &mut Dice, saved: &[u8], changes: &[u8], attacks: &[Attack]) -> Vec<u8> {
    let Some(mut parts) = Document::parse(saved) else { return saved.to_vec() };
    // Inflated, the runs can be rewritten; left compressed, the attack meets real
    // compressed columns.
    if dice.percent(80) {
        parts = parts.inflated();
    }
    let mut frame = Frame::default();
    for attack in attacks {
        let actors = parts.actors.len() as u64;
        let table = if dice.percent(30) { &mut parts.change_columns } else { &mut parts.op_columns };
        if column_attack(dice, *attack, table, actors) {
            continue;
        }
        document_attack(dice, *attack, &mut parts);
        frame.note(dice, *attack);
    }
    let out = frame.apply(dice, parts.encode());
    if frame.concatenate { concatenate(dice, out, changes) } else { out }
}

fn attack_changes(dice: &mut Dice, changes: &[Vec<u8>], attacks: &[Attack]) -> Vec<u8> {
    let at = dice.below(changes.len());
    // The changes before it, so that the attacked change can be applied, not only parsed.
    let mut out: Vec<u8> = changes.iter().take(at).flatten().copied().collect();
    let Some(original) = changes.get(at) else { return out };
    let forged = attacks.contains(&Attack::ForgedOps).then(|| forge_ops(dice, original)).flatten();
    let Some(mut parts) = Change::parse(forged.as_deref().unwrap_or(original)) else { return out };
    let mut frame = Frame::default();
    for attack in attacks {
        let actors = parts.other_actors.len() as u64 + 1;
        if column_attack(dice, *attack, &mut parts.op_columns, actors) {
            continue;
        }
        change_attack(dice, *attack, &mut parts);
        frame.note(dice, *attack);
    }
    let attacked = frame.apply(dice, parts.encode());
    if frame.concatenate {
        out.extend(concatenate(dice, attacked, &changes.concat()));
    } else {
        out.extend(attacked);
        if dice.percent(20) {
            changes.iter().skip(at + 1).for_each(|c| out.extend_from_slice(c));
        }
    }
    out
}

/// A change whose ops say something else, encoded by Automerge (so in canonical form), or
/// `None` if Automerge will not encode the rewritten ops.
fn forge_ops(dice: &mut Dice, bytes: &[u8]) -> Option<Vec<u8>> {
    use automerge::legacy::{Key, ObjectId, OpId, OpType};
    let change = automerge::Change::try_from(bytes).ok()?;
    let max_op = change.max_op() as usize;
    let actors: Vec<automerge::ActorId> = change.actors().cloned().collect();
    let mut expanded = change.decode();
    let n = expanded.operations.len();
    let op = expanded.operations.get_mut(dice.below(n.max(1)))?;
    let id = |dice: &mut Dice| Some(OpId(1 + dice.below(max_op + 2) as u64, dice.pick(&actors)?.clone()));
    match dice.below(6) {
        0 => op.pred = vec![id(dice)?].into(),
        1 => op.pred = vec![id(dice)?, id(dice)?].into(),
        2 => op.key = Key::Map(dice.pick(&["village", "crop", "a", "b", "answers"])?.to_string().into()),
        3 => op.obj = ObjectId::Id(id(dice)?),
        4 => {
            op.action = OpType::Delete;
            if op.pred.is_empty() {
                op.pred = vec![id(dice)?].into();
            }
        }
        _ => op.pred = Vec::new().into(),
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| automerge::Change::from(expanded).raw_bytes().to_vec()))
        .ok()
}

/// Attacks on the framing, applied once the chunk is encoded.
#[derive(Default)]
struct Frame {
    wrong_type: Option<u8>,
    broken_checksum: bool,
    mutate: bool,
    concatenate: bool,
}

impl Frame {
    fn note(&mut self, dice: &mut Dice, attack: Attack) {
        match attack {
            Attack::WrongType => {
                self.wrong_type =
                    Some(*dice.pick(&[kind::COMPRESSED_CHANGE, kind::BUNDLE, 4, 0x7f, 0xff]).unwrap_or(&2));
            }
            Attack::ChecksumBroken => self.broken_checksum = true,
            Attack::ByteMutation => self.mutate = true,
            Attack::Concatenate => self.concatenate = true,
            _ => {}
        }
    }

    fn apply(&self, dice: &mut Dice, bytes: Vec<u8>) -> Vec<u8> {
        let Some((ty, body)) = unframe(&bytes) else { return bytes };
        let mut body = body.to_vec();
        if self.mutate {
            mutate_bytes(dice, &mut body);
        }
        let mut out = chunk(self.wrong_type.unwrap_or(ty), &body);
        if self.broken_checksum
            && let Some(b) = out.get_mut(4 + dice.below(4))
        {
            *b ^= 1 << dice.below(8);
        }
        out
    }
}

/// A few bytes flipped, overwritten with edge values, inserted or removed.
pub fn mutate_bytes(dice: &mut Dice, bytes: &mut Vec<u8>) {
    for _ in 0..=dice.below(4) {
        let at = dice.below(bytes.len() + 1);
        match dice.below(5) {
            0 if at < bytes.len() => bytes[at] ^= 1 << dice.below(8),
            1 if at < bytes.len() => bytes[at] = *dice.pick(&[0x00, 0x7f, 0x80, 0xff]).unwrap_or(&0),
            2 => bytes.insert(at, dice.bytes(1)[0]),
            3 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {
                // An overlong LEB128 number, a favourite of length fields.
                let leb = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
                bytes.splice(at..at, leb[..1 + dice.below(leb.len())].iter().copied());
            }
        }
    }
}

/// The chunk among copies of itself, with the other chunks, or past the chunk limit.
fn concatenate(dice: &mut Dice, attacked: Vec<u8>, others: &[u8]) -> Vec<u8> {
    match dice.below(4) {
        0 => attacked.repeat(2 + dice.below(10)),
        1 => [others, &attacked].concat(),
        2 => [&attacked, others, &attacked].concat(),
        _ => {
            // Just past the front door's chunk limit, with the smallest valid chunk.
            let tiny = chunk(kind::CHANGE, &[]);
            let mut out = tiny.repeat(terrain_core::intake::MAX_CHUNKS + dice.below(3));
            out.extend(attacked);
            out
        }
    }
}

/// Applies a column attack to one table; false if `attack` is not a column attack.
fn column_attack(dice: &mut Dice, attack: Attack, table: &mut Vec<Column>, actors: u64) -> bool {
    if table.is_empty() {
        return matches!(attack.aim(), Aim::Either) && !is_frame_attack(attack);
    }
    let at = dice.below(table.len());
    let spec = table[at].spec;
    let ty = spec & 0b111;
    match attack {
        Attack::HugeRun | Attack::NearBudgetRun => {
            let count = if attack == Attack::HugeRun { dice.huge() } else { near_budget_rows(dice) };
            let data = claim(dice, ty, count, actors);
            replace_or_append(dice, &mut table[at], data);
        }
        Attack::DeltaRun => {
            let at = pick_of_type(dice, table, col::DELTA).unwrap_or(at);
            let count = if dice.percent(50) { dice.huge() } else { near_budget_rows(dice) };
            let data = delta_run(count as i64, dice.edgy_i64());
            replace_or_append(dice, &mut table[at], data);
        }
        Attack::NullRun => {
            let data = null_run(if dice.percent(70) { dice.huge() } else { dice.edgy_u64() });
            replace_or_append(dice, &mut table[at], data);
        }
        Attack::StringRun => {
            let at = pick_of_type(dice, table, col::STRING).unwrap_or(at);
            let len = 1 + dice.below(4096);
            let count = dice.near((8 << 20) / (len as u64 + 8)).max(1);
            table[at] = Column::new(table[at].spec & !col::DEFLATE, string_run(count as i64, &vec![b'x'; len]));
        }
        Attack::LiteralLie => {
            let mut data = Vec::new();
            sleb(-(dice.huge() as i64), &mut data);
            for _ in 0..dice.below(4) {
                uleb(dice.below(3) as u64, &mut data);
            }
            replace_or_append(dice, &mut table[at], data);
        }
        Attack::AmplifyColumn => {
            let factor = if dice.percent(50) { 2 + dice.below(1000) as u64 } else { dice.huge() };
            if let Some(runs) = runs::decode(spec, &table[at].data) {
                table[at].data = runs::encode(&runs::scale(&runs, factor));
            }
        }
        Attack::AmplifyTable => {
            let factor = *dice.pick(&[2, 10, 100, 1_000, 10_000, 100_001, 1 << 30]).unwrap_or(&2);
            for column in table.iter_mut() {
                if let Some(runs) = runs::decode(column.spec, &column.data) {
                    // Raw value bytes are repeated for real: keep them to a few megabytes.
                    let scaled = runs::scale(&runs, factor);
                    if runs::encode(&scaled).len() < 8 << 20 {
                        column.data = runs::encode(&scaled);
                    }
                }
            }
        }
        Attack::DeflateBomb => {
            let bomb = match dice.below(10) {
                0..=3 => bombs::zeros_9m(),
                4..=6 => bombs::rows_7m(),
                7 | 8 => bombs::zeros_17m(),
                _ => bombs::zeros_256m(),
            };
            table[at] = Column::new(spec | col::DEFLATE, bomb.to_vec());
        }
        Attack::Deflate => table[at] = Column::new(spec & !col::DEFLATE, table[at].data.clone()).deflated(),
        Attack::CorruptDeflate => {
            let mut data = Column::new(spec, table[at].data.clone()).deflated().data;
            if dice.percent(50) {
                data.truncate(dice.below(data.len()));
            } else {
                data = dice.junk(1, 64);
            }
            table[at] = Column::new(spec | col::DEFLATE, data);
        }
        Attack::Truncate => {
            let len = table[at].data.len();
            table[at].data.truncate(dice.below(len));
        }
        Attack::Extend => {
            let extra = dice.junk(1, 16);
            table[at].data.extend(extra);
        }
        Attack::SwapSpecs => {
            let other = dice.below(table.len());
            let (a, b) = (table[at].spec, table[other].spec);
            table[at].spec = b;
            table[other].spec = a;
        }
        Attack::DuplicateColumn => {
            let copy = table[at].clone();
            table.insert(at, copy);
        }
        Attack::DropColumn => {
            table.remove(at);
        }
        Attack::HighColumnId => table[at].spec = col::spec(16 + dice.below(1 << 20) as u32, ty),
        Attack::ReorderColumns => {
            for i in (1..table.len()).rev() {
                table.swap(i, dice.below(i + 1));
            }
        }
        Attack::ValueMetaLie => {
            let at = pick_of_type(dice, table, col::VALUE_META).unwrap_or(at);
            let len = if dice.percent(50) { dice.huge() } else { 1 + dice.below(1 << 16) as u64 };
            // Type 6 is a string value: `len << 4 | 6`.
            table[at] = Column::new(col::spec(table[at].spec >> 4, col::VALUE_META), run(1, (len << 4) | 6));
        }
        Attack::ActorOutOfRange => {
            let at = pick_of_type(dice, table, col::ACTOR).unwrap_or(at);
            let index = if dice.percent(50) { actors + dice.below(3) as u64 } else { dice.edgy_u64() };
            let rows = runs::decode(table[at].spec, &table[at].data).map_or(1, |r| runs::rows(&r).max(1));
            table[at] = Column::new(table[at].spec & !col::DEFLATE, run(rows as i64, index));
        }
        _ => return false,
    }
    true
}

fn is_frame_attack(attack: Attack) -> bool {
    matches!(
        attack,
        Attack::WrongType
            | Attack::Concatenate
            | Attack::ByteMutation
            | Attack::ValidDocument
            | Attack::ValidChanges
            | Attack::ChecksumBroken
    )
}

/// Rows around the budgets a chunk is held to: ops, changes, and the rows whose 8 bytes
/// each fill the decoded-bytes budget.
fn near_budget_rows(dice: &mut Dice) -> u64 {
    let write = terrain_core::intake::Budget::WRITE;
    let load = terrain_core::intake::Budget::LOAD;
    let limits = [write.ops, write.changes, load.ops, load.changes, write.decoded_bytes / 8, load.decoded_bytes / 8];
    let limit = *dice.pick(&limits).unwrap_or(&write.ops);
    dice.near(limit)
}

/// A run of `count` rows of a plausible value for a column of type `ty`.
fn claim(dice: &mut Dice, ty: u32, count: u64, actors: u64) -> Vec<u8> {
    match ty {
        col::BOOL => {
            let mut out = Vec::new();
            uleb(count, &mut out);
            out
        }
        col::ACTOR => run(count as i64, dice.below(actors.max(1) as usize) as u64),
        col::STRING => string_run(count as i64, b"k"),
        col::DELTA => delta_run(count as i64, 1),
        col::VALUE => dice.junk(0, 63),
        _ => run(count as i64, dice.below(4) as u64),
    }
}

fn replace_or_append(dice: &mut Dice, column: &mut Column, data: Vec<u8>) {
    column.spec &= !col::DEFLATE;
    if dice.percent(50) || runs::decode(column.spec, &column.data).is_none() {
        column.data = data;
    } else {
        column.data.extend(data);
    }
}

fn pick_of_type(dice: &mut Dice, table: &[Column], ty: u32) -> Option<usize> {
    let of_type: Vec<usize> = (0..table.len()).filter(|i| table[*i].spec & 0b111 == ty).collect();
    dice.pick(&of_type).copied()
}

/// The change table's columns that Automerge expands (as `intake::document` names them).
const SEQ: u32 = col::spec(0, col::DELTA);
const MAX_OP: u32 = col::spec(1, col::DELTA);
const DEPS_COUNT: u32 = col::spec(4, col::GROUP);
const DEPS_INDEX: u32 = col::spec(4, col::DELTA);

fn set_column(columns: &mut Vec<Column>, spec: u32, data: Vec<u8>) {
    match columns.iter_mut().find(|c| c.spec & !col::DEFLATE == spec) {
        Some(c) => *c = Column::new(spec, data),
        None => {
            columns.push(Column::new(spec, data));
            columns.sort_by_key(|c| c.spec);
        }
    }
}

fn change_rows(parts: &Document) -> u64 {
    parts
        .change_columns
        .iter()
        .filter_map(|c| runs::decode(c.spec, &c.data))
        .map(|r| runs::rows(&r))
        .max()
        .unwrap_or(1)
        .max(1)
}

fn document_attack(dice: &mut Dice, attack: Attack, parts: &mut Document) {
    let rows = change_rows(parts);
    match attack {
        Attack::SeqBroken => {
            let data = match dice.below(3) {
                0 => run(rows as i64, 0),
                1 => delta_run(rows as i64, 0),
                _ => delta_run(rows as i64, dice.edgy_i64()),
            };
            set_column(&mut parts.change_columns, SEQ, data);
        }
        Attack::MaxOpBogus => {
            let mut data = delta_run(rows.saturating_sub(1) as i64, 1);
            // A counter past u32, or one that goes back (i64::MIN included: `abs` of it overflows).
            let back = dice.edgy_i64();
            let last = if dice.percent(50) {
                i64::from(u32::MAX) + dice.below(10) as i64
            } else if back > 0 {
                -back
            } else {
                back
            };
            data.extend(delta_run(1, last));
            set_column(&mut parts.change_columns, MAX_OP, data);
        }
        Attack::DepsCountHuge => {
            let count = if dice.percent(50) { dice.huge() } else { dice.near(256) };
            set_column(&mut parts.change_columns, DEPS_COUNT, run(rows as i64, count));
        }
        Attack::DepsIndexBogus => {
            set_column(&mut parts.change_columns, DEPS_COUNT, run(rows as i64, 1));
            let step = if dice.percent(50) { 1 } else { dice.edgy_i64() };
            set_column(&mut parts.change_columns, DEPS_INDEX, delta_run(rows as i64, step));
        }
        Attack::ActorTable => match dice.below(3) {
            0 => {
                let n = dice.near(terrain_core::intake::Budget::WRITE.actors) as usize + dice.below(100);
                parts.actors.extend((0..n).map(|_| dice.bytes(16)));
            }
            1 => parts.actors.clear(),
            _ => {
                let len = 1 << dice.between(10, 20);
                if let Some(a) = parts.actors.first_mut() {
                    *a = dice.bytes(len);
                }
            }
        },
        Attack::HeadsBogus => match dice.below(3) {
            0 => parts.heads.iter_mut().for_each(|h| *h = dice.array()),
            1 => parts.heads.extend((0..dice.between(100, 5000)).map(|_| dice.array::<32>())),
            _ => parts.heads.clear(),
        },
        Attack::SuffixGarbage => {
            let extra = if dice.percent(50) { dice.junk(1, 64) } else { vec![0xff; 1 + dice.below(20)] };
            parts.suffix.extend(extra);
        }
        _ => {}
    }
}

fn change_attack(dice: &mut Dice, attack: Attack, parts: &mut Change) {
    match attack {
        Attack::SeqEdgy => parts.seq = dice.edgy_u64(),
        Attack::StartOpEdgy => {
            let any = dice.edgy_u64();
            parts.start_op = *dice
                .pick(&[0, 1, u64::from(u32::MAX) - 1, u64::from(u32::MAX), u64::from(u32::MAX) + 1, any])
                .unwrap_or(&0);
        }
        Attack::TimeEdgy => parts.time = dice.edgy_i64(),
        Attack::MessageBogus => {
            parts.message =
                if dice.percent(50) { vec![b'm'; 1 << dice.between(10, 21)] } else { vec![0xff, 0xfe, 0xc0, 0x80] };
        }
        Attack::DepsBogus => {
            let n = if dice.percent(50) { dice.near(256) as usize } else { 1 + dice.below(4) };
            parts.deps = (0..n).map(|_| dice.array()).collect();
        }
        Attack::ActorsBogus => match dice.below(3) {
            0 => {
                let n = dice.near(256) as usize;
                parts.other_actors = (0..n).map(|_| dice.bytes(16)).collect();
            }
            1 => parts.actor.clear(),
            _ => {
                let len = 1 << dice.between(8, 20);
                parts.actor = dice.bytes(len);
            }
        },
        Attack::ExtraGarbage => {
            let extra = dice.junk(1, 64);
            parts.extra.extend(extra);
        }
        _ => {}
    }
}

/// The adversarial classes whose inputs are refused for their cost, not their shape, by
/// construction: the corpus test checks that some such inputs reach the budget checks.
pub fn budget_attacks() -> &'static [Attack] {
    &[Attack::HugeRun, Attack::NearBudgetRun, Attack::NullRun, Attack::StringRun, Attack::DeflateBomb]
}
