//! One survey response as an Automerge document: its layout, and every edit made to it.
//!
//! Layout (see ARCHITECTURE.md):
//! ```text
//! ROOT
//! ├── meta     Map { layout, survey_id, form_id, form_version, created_by, created_on,
//! │                  created_at (ms), status }
//! ├── answers  Map { question name → scalar, repeat name → List[Map { … }] }
//! └── review   Map { status?, comments: List[Map { author, at, text, question? }] }
//! ```
//! Every container is created by the author of the survey (or of the repeat instance) in the
//! same change as its parent, so two replicas never create the same container concurrently:
//! that would make one container win and silently hide the other's contents.

use std::collections::{HashMap, HashSet};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, hydrate};
use chrono::{DateTime, Utc};

use super::path::AnswerPath;
use super::{Answer, Answers, DocumentError, Meta, Status, apply_defaults};
use crate::form::{Entry, Form, FormIndex, Node, QuestionType};
use crate::identity::Author;
use crate::intake::{self, Budget, Cost};
use crate::value::Value;

/// The version of the document layout written by this code.
pub const LAYOUT_VERSION: i64 = 1;

/// The largest document or change set Terrain will parse: far above any real survey (a
/// 60-answer survey saves to about 2 KB), low enough that hostile bytes cannot make Automerge
/// allocate without bound.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// A survey response: an Automerge document in Terrain's layout.
#[derive(Debug, Clone)]
pub struct SurveyDoc {
    doc: AutoCommit,
    meta: ObjId,
    answers: ObjId,
}

/// Where an edit lands: the map that holds the answer, and the key in it.
pub(crate) struct Slot {
    pub(crate) map: ObjId,
    pub(crate) key: String,
}

impl SurveyDoc {
    /// Starts a new survey of `form`, written by `author` under `actor`, with `initial`
    /// answers (often none; a survey imported or prefilled has some).
    ///
    /// The whole document, including the list of every repeat, is one change built with
    /// Automerge's batch API, several times faster than op by op and smaller once saved.
    pub fn create(
        form: &Form,
        survey_id: &str,
        author: &Author,
        actor: ActorId,
        now: DateTime<Utc>,
        initial: &Answers,
    ) -> Result<SurveyDoc, DocumentError> {
        let index = FormIndex::new(form);
        let answers = answers_skeleton(&index, &form.children, initial, &[])?;
        let mut doc = AutoCommit::new().with_actor(actor);
        let meta: HashMap<&str, hydrate::Value> = HashMap::from([
            ("layout", LAYOUT_VERSION.into()),
            ("survey_id", survey_id.into()),
            ("form_id", form.id.as_str().into()),
            ("form_version", form.version.as_str().into()),
            ("created_by", author.user.as_str().into()),
            ("created_on", author.device.as_str().into()),
            ("created_at", ScalarValue::Timestamp(now.timestamp_millis()).into()),
            ("status", Status::Draft.as_str().into()),
        ]);
        let review: HashMap<&str, hydrate::Value> = HashMap::from([("comments", hydrate::Value::list())]);
        let root = hydrate::Map::from(HashMap::from([
            ("meta", hydrate::Value::from(meta)),
            ("answers", answers.into()),
            ("review", review.into()),
        ]));
        doc.init_root_from_hydrate(&root)?;
        doc.commit_with(commit_options(now));
        SurveyDoc::from_automerge(doc)
    }

    /// Loads a document from its saved bytes (a snapshot followed by any change chunks),
    /// read back from disk or a file: checked by the front door against [`Budget::LOAD`]
    /// (strictly more than any write may reach, so a stored survey always loads), parsed
    /// with any panic contained, and its layout verified before the document is used.
    pub fn load(bytes: &[u8]) -> Result<SurveyDoc, DocumentError> {
        Ok(SurveyDoc::load_measured(bytes)?.0)
    }

    /// [`SurveyDoc::load`], also returning what decoding the bytes cost.
    pub fn load_measured(bytes: &[u8]) -> Result<(SurveyDoc, Cost), DocumentError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge { bytes: bytes.len() });
        }
        let (doc, cost) = intake::document(bytes, &Budget::LOAD)?;
        Ok((SurveyDoc::from_automerge(doc)?, cost))
    }

    /// Builds a document from bytes another device sent (a saved document or change
    /// chunks), every chunk checked by the front door against `budget` and then parsed
    /// strictly. Missing dependencies are an error, never a partial document.
    pub fn from_untrusted(bytes: &[u8], budget: &Budget) -> Result<SurveyDoc, DocumentError> {
        Ok(SurveyDoc::from_untrusted_changes(bytes, budget)?.0)
    }

    /// Like [`SurveyDoc::from_untrusted`], also returning the parsed changes (collecting them
    /// again from the document would re-encode every one) and what they cost to decode.
    pub fn from_untrusted_changes(
        bytes: &[u8],
        budget: &Budget,
    ) -> Result<(SurveyDoc, Vec<automerge::Change>, Cost), DocumentError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge { bytes: bytes.len() });
        }
        let intake = intake::read(bytes, budget)?;
        let mut doc = AutoCommit::new();
        contain(|| doc.apply_changes(intake.changes.clone()))??;
        let missing = doc.get_missing_deps(&[]);
        if !missing.is_empty() {
            return Err(DocumentError::MissingDependencies(missing.len()));
        }
        // Proved held exactly, each change numbers its ops on from its dependencies', so the
        // counters claim exactly the ops the walk counted and held to the budget.
        if !intake.held_exactly(&mut doc, None) {
            intake::op_counters(&mut doc, budget)?;
            round_trips(&mut doc)?;
        }
        Ok((SurveyDoc::from_automerge(doc)?, intake.changes, intake.cost))
    }

    fn from_automerge(doc: AutoCommit) -> Result<SurveyDoc, DocumentError> {
        let meta = single_map(&doc, "meta")?;
        let answers = single_map(&doc, "answers")?;
        single_map(&doc, "review")?;
        let survey = SurveyDoc { doc, meta, answers };
        let layout = survey.meta_scalar("layout").and_then(|v| match v {
            ScalarValue::Int(i) => Some(i),
            _ => None,
        });
        match layout {
            Some(LAYOUT_VERSION) => Ok(survey),
            Some(newer) if newer > LAYOUT_VERSION => Err(DocumentError::NewerLayout(newer)),
            _ => Err(DocumentError::Malformed("meta.layout is missing or unknown".into())),
        }
    }

    /// Writes all further edits under `actor`.
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The survey's metadata.
    pub fn meta(&self) -> Result<Meta, DocumentError> {
        let text = |key: &str| match self.meta_scalar(key) {
            Some(ScalarValue::Str(s)) => Ok(s.to_string()),
            _ => Err(DocumentError::Malformed(format!("meta.{key} is missing or not text"))),
        };
        let created_at = match self.meta_scalar("created_at") {
            Some(ScalarValue::Timestamp(ms)) => DateTime::from_timestamp_millis(ms),
            _ => None,
        }
        .ok_or_else(|| DocumentError::Malformed("meta.created_at is missing".into()))?;
        Ok(Meta {
            survey_id: text("survey_id")?,
            form_id: text("form_id")?,
            form_version: text("form_version")?,
            created_by: text("created_by")?,
            created_on: text("created_on")?,
            created_at,
            status: text("status")?.parse()?,
        })
    }

    fn meta_scalar(&self, key: &str) -> Option<ScalarValue> {
        match self.doc.get(&self.meta, key) {
            Ok(Some((automerge::Value::Scalar(s), _))) => Some(s.into_owned()),
            _ => None,
        }
    }

    /// Sets the answer at `path`, checked against the question's type.
    pub fn set_answer(&mut self, form: &FormIndex<'_>, path: &AnswerPath, value: Value) -> Result<(), DocumentError> {
        let kind = question_kind(form, path)?;
        let value = value
            .conform(kind)
            .map_err(|e| DocumentError::InvalidValue { path: path.to_string(), reason: e.reason })?;
        let slot = self.slot(form, path)?;
        self.doc.put(&slot.map, slot.key, value.to_scalar())?;
        Ok(())
    }

    /// Removes the answer at `path`, if there is one.
    pub fn clear_answer(&mut self, form: &FormIndex<'_>, path: &AnswerPath) -> Result<(), DocumentError> {
        question_kind(form, path)?;
        let slot = self.slot(form, path)?;
        if !self.doc.get_all(&slot.map, slot.key.as_str())?.is_empty() {
            self.doc.delete(&slot.map, slot.key)?;
        }
        Ok(())
    }

    /// Inserts a new, empty instance of the repeat at `path` (at `index`, or at the end) and
    /// returns its index.
    pub fn add_repeat_instance(
        &mut self,
        form: &FormIndex<'_>,
        path: &AnswerPath,
        index: Option<usize>,
    ) -> Result<usize, DocumentError> {
        // A new instance starts with its questions' static defaults, as in ODK Collect.
        self.insert_instance(form, path, index, apply_defaults)
    }

    /// Inserts an instance of the repeat at `path` holding the answers `fill` puts in, given
    /// the repeat's children.
    fn insert_instance(
        &mut self,
        form: &FormIndex<'_>,
        path: &AnswerPath,
        index: Option<usize>,
        fill: impl FnOnce(&[Node], &mut Answers),
    ) -> Result<usize, DocumentError> {
        let (list, children) = self.repeat_list(form, path)?;
        let len = self.doc.length(&list);
        let index = index.unwrap_or(len);
        if index > len {
            return Err(DocumentError::NoSuchInstance { path: path.to_string(), index, len });
        }
        let mut initial = Answers::default();
        fill(children, &mut initial);
        let mut instances = path.instances.clone();
        instances.push((path.name.clone(), index));
        let instance = answers_skeleton(form, children, &initial, &instances)?;
        self.doc.batch_create_object(&list, index, &instance.into(), true)?;
        Ok(index)
    }

    /// Makes the answers exactly `target` (a whole survey entered in a browser, say): sets
    /// what differs, clears what `target` lacks, and adds or removes repeat instances at
    /// the end. Answers already equal write nothing, so history shows only real edits.
    /// Stored answers the form cannot type are kept: nothing sent replaces them knowingly.
    pub fn replace_answers(&mut self, form: &FormIndex<'_>, target: &Answers) -> Result<(), DocumentError> {
        let current = self.answers(form)?;
        self.replace_level(form, &[], &current, target)
    }

    fn replace_level(
        &mut self,
        form: &FormIndex<'_>,
        instances: &[(String, usize)],
        current: &Answers,
        target: &Answers,
    ) -> Result<(), DocumentError> {
        let at = |name: &str| AnswerPath { instances: instances.to_vec(), name: name.to_owned() };
        for (name, answer) in &current.0 {
            if target.0.contains_key(name) {
                continue;
            }
            match answer {
                Answer::Value(_) => self.clear_answer(form, &at(name))?,
                Answer::Repeat(items) => {
                    for i in (0..items.len()).rev() {
                        self.remove_repeat_instance(form, &at(name), i)?;
                    }
                }
                Answer::Unreadable(_) => {}
            }
        }
        for (name, answer) in &target.0 {
            match answer {
                Answer::Value(value) => {
                    if current.get(name) != Some(answer) {
                        self.set_answer(form, &at(name), value.clone())?;
                    }
                }
                Answer::Repeat(items) => {
                    let have = current.repeat(name);
                    for i in (items.len()..have.len()).rev() {
                        self.remove_repeat_instance(form, &at(name), i)?;
                    }
                    let empty = Answers::default();
                    for (i, item) in items.iter().enumerate() {
                        let existing = match have.get(i) {
                            Some(existing) => existing,
                            None => {
                                // Empty, not with its defaults: `item` says every answer it
                                // holds, and defaults it lacks would be written then cleared.
                                self.insert_instance(form, &at(name), None, |_, _| {})?;
                                &empty
                            }
                        };
                        let mut inner = instances.to_vec();
                        inner.push((name.clone(), i));
                        self.replace_level(form, &inner, existing, item)?;
                    }
                }
                Answer::Unreadable(_) => {}
            }
        }
        Ok(())
    }

    /// Removes instance `index` of the repeat at `path`, with every answer in it.
    pub fn remove_repeat_instance(
        &mut self,
        form: &FormIndex<'_>,
        path: &AnswerPath,
        index: usize,
    ) -> Result<(), DocumentError> {
        let (list, _) = self.repeat_list(form, path)?;
        let len = self.doc.length(&list);
        if index >= len {
            return Err(DocumentError::NoSuchInstance { path: path.to_string(), index, len });
        }
        self.doc.delete(&list, index)?;
        Ok(())
    }

    /// Moves instance `from` of the repeat at `path` to position `to`.
    ///
    /// Automerge lists cannot move an element, so the instance is copied and the original
    /// deleted: the answers' history restarts at the move. An instance with unresolved
    /// conflicts is refused, because the copy would keep only the winning values.
    pub fn move_repeat_instance(
        &mut self,
        form: &FormIndex<'_>,
        path: &AnswerPath,
        from: usize,
        to: usize,
    ) -> Result<(), DocumentError> {
        let (list, _) = self.repeat_list(form, path)?;
        let len = self.doc.length(&list);
        for index in [from, to] {
            if index >= len {
                return Err(DocumentError::NoSuchInstance { path: path.to_string(), index, len });
            }
        }
        if from == to {
            return Ok(());
        }
        let instance = match self.doc.get(&list, from)? {
            Some((automerge::Value::Object(ObjType::Map), id)) => id,
            _ => {
                return Err(DocumentError::Malformed(format!("{path}[{from}] is not a map")));
            }
        };
        if super::conflicts::has_conflicts(&self.doc, &instance)? {
            return Err(DocumentError::ConflictsPending(format!("{path}[{from}]")));
        }
        let copy = self.doc.hydrate(&instance, None)?;
        self.doc.delete(&list, from)?;
        self.doc.batch_create_object(&list, to, &copy, true)?;
        Ok(())
    }

    /// Marks the survey finalized (or back to draft, to reopen it).
    pub fn set_status(&mut self, status: Status) -> Result<(), DocumentError> {
        self.doc.put(&self.meta, "status", status.as_str())?;
        Ok(())
    }

    /// Commits the edits made since the last commit as one change, stamped with `now`.
    ///
    /// Returns `None` when nothing changed (for example an answer set to the value it had).
    pub fn commit(&mut self, now: DateTime<Utc>) -> Option<ChangeHash> {
        self.doc.commit_with(commit_options(now))
    }

    /// Drops edits not yet committed.
    pub fn rollback(&mut self) {
        self.doc.rollback();
    }

    /// The document's current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document, compressed.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The whole document, its columns left uncompressed: for bytes that travel inside a
    /// compressed stream, whose zstd does better than Automerge's deflate of each column.
    pub fn save_nocompress(&mut self) -> Vec<u8> {
        self.doc.save_nocompress()
    }

    /// Every change, for a replica that has none, as compactly as its front door admits:
    /// as many of the first changes as it can in Automerge's document encoding
    /// (uncompressed), the rest as change chunks after it.
    ///
    /// A document does not carry its changes' hashes, so the front door counts each of its
    /// changes as a possible fragment (`Budget::fragments`); change chunks count only the
    /// fragments they are. The document part is the longest causal prefix whose changes,
    /// with the fragments among the rest, stay within `fragments`.
    pub fn save_for_new_replica(&mut self, fragments: u64) -> Vec<u8> {
        // Within the limit whatever the hashes: no need to collect (re-encode) the changes.
        if self.size().1 <= fragments {
            return self.doc.save_nocompress();
        }
        let all = self.doc.get_changes(&[]);
        let is_fragment = |c: &automerge::Change| c.hash().0[0] == 0;
        // The largest `prefix` with prefix + (fragments among the rest) within the limit.
        let (mut prefix, mut rest_fragments) = (all.len(), 0u64);
        while prefix > 0 && prefix as u64 + rest_fragments > fragments {
            prefix -= 1;
            rest_fragments += u64::from(is_fragment(&all[prefix]));
        }
        if prefix == all.len() {
            return self.doc.save_nocompress();
        }
        // Changes come in causal order, so the prefix is closed under dependencies, and its
        // heads are its changes that no other change of it depends on.
        let depended: HashSet<ChangeHash> = all[..prefix].iter().flat_map(|c| c.deps().iter().copied()).collect();
        let heads: Vec<ChangeHash> = all[..prefix].iter().map(|c| c.hash()).filter(|h| !depended.contains(h)).collect();
        let mut bytes = match (prefix, self.doc.fork_at(&heads)) {
            (1.., Ok(mut fork)) => fork.save_nocompress(),
            // Only changes, should the fork ever fail: larger, never wrong.
            _ => Vec::new(),
        };
        let from = if bytes.is_empty() { 0 } else { prefix };
        for change in &all[from..] {
            bytes.extend_from_slice(change.raw_bytes());
        }
        bytes
    }

    /// The changes that are not ancestors of `heads`, as change chunks.
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Merges changes from another replica of this survey (change chunks or a saved
    /// document), checked by the front door against `budget`, and returns how many changes
    /// were new and what the bytes cost to decode.
    ///
    /// All or nothing: the bytes are applied to a copy, which replaces this document only if
    /// every change's dependencies are present, no panic occurred, and the result is still
    /// this survey in Terrain's layout.
    pub fn merge_bytes(&mut self, bytes: &[u8], budget: &Budget) -> Result<(usize, Cost), DocumentError> {
        let survey_id = self.meta()?.survey_id;
        let (candidate, before, cost) = merged_copy(&self.doc, bytes, budget)?;
        let merged = SurveyDoc::from_automerge(candidate)?;
        if merged.meta()?.survey_id != survey_id {
            return Err(DocumentError::WrongSurvey);
        }
        let mut merged = merged;
        let new = merged.doc.get_changes_meta(&before).len();
        merged.doc.set_actor(self.doc.get_actor().clone());
        *self = merged;
        Ok((new, cost))
    }

    /// How many operations and changes the document holds (Automerge's own counts, read
    /// without walking anything).
    pub fn size(&self) -> (u64, u64) {
        let stats = self.doc.stats();
        (stats.num_ops, stats.num_changes)
    }

    /// Read access to the underlying Automerge document.
    pub fn automerge(&self) -> &AutoCommit {
        &self.doc
    }

    pub(crate) fn automerge_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    pub(crate) fn answers_obj(&self) -> &ObjId {
        &self.answers
    }

    /// Resolves the map and key that hold the answer at `path`, checking the path against
    /// the form: each step must be the right enclosing repeat, and each instance must exist.
    pub(crate) fn slot(&self, form: &FormIndex<'_>, path: &AnswerPath) -> Result<Slot, DocumentError> {
        let located = form.get(&path.name).ok_or_else(|| DocumentError::UnknownQuestion(path.name.clone()))?;
        if !located.is_in(&path.instances) {
            return Err(DocumentError::WrongPlace { path: path.to_string(), expected: located.repeats.join("/") });
        }
        let mut map = self.answers.clone();
        for (depth, (repeat, index)) in path.instances.iter().enumerate() {
            let list = match self.doc.get(&map, repeat.as_str())? {
                Some((automerge::Value::Object(ObjType::List), id)) => id,
                _ => {
                    return Err(DocumentError::Malformed(format!("repeat `{repeat}` has no list")));
                }
            };
            let len = self.doc.length(&list);
            map = match self.doc.get(&list, *index)? {
                Some((automerge::Value::Object(ObjType::Map), id)) => id,
                _ => {
                    let prefix = AnswerPath { instances: path.instances[..depth].to_vec(), name: repeat.clone() };
                    return Err(DocumentError::NoSuchInstance { path: prefix.to_string(), index: *index, len });
                }
            };
        }
        Ok(Slot { map, key: path.name.clone() })
    }

    fn repeat_list<'f>(&self, form: &FormIndex<'f>, path: &AnswerPath) -> Result<(ObjId, &'f [Node]), DocumentError> {
        let children = match form.get(&path.name).map(|l| l.entry) {
            Some(Entry::Repeat(g)) => &g.children,
            Some(_) => return Err(DocumentError::NotARepeat(path.name.clone())),
            None => return Err(DocumentError::UnknownQuestion(path.name.clone())),
        };
        let slot = self.slot(form, path)?;
        match self.doc.get(&slot.map, slot.key.as_str())? {
            Some((automerge::Value::Object(ObjType::List), id)) => Ok((id, children)),
            _ => Err(DocumentError::Malformed(format!("repeat `{path}` has no list"))),
        }
    }
}

fn question_kind<'f>(form: &FormIndex<'f>, path: &AnswerPath) -> Result<&'f QuestionType, DocumentError> {
    match form.get(&path.name).map(|l| l.entry) {
        Some(Entry::Question(q)) if q.kind.takes_answer() => Ok(&q.kind),
        Some(_) => Err(DocumentError::NotAQuestion(path.name.clone())),
        None => Err(DocumentError::UnknownQuestion(path.name.clone())),
    }
}

/// The empty lists of every repeat directly inside `nodes` (looking through plain groups),
/// so that each instance carries its nested repeats' lists from the change that creates it.
fn repeat_lists(nodes: &[Node]) -> HashMap<String, hydrate::Value> {
    fn walk(nodes: &[Node], lists: &mut HashMap<String, hydrate::Value>) {
        for node in nodes {
            match node {
                Node::Question(_) => {}
                Node::Group(g) => walk(&g.children, lists),
                Node::Repeat(g) => {
                    lists.insert(g.name.clone(), hydrate::Value::list());
                }
            }
        }
    }
    let mut lists = HashMap::new();
    walk(nodes, &mut lists);
    lists
}

/// The hydrate map of `answers` for the level holding `nodes`, with every repeat's list
/// (filled with `answers`' instances), each value checked against its question.
fn answers_skeleton(
    form: &FormIndex<'_>,
    nodes: &[Node],
    answers: &Answers,
    instances: &[(String, usize)],
) -> Result<hydrate::Map, DocumentError> {
    let mut entries = repeat_lists(nodes);
    for (name, answer) in &answers.0 {
        let path = AnswerPath { instances: instances.to_vec(), name: name.clone() };
        let located = form.get(name).ok_or_else(|| DocumentError::UnknownQuestion(name.clone()))?;
        if !located.is_in(instances) {
            return Err(DocumentError::WrongPlace { path: path.to_string(), expected: located.repeats.join("/") });
        }
        let value = match (located.entry, answer) {
            (Entry::Question(q), Answer::Value(v)) if q.kind.takes_answer() => {
                let v = v
                    .clone()
                    .conform(&q.kind)
                    .map_err(|e| DocumentError::InvalidValue { path: path.to_string(), reason: e.reason })?;
                hydrate::Value::from(v.to_scalar())
            }
            (Entry::Repeat(g), Answer::Repeat(items)) => {
                let mut list = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let mut inner = instances.to_vec();
                    inner.push((name.clone(), i));
                    list.push(answers_skeleton(form, &g.children, item, &inner)?.into());
                }
                hydrate::Value::from(list)
            }
            (Entry::Question(_), _) => return Err(DocumentError::NotAQuestion(name.clone())),
            _ => return Err(DocumentError::NotARepeat(name.clone())),
        };
        entries.insert(name.clone(), value);
    }
    Ok(entries.into())
}

fn commit_options(now: DateTime<Utc>) -> CommitOptions {
    // Whole seconds: finer times would add bytes to every change for no use to anyone.
    CommitOptions::default().with_time(now.timestamp())
}

/// Another replica's bytes (change chunks or a saved document) applied to a copy of `doc`,
/// through the front door against `budget`, all or nothing: every dependency present, no
/// panic, op counters within the budget, and proved to save and load back. Returns the
/// copy, `doc`'s heads before, and what the bytes cost to decode. Surveys and entities
/// merge through it, each then checking its own layout.
pub(crate) fn merged_copy(
    doc: &AutoCommit,
    bytes: &[u8],
    budget: &Budget,
) -> Result<(AutoCommit, Vec<ChangeHash>, Cost), DocumentError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge { bytes: bytes.len() });
    }
    let intake = intake::read(bytes, budget)?;
    let mut candidate = doc.clone();
    let before = candidate.get_heads();
    contain(|| candidate.apply_changes(intake.changes.clone()))??;
    let missing = candidate.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(DocumentError::MissingDependencies(missing.len()));
    }
    intake::op_counters(&mut candidate, budget)?;
    if !intake.held_exactly(&mut candidate, Some((doc, &before))) {
        round_trips(&mut candidate)?;
    }
    Ok((candidate, before, intake.cost))
}

/// Automerge accepts some changes from outside that are valid one by one but that its
/// document encoding does not carry (a change of a hundred identical overwrites of one
/// answer): the document saves, and the saved bytes do not load again ("mismatching
/// heads"), so the survey would be stored, and lost at its first compaction. A document
/// built from changes from outside is kept only if it saves and loads back, within the
/// load budget, to the same heads: proved from the changes themselves when they allow it
/// ([`intake::Intake::held_exactly`]), and otherwise here, by saving and loading.
///
/// Saved without compressing: compression changes no column's contents, only how it is
/// stored, and skipping it makes the check a third cheaper.
fn round_trips(doc: &mut AutoCommit) -> Result<(), DocumentError> {
    let mut heads = doc.get_heads();
    let lost = |why: String| DocumentError::Malformed(format!("the changes do not survive a save and load: {why}"));
    let saved = contain(|| doc.save_nocompress())?;
    let (mut again, _) = intake::document(&saved, &Budget::LOAD).map_err(|e| lost(e.to_string()))?;
    let mut loaded = again.get_heads();
    heads.sort();
    loaded.sort();
    if loaded != heads {
        return Err(lost("the document loads with other heads".into()));
    }
    Ok(())
}

/// The top-level map `key`, which must exist exactly once.
fn single_map(doc: &AutoCommit, key: &str) -> Result<ObjId, DocumentError> {
    let all = doc.get_all(ROOT, key)?;
    match all.as_slice() {
        [(automerge::Value::Object(ObjType::Map), id)] => Ok(id.clone()),
        [] => Err(DocumentError::Malformed(format!("the document has no `{key}` map"))),
        [_] => Err(DocumentError::Malformed(format!("`{key}` is not a map"))),
        _ => Err(DocumentError::Malformed(format!(
            "two replicas created `{key}` independently: these are not the same survey"
        ))),
    }
}

/// Runs Automerge on untrusted input, turning a panic into an error for this call only.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, DocumentError> {
    Ok(intake::contain(f)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Role, new_actor};
    use crate::value::GeoPoint;

    pub(crate) fn form() -> Form {
        Form::from_json(include_str!("../../tests/fixtures/household.json")).unwrap()
    }

    fn new_doc(form: &Form) -> SurveyDoc {
        let author = Author::new("awa", "phone-1", Role::Enumerator);
        SurveyDoc::create(form, "s-1", &author, new_actor(), Utc::now(), &Answers::default()).unwrap()
    }

    fn p(text: &str) -> AnswerPath {
        text.parse().unwrap()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    /// A second replica of `doc`, writing under its own actor.
    fn fork(doc: &mut SurveyDoc) -> SurveyDoc {
        let mut other = SurveyDoc::load(&doc.save()).unwrap();
        other.set_actor(new_actor());
        other
    }

    fn sync_both(a: &mut SurveyDoc, b: &mut SurveyDoc) {
        let (ha, hb) = (a.heads(), b.heads());
        let to_b = a.save_after(&hb);
        let to_a = b.save_after(&ha);
        a.merge_bytes(&to_a, &Budget::WRITE).unwrap();
        b.merge_bytes(&to_b, &Budget::WRITE).unwrap();
    }

    #[test]
    fn answers_read_in_one_pass_say_what_the_document_holds() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut a = new_doc(&form);
        a.set_answer(&index, &p("village"), text("Kindia")).unwrap();
        a.add_repeat_instance(&index, &p("member"), None).unwrap();
        a.set_answer(&index, &p("member[0]/age"), Value::Integer(40)).unwrap();
        a.commit(Utc::now());
        let before = a.heads();
        assert!(!a.answers_and_conflicted(&index).unwrap().1);
        // Two replicas answer the same question of one repeat instance: a conflict inside the
        // repeat, which the one-pass read flags like the conflicts walk.
        let mut b = fork(&mut a);
        a.set_answer(&index, &p("member[0]/age"), Value::Integer(41)).unwrap();
        a.set_answer(&index, &p("village"), text("Mamou")).unwrap();
        a.commit(Utc::now());
        b.set_answer(&index, &p("member[0]/age"), Value::Integer(42)).unwrap();
        b.commit(Utc::now());
        sync_both(&mut a, &mut b);
        let (answers, conflicted) = a.answers_and_conflicted(&index).unwrap();
        assert!(conflicted && a.has_conflicts().unwrap() && !a.conflicts(&index).unwrap().is_empty());
        assert_eq!(answers.value("village"), Some(&text("Mamou")));
        // As of earlier heads: the answers then.
        let then = a.answers_at(&index, Some(&before)).unwrap();
        assert_eq!(then.value("village"), Some(&text("Kindia")));
        assert_eq!(then.repeat("member")[0].value("age"), Some(&Value::Integer(40)));
        // An object where an answer belongs is kept, as text, never dropped or typed.
        let answers_map = a.answers_obj().clone();
        a.automerge_mut().put_object(&answers_map, "hh_size", ObjType::Map).unwrap();
        a.commit(Utc::now());
        assert!(matches!(a.answers(&index).unwrap().get("hh_size"), Some(Answer::Unreadable(_))));
    }

    #[test]
    fn a_new_survey_has_meta_and_empty_repeat_lists() {
        let form = form();
        let doc = new_doc(&form);
        let meta = doc.meta().unwrap();
        assert_eq!((meta.survey_id.as_str(), meta.form_id.as_str()), ("s-1", "household"));
        assert_eq!(meta.status, Status::Draft);
        let answers = doc.answers(&FormIndex::new(&form)).unwrap();
        assert_eq!(answers.repeat("member").len(), 0);
        assert!(matches!(answers.get("member"), Some(Answer::Repeat(_))));
    }

    #[test]
    fn answers_of_every_type_read_back_typed_including_nested_repeats() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        let gps = GeoPoint { lat: 12.25, lon: -0.61, altitude: 280.0, accuracy: 5.0 };
        doc.set_answer(&index, &p("village"), text("Béguédo")).unwrap();
        doc.set_answer(&index, &p("hh_size"), Value::Integer(7)).unwrap();
        doc.set_answer(&index, &p("farm_area"), Value::Integer(2)).unwrap();
        doc.set_answer(&index, &p("gps"), Value::GeoPoint(gps)).unwrap();
        doc.set_answer(&index, &p("crops"), Value::Choices(vec!["onion".into(), "maize".into()])).unwrap();
        doc.add_repeat_instance(&index, &p("member"), None).unwrap();
        doc.set_answer(&index, &p("member[0]/age"), Value::Integer(34)).unwrap();
        doc.add_repeat_instance(&index, &p("member[0]/illness"), None).unwrap();
        doc.set_answer(&index, &p("member[0]/illness[0]/days_ill"), Value::Integer(3)).unwrap();
        doc.commit(Utc::now());

        let answers = doc.answers(&index).unwrap();
        assert_eq!(answers.value("village"), Some(&text("Béguédo")));
        assert_eq!(answers.value("farm_area"), Some(&Value::Decimal(2.0)));
        assert_eq!(answers.value("gps"), Some(&Value::GeoPoint(gps)));
        let member = &answers.repeat("member")[0];
        assert_eq!(member.value("age"), Some(&Value::Integer(34)));
        assert_eq!(member.repeat("illness")[0].value("days_ill"), Some(&Value::Integer(3)));
        let json = doc.to_json(&index).unwrap();
        assert_eq!(json["answers"]["member"][0]["illness"][0]["days_ill"], 3);
        assert_eq!(json["answers"]["crops"], serde_json::json!(["onion", "maize"]));
    }

    #[test]
    fn bad_paths_and_values_are_typed_errors() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        let err = |r: Result<(), DocumentError>| r.unwrap_err();
        assert!(matches!(err(doc.set_answer(&index, &p("nope"), text("x"))), DocumentError::UnknownQuestion(_)));
        assert!(matches!(err(doc.set_answer(&index, &p("intro"), text("x"))), DocumentError::NotAQuestion(_)));
        assert!(matches!(err(doc.set_answer(&index, &p("age"), Value::Integer(1))), DocumentError::WrongPlace { .. }));
        assert!(matches!(
            err(doc.set_answer(&index, &p("member[3]/age"), Value::Integer(1))),
            DocumentError::NoSuchInstance { index: 3, len: 0, .. }
        ));
        let wrong = err(doc.set_answer(&index, &p("hh_size"), text("seven")));
        assert_eq!(wrong.to_string(), "`hh_size`: a integer question takes no text value");
        assert!(matches!(
            doc.add_repeat_instance(&index, &p("village"), None).unwrap_err(),
            DocumentError::NotARepeat(_)
        ));
        doc.commit(Utc::now());
        assert!(doc.answers(&index).unwrap().value("hh_size").is_none());
    }

    #[test]
    fn putting_the_same_value_again_is_not_a_change() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        doc.set_answer(&index, &p("village"), text("Kindia")).unwrap();
        assert!(doc.commit(Utc::now()).is_some());
        doc.set_answer(&index, &p("village"), text("Kindia")).unwrap();
        assert!(doc.commit(Utc::now()).is_none());
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_survive_in_either_merge_order() {
        let form = form();
        let index = FormIndex::new(&form);
        for order in 0..2 {
            let mut enumerator = new_doc(&form);
            enumerator.add_repeat_instance(&index, &p("member"), None).unwrap();
            enumerator.commit(Utc::now());
            let mut supervisor = fork(&mut enumerator);
            enumerator.set_answer(&index, &p("member[0]/age"), Value::Integer(41)).unwrap();
            enumerator.commit(Utc::now());
            supervisor.set_answer(&index, &p("village"), text("Labé")).unwrap();
            supervisor.commit(Utc::now());
            if order == 0 {
                sync_both(&mut enumerator, &mut supervisor);
            } else {
                sync_both(&mut supervisor, &mut enumerator);
            }
            for doc in [&mut enumerator, &mut supervisor] {
                let answers = doc.answers(&index).unwrap();
                assert_eq!(answers.value("village"), Some(&text("Labé")));
                assert_eq!(answers.repeat("member")[0].value("age"), Some(&Value::Integer(41)));
                assert!(doc.conflicts(&index).unwrap().is_empty());
            }
            assert_eq!(enumerator.heads(), supervisor.heads());
        }
    }

    #[test]
    fn concurrent_edits_of_one_field_converge_and_report_the_conflict_until_resolved() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut a = new_doc(&form);
        a.add_repeat_instance(&index, &p("member"), None).unwrap();
        a.commit(Utc::now());
        let mut b = fork(&mut a);
        a.set_answer(&index, &p("member[0]/age"), Value::Integer(40)).unwrap();
        a.commit(Utc::now());
        b.set_answer(&index, &p("member[0]/age"), Value::Integer(44)).unwrap();
        b.commit(Utc::now());
        sync_both(&mut a, &mut b);

        let seen_a = a.answers(&index).unwrap().repeat("member")[0].value("age").cloned();
        let seen_b = b.answers(&index).unwrap().repeat("member")[0].value("age").cloned();
        assert_eq!(seen_a, seen_b, "replicas must converge");
        let conflicts = a.conflicts(&index).unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].path, p("member[0]/age"));
        let mut values: Vec<_> = conflicts[0].values.iter().map(|v| v.value.clone()).collect();
        values.sort_by_key(|v| format!("{v:?}"));
        assert_eq!(values, vec![Answer::Value(Value::Integer(40)), Answer::Value(Value::Integer(44))]);
        assert_eq!(conflicts[0].values.iter().filter(|v| v.winner).count(), 1);
        assert_eq!(b.conflicts(&index).unwrap(), conflicts);

        a.set_answer(&index, &p("member[0]/age"), Value::Integer(42)).unwrap();
        assert!(a.commit(Utc::now()).is_some(), "resolving with the winning value is still a change");
        sync_both(&mut a, &mut b);
        assert!(b.conflicts(&index).unwrap().is_empty());
        assert_eq!(b.answers(&index).unwrap().repeat("member")[0].value("age"), Some(&Value::Integer(42)));
    }

    #[test]
    fn history_lists_each_value_with_its_actor_and_clears() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut a = new_doc(&form);
        a.set_answer(&index, &p("village"), text("Kindia")).unwrap();
        a.commit(Utc::now());
        a.set_answer(&index, &p("hh_size"), Value::Integer(3)).unwrap();
        a.commit(Utc::now());
        let mut b = fork(&mut a);
        b.set_answer(&index, &p("village"), text("Kindia-Centre")).unwrap();
        b.commit(Utc::now());
        b.clear_answer(&index, &p("village")).unwrap();
        b.commit(Utc::now());

        let history = b.history(&index, &p("village")).unwrap();
        let values: Vec<_> = history.iter().map(|e| e.value.clone()).collect();
        assert_eq!(values, vec![Some(Answer::Value(text("Kindia"))), Some(Answer::Value(text("Kindia-Centre"))), None]);
        assert_eq!(history[0].actor, a.automerge().get_actor().to_hex_string());
        assert_eq!(history[1].actor, b.automerge().get_actor().to_hex_string());
        assert!(history.iter().all(|e| e.at.is_some()));
    }

    #[test]
    fn repeat_instances_can_be_inserted_removed_and_moved() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        for name in ["Awa", "Boubacar", "Chérif"] {
            let i = doc.add_repeat_instance(&index, &p("member"), None).unwrap();
            doc.set_answer(&index, &p("member").child(i, "member_name"), text(name)).unwrap();
        }
        doc.move_repeat_instance(&index, &p("member"), 2, 0).unwrap();
        doc.remove_repeat_instance(&index, &p("member"), 1).unwrap();
        doc.add_repeat_instance(&index, &p("member"), Some(0)).unwrap();
        doc.commit(Utc::now());
        let names: Vec<_> =
            doc.answers(&index).unwrap().repeat("member").iter().map(|m| m.value("member_name").cloned()).collect();
        assert_eq!(names, vec![None, Some(text("Chérif")), Some(text("Boubacar"))]);
        assert!(matches!(
            doc.remove_repeat_instance(&index, &p("member"), 9).unwrap_err(),
            DocumentError::NoSuchInstance { index: 9, len: 3, .. }
        ));
    }

    #[test]
    fn comments_longer_than_the_limit_are_refused() {
        let form = form();
        let mut doc = new_doc(&form);
        let long = crate::survey::NewComment { text: "x".repeat(crate::survey::MAX_COMMENT_CHARS + 1), question: None };
        assert!(matches!(doc.add_comment("sup", Utc::now(), &long), Err(DocumentError::InvalidValue { .. })));
        let fine = crate::survey::NewComment { text: "x".repeat(crate::survey::MAX_COMMENT_CHARS), question: None };
        doc.add_comment("sup", Utc::now(), &fine).unwrap();
    }

    #[test]
    fn merges_are_all_or_nothing() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        let heads = doc.heads();
        assert!(matches!(
            doc.merge_bytes(b"not automerge", &Budget::WRITE).unwrap_err(),
            DocumentError::Automerge(_) | DocumentError::Malformed(_)
        ));

        // Changes whose parents this replica lacks are refused, not half-applied.
        let mut other = fork(&mut doc);
        other.set_answer(&index, &p("village"), text("a")).unwrap();
        other.commit(Utc::now());
        let base = other.heads();
        other.set_answer(&index, &p("village"), text("b")).unwrap();
        other.commit(Utc::now());
        let orphan = other.save_after(&base);
        assert!(matches!(doc.merge_bytes(&orphan, &Budget::WRITE).unwrap_err(), DocumentError::MissingDependencies(1)));

        // Another survey, even of the same form, is refused.
        let author = Author::new("awa", "phone-1", Role::Enumerator);
        let mut stranger =
            SurveyDoc::create(&form, "s-2", &author, new_actor(), Utc::now(), &Answers::default()).unwrap();
        assert!(doc.merge_bytes(&stranger.save(), &Budget::WRITE).is_err());
        assert_eq!(doc.heads(), heads);
        assert!(doc.answers(&index).unwrap().value("village").is_none());
    }

    #[test]
    fn initial_answers_are_checked_and_written_in_one_change() {
        let form = form();
        let author = Author::new("awa", "phone-1", Role::Enumerator);
        let mut member = Answers::default();
        member.0.insert("age".into(), Answer::Value(Value::Integer(9)));
        let mut initial = Answers::default();
        initial.0.insert("village".into(), Answer::Value(text("Dabola")));
        initial.0.insert("member".into(), Answer::Repeat(vec![member.clone()]));
        let mut doc = SurveyDoc::create(&form, "s-1", &author, new_actor(), Utc::now(), &initial).unwrap();
        assert_eq!(doc.automerge_mut().get_changes(&[]).len(), 1);
        let answers = doc.answers(&FormIndex::new(&form)).unwrap();
        assert_eq!(answers.repeat("member")[0].value("age"), Some(&Value::Integer(9)));
        assert_eq!(answers.repeat("member")[0].repeat("illness").len(), 0);

        initial.0.insert("age".into(), Answer::Value(Value::Integer(9)));
        let err = SurveyDoc::create(&form, "s-1", &author, new_actor(), Utc::now(), &initial).unwrap_err();
        assert!(matches!(err, DocumentError::WrongPlace { .. }));
    }

    /// The last change of `doc`'s history with its first op counter set to `start_op`,
    /// after the changes it depends on: a well-formed chunk the front door admits.
    fn with_start_op(doc: &mut SurveyDoc, start_op: u64) -> Vec<u8> {
        let history = doc.save_after(&[]);
        let chunks = terrain_forge::split(&history).unwrap();
        let (last, before) = chunks.split_last().unwrap();
        let mut change = terrain_forge::Change::parse(last).unwrap();
        change.start_op = start_op;
        [before.concat(), change.encode()].concat()
    }

    #[test]
    fn op_counters_from_outside_are_held_to_the_budget() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        doc.set_answer(&index, &p("village"), text("Dabola")).unwrap();
        doc.commit(Utc::now());
        let honest = doc.save_after(&[]);
        assert!(SurveyDoc::from_untrusted(&honest, &Budget::WRITE).is_ok());

        // A one-answer change whose counter jumps to near 2^32: admitted by the front door,
        // it made a survey that stored but never compacted nor loaded again.
        let jump = with_start_op(&mut doc, u64::from(u32::MAX) - 10);
        assert!(intake::read(&jump, &Budget::WRITE).is_ok());
        let err = SurveyDoc::from_untrusted(&jump, &Budget::WRITE).unwrap_err();
        assert!(matches!(err, DocumentError::OverBudget(_)), "{err}");
        // Merged into a replica that holds the changes before it, the same.
        let first = terrain_forge::split(&honest).unwrap()[0].to_vec();
        let mut replica = SurveyDoc::from_untrusted(&first, &Budget::WRITE).unwrap();
        let heads = replica.heads();
        let merged = replica.merge_bytes(&jump, &Budget::WRITE);
        assert!(matches!(merged, Err(DocumentError::OverBudget(_))), "{merged:?}");
        assert_eq!(replica.heads(), heads);

        // A counter that starts again below its dependencies' is malformed.
        let back = with_start_op(&mut doc, 1);
        assert!(matches!(SurveyDoc::from_untrusted(&back, &Budget::WRITE), Err(DocumentError::Malformed(_))));
    }

    #[test]
    fn changes_that_do_not_survive_a_save_and_load_are_refused() {
        let form = form();
        let index = FormIndex::new(&form);
        let mut doc = new_doc(&form);
        doc.set_answer(&index, &p("village"), text("Dabola")).unwrap();
        doc.commit(Utc::now());
        doc.set_answer(&index, &p("village"), text("Kindia")).unwrap();
        doc.commit(Utc::now());
        let history = doc.save_after(&[]);
        let chunks = terrain_forge::split(&history).unwrap();
        let (last, before) = chunks.split_last().unwrap();
        // The correction made a hundred identical overwrites of the answer it corrects: every
        // column's one value repeated, consistent and canonical, and Automerge applies it;
        // but the document it makes saves to bytes that do not load again.
        let mut change = terrain_forge::Change::parse(last).unwrap();
        for column in &mut change.op_columns {
            column.data = match column.spec & 0b111 {
                terrain_forge::col::BOOL => vec![100],
                terrain_forge::col::VALUE => column.data.repeat(100),
                _ if column.data.first() == Some(&0x7f) => [&[0xe4, 0x00][..], &column.data[1..]].concat(),
                _ => column.data.clone(),
            };
        }
        let forged = [before.concat(), change.encode()].concat();
        assert!(intake::read(&forged, &Budget::WRITE).is_ok());
        let err = SurveyDoc::from_untrusted(&forged, &Budget::WRITE).unwrap_err();
        assert!(matches!(&err, DocumentError::Malformed(m) if m.contains("survive")), "{err}");
    }
}
