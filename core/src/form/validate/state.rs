//! The state of one evaluation: the repeat instances (scopes) that exist, and each node's
//! value and relevance in each of them.
//!
//! Answers are read once, when their scope is created; text and choice answers are borrowed
//! from the [`Answers`] rather than copied. Reads follow XLSForm's reference rules (see
//! [`State::read`]).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::ops::Range;

use super::plan::{Kind, LevelId, NodeId, Plan};
use crate::survey::{Answer, Answers};
use crate::value::Value;

/// Index of a scope in [`State::scopes`]; 0 is the top of the survey.
pub(super) type ScopeId = usize;

/// What every unanswered, non-relevant or valueless node reads as.
pub(super) static EMPTY: String = String::new();

/// A node's value in one scope.
#[derive(Debug)]
pub(super) enum Slot<'a> {
    /// Unanswered, or a group.
    Empty,
    /// A text or choice answer, borrowed from the answers.
    Borrowed(&'a String),
    /// An answer converted to its XPath string, or a calculated value.
    Owned(String),
    /// An answer the form cannot type, read as its raw text.
    Unreadable(&'a String),
    /// A repeat: its instances, as a range of the repeat level's scopes.
    Instances(Range<usize>),
}

impl Slot<'_> {
    pub fn text(&self) -> &String {
        match self {
            Slot::Borrowed(s) | Slot::Unreadable(s) => s,
            Slot::Owned(s) => s,
            Slot::Empty | Slot::Instances(_) => &EMPTY,
        }
    }
}

/// The top of the survey, or one repeat instance.
#[derive(Debug)]
pub(super) struct Scope<'a> {
    pub level: LevelId,
    pub parent: Option<ScopeId>,
    /// The 0-based instance index (0 for the top).
    pub index: usize,
    /// Where this scope's slots start in [`State::values`] and [`State::relevant`].
    pub base: usize,
    /// The instance's answers; `None` for an instance `repeat_count` asks for that the
    /// survey does not have yet.
    pub answers: Option<&'a Answers>,
    /// The repeat instances passed through to get here, as [`AnswerPath`] spells them.
    ///
    /// [`AnswerPath`]: crate::survey::AnswerPath
    pub instances: Vec<(String, usize)>,
    /// Mixed into `random()` seeds, from the instance indexes.
    pub seed: u64,
}

/// Everything one evaluation computes.
#[derive(Debug)]
pub(super) struct State<'a> {
    pub scopes: Vec<Scope<'a>>,
    /// The scopes of each level, in document order.
    pub by_level: Vec<Vec<ScopeId>>,
    pub values: Vec<Slot<'a>>,
    /// Relevance, inherited relevance included. Starts false: a node whose relevance was
    /// never computed (caught in a cycle) reads as empty.
    pub relevant: Vec<bool>,
    /// Per node, its values across every instance, built on first use by a reference from
    /// outside its repeats. Steps run dependencies first, so a node is final before any
    /// expression reads it and the cache never goes stale.
    nodesets: Vec<OnceCell<Vec<String>>>,
}

impl<'a> State<'a> {
    pub fn new(plan: &Plan<'_>, answers: &'a Answers) -> State<'a> {
        let slots: usize = plan.levels.first().map_or(0, |l| l.members.len());
        let mut state = State {
            scopes: Vec::new(),
            by_level: vec![Vec::new(); plan.levels.len()],
            values: Vec::with_capacity(slots),
            relevant: Vec::with_capacity(slots),
            nodesets: (0..plan.nodes.len()).map(|_| OnceCell::new()).collect(),
        };
        state.add_scope(plan, 0, None, 0, Some(answers));
        state
    }

    /// Creates a scope of `level` and reads its answers.
    pub fn add_scope(
        &mut self,
        plan: &Plan<'_>,
        level: LevelId,
        parent: Option<ScopeId>,
        index: usize,
        answers: Option<&'a Answers>,
    ) -> ScopeId {
        let id = self.scopes.len();
        let base = self.values.len();
        let members = plan.levels.get(level).map_or(&[][..], |l| &l.members[..]);
        let (instances, seed) = match parent.and_then(|p| self.scopes.get(p)) {
            Some(p) => {
                let mut instances = p.instances.clone();
                let repeat = plan.levels[level].repeat.map_or("", |r| plan.nodes[r].name);
                instances.push((repeat.to_owned(), index));
                (instances, mix(p.seed ^ (index as u64 + 1)))
            }
            None => (Vec::new(), 0),
        };
        for &member in members {
            let node = &plan.nodes[member];
            let slot = match (node.kind, answers.and_then(|a| a.get(node.name))) {
                (Kind::Question(_), Some(Answer::Value(value))) => match value {
                    Value::Text(text) | Value::Choice(text) => Slot::Borrowed(text),
                    other => Slot::Owned(other.to_odk_string()),
                },
                (Kind::Question(_), Some(Answer::Unreadable(text))) => Slot::Unreadable(text),
                _ => Slot::Empty,
            };
            self.values.push(slot);
            self.relevant.push(false);
        }
        self.scopes.push(Scope { level, parent, index, base, answers, instances, seed });
        if let Some(list) = self.by_level.get_mut(level) {
            list.push(id);
        }
        id
    }

    pub fn slot(&self, plan: &Plan<'_>, node: NodeId, scope: ScopeId) -> usize {
        self.scopes[scope].base + plan.nodes[node].local
    }

    /// The node's own value in `scope`, whatever its relevance (the `.` of its expressions).
    pub fn own(&self, plan: &Plan<'_>, node: NodeId, scope: ScopeId) -> &String {
        self.values[self.slot(plan, node, scope)].text()
    }

    /// The node's value as other expressions see it: empty when not relevant.
    pub fn visible(&self, plan: &Plan<'_>, node: NodeId, scope: ScopeId) -> &String {
        let slot = self.slot(plan, node, scope);
        if self.relevant[slot] { self.values[slot].text() } else { &EMPTY }
    }

    /// The scope of `level` that `scope` is in (or is), if any.
    pub fn ancestor_at(&self, mut scope: ScopeId, level: LevelId) -> Option<ScopeId> {
        loop {
            let s = self.scopes.get(scope)?;
            if s.level == level {
                return Some(scope);
            }
            scope = s.parent?;
        }
    }

    /// `${target}` seen from `from`, as the EvalContext contract describes:
    /// - a node on the top level or on a level enclosing `from` (a sibling in the current
    ///   instance, a field of an enclosing instance): its one value there;
    /// - a node inside repeats `from` is not in: its values in every instance, in document
    ///   order, limited to the instances inside the repeat instance both share (from
    ///   `member[2]`, `${days_ill}` of a nested `illness` repeat is member 2's illnesses);
    /// - a repeat: one empty entry per instance, limited the same way, so that `count()`
    ///   counts instances (from inside the repeat too).
    ///
    /// Non-relevant values read as `''`; a non-relevant repeat has no instances.
    pub fn read(&self, plan: &Plan<'_>, target: NodeId, from: ScopeId) -> Cow<'_, [String]> {
        let node = &plan.nodes[target];
        let from_level = self.scopes.get(from).map_or(0, |s| s.level);
        let (instances_level, is_repeat) = match node.kind {
            Kind::Repeat(_, inner) => (inner, true),
            _ => (node.level, false),
        };
        if !is_repeat {
            // The fast paths: a top-level question, or a sibling.
            let here = if node.level == 0 {
                Some(0)
            } else if node.level == from_level {
                Some(from)
            } else if plan.levels[from_level].chain.contains(&node.level) {
                self.ancestor_at(from, node.level)
            } else {
                None
            };
            if let Some(scope) = here {
                return Cow::Borrowed(std::slice::from_ref(self.visible(plan, target, scope)));
            }
        }
        let common = plan.common_level(node.level, from_level);
        let build = || {
            let anchor = self.ancestor_at(from, common);
            let scopes = self.by_level.get(instances_level).map_or(&[][..], |v| &v[..]);
            scopes
                .iter()
                .filter(|&&s| common == 0 || self.ancestor_at(s, common) == anchor)
                .map(|&s| if is_repeat { String::new() } else { self.visible(plan, target, s).clone() })
                .collect::<Vec<String>>()
        };
        if common == 0 { Cow::Borrowed(self.nodesets[target].get_or_init(build)) } else { Cow::Owned(build()) }
    }

    /// The instance of the repeat defining `level` inside `parent` with 0-based `index`.
    pub fn child_instance(&self, level: LevelId, parent: ScopeId, index: usize) -> Option<ScopeId> {
        self.by_level
            .get(level)?
            .iter()
            .copied()
            .filter(|&s| self.scopes.get(s).and_then(|s| s.parent) == Some(parent))
            .nth(index)
    }
}

/// SplitMix64's finaliser: spreads instance indexes over the seed's bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
