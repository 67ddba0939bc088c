//! What [`Evaluator::new`](super::Evaluator::new) compiles once per form: a flat table of
//! the form's nodes, the repeat levels they live on, the choice lists by code, and the order
//! in which the computed parts of the form (relevance, calculations, repeat instances) must
//! be evaluated.
//!
//! # Levels and slots
//! A *level* is the top of the form (level 0) or one repeat. Every node belongs to the level
//! of its innermost enclosing repeat; a repeat node itself belongs to its parent's level (it
//! has a relevance and an instance count there) and *defines* a level for its children.
//! While evaluating, each repeat instance is a *scope* holding one slot per member of its
//! level, so a node's value in an instance is `scope.base + node.local`: no hashing.
//!
//! # Steps and their order
//! Three kinds of [`Step`] compute something other expressions can read: the relevance of a
//! node, the calculation of a question, and the instances of a repeat (its `repeat_count`).
//! A step depends on
//! - the steps behind every `${name}` its expression references: the relevance of `name`
//!   (a non-relevant value reads as `''`), its calculation if it has one, and the instances of
//!   a repeat;
//! - for a relevance, the relevance of the enclosing group (relevance is inherited);
//! - for anything inside a repeat, the instances of that repeat.
//!
//! The steps are ordered by Tarjan's algorithm, which yields strongly connected components
//! dependencies first. A component of more than one step, or a step that depends on itself,
//! is a cycle: its steps are never evaluated (their values stay `''`, their relevance false)
//! and the cycle is reported, once per evaluation, rather than looped over. Dependencies are
//! tracked per node, not per repeat instance, so a running total that reads the previous
//! instance of the same field through `indexed-repeat` is reported as a cycle too, as
//! JavaRosa does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::form::expr::Expression;
use crate::form::model::{Choice, Form, Group, Node, Question};

/// Index of a node in [`Plan::nodes`].
pub(super) type NodeId = usize;
/// Index of a level in [`Plan::levels`]; 0 is the top of the form.
pub(super) type LevelId = usize;

/// What a node is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind<'f> {
    Question(&'f Question),
    Group(&'f Group),
    /// A repeat, and the level its instances make up.
    Repeat(&'f Group, LevelId),
}

impl Kind<'_> {
    /// The XLSForm type of a question, or `group` or `repeat`.
    pub fn xlsform_name(&self) -> &'static str {
        match self {
            Kind::Question(q) => q.kind.xlsform_name(),
            Kind::Group(_) => "group",
            Kind::Repeat(..) => "repeat",
        }
    }
}

/// One question, group or repeat of the form.
#[derive(Debug)]
pub(super) struct NodeInfo<'f> {
    pub name: &'f str,
    pub kind: Kind<'f>,
    /// The enclosing group or repeat node.
    pub parent: Option<NodeId>,
    /// The level whose scopes hold this node's slot.
    pub level: LevelId,
    /// The slot's index within a scope of `level`.
    pub local: usize,
    /// The question's choice list, as an index into [`Plan::lists`].
    pub list: Option<usize>,
    /// Mixed into `random()` seeds so that two questions draw different numbers; derived from
    /// the name, so it survives form versions that move questions around.
    pub seed: u64,
}

impl<'f> NodeInfo<'f> {
    pub fn relevant(&self) -> Option<&'f Expression> {
        match self.kind {
            Kind::Question(q) => q.relevant.as_ref(),
            Kind::Group(g) | Kind::Repeat(g, _) => g.relevant.as_ref(),
        }
    }

    pub fn calculation(&self) -> Option<&'f Expression> {
        match self.kind {
            Kind::Question(q) => q.calculation.as_ref(),
            _ => None,
        }
    }

    pub fn question(&self) -> Option<&'f Question> {
        match self.kind {
            Kind::Question(q) => Some(q),
            _ => None,
        }
    }
}

/// The top of the form or one repeat.
#[derive(Debug)]
pub(super) struct Level {
    /// The repeat node, `None` for the top level.
    pub repeat: Option<NodeId>,
    /// The levels from the top down to this one, inclusive.
    pub chain: Vec<LevelId>,
    /// The nodes whose slots a scope of this level holds, in form order.
    pub members: Vec<NodeId>,
}

/// A choice list, with its codes indexed.
#[derive(Debug)]
pub(super) struct ChoiceList<'f> {
    pub choices: &'f [Choice],
    pub by_code: HashMap<&'f str, usize>,
}

/// One computation that other expressions may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The relevance of a node, in every scope of its level.
    Relevance(NodeId),
    /// The calculation of a question, in every scope of its level.
    Calculate(NodeId),
    /// The instances of a repeat, in every scope of the repeat's parent level.
    Instances(NodeId),
}

/// A form compiled for evaluation.
#[derive(Debug)]
pub(super) struct Plan<'f> {
    pub nodes: Vec<NodeInfo<'f>>,
    pub levels: Vec<Level>,
    pub by_name: HashMap<&'f str, NodeId, BuildHasherDefault<NameHasher>>,
    pub lists: Vec<ChoiceList<'f>>,
    /// [`Plan::lists`] by name (files attached to the form are lists named after the file).
    pub list_names: HashMap<&'f str, usize>,
    /// The steps to run, dependencies first. Steps caught in a cycle are left out.
    pub order: Vec<Step>,
    /// Each cycle found: the node it is reported on, and a description.
    pub cycles: Vec<(NodeId, String)>,
}

impl<'f> Plan<'f> {
    pub fn new(form: &'f Form) -> Plan<'f> {
        let mut list_index = HashMap::new();
        let mut lists = Vec::new();
        for (name, choices) in &form.choice_lists {
            let mut by_code = HashMap::with_capacity(choices.len());
            for (i, choice) in choices.iter().enumerate() {
                // A duplicate code (allowed by a setting) keeps its first label, as ODK shows.
                by_code.entry(choice.name.as_str()).or_insert(i);
            }
            list_index.insert(name.as_str(), lists.len());
            lists.push(ChoiceList { choices, by_code });
        }
        let mut plan = Plan {
            nodes: Vec::new(),
            levels: vec![Level { repeat: None, chain: vec![0], members: Vec::new() }],
            by_name: HashMap::default(),
            lists,
            list_names: HashMap::new(),
            order: Vec::new(),
            cycles: Vec::new(),
        };
        plan.walk(&form.children, None, 0, &list_index);
        plan.list_names = list_index;
        plan.order_steps();
        plan
    }

    fn walk(&mut self, children: &'f [Node], parent: Option<NodeId>, level: LevelId, lists: &HashMap<&str, usize>) {
        for child in children {
            let id = self.nodes.len();
            let local = self.levels[level].members.len();
            self.levels[level].members.push(id);
            let (kind, list) = match child {
                Node::Question(q) => (Kind::Question(q), q.kind.choice_list().and_then(|l| lists.get(l).copied())),
                Node::Group(g) => (Kind::Group(g), None),
                Node::Repeat(g) => {
                    let inner = self.levels.len();
                    let mut chain = self.levels[level].chain.clone();
                    chain.push(inner);
                    self.levels.push(Level { repeat: Some(id), chain, members: Vec::new() });
                    (Kind::Repeat(g, inner), None)
                }
            };
            let name = child.name();
            self.nodes.push(NodeInfo { name, kind, parent, level, local, list, seed: name_seed(name) });
            // The importer refuses duplicate names; in a hand-written form the first one wins,
            // as in `FormIndex`.
            self.by_name.entry(name).or_insert(id);
            match (child, kind) {
                (Node::Group(g), _) => self.walk(&g.children, Some(id), level, lists),
                (Node::Repeat(g), Kind::Repeat(_, inner)) => self.walk(&g.children, Some(id), inner, lists),
                _ => {}
            }
        }
    }

    /// The deepest level that both `a` and `b` are inside of (or are).
    pub fn common_level(&self, a: LevelId, b: LevelId) -> LevelId {
        let (Some(a), Some(b)) = (self.levels.get(a), self.levels.get(b)) else { return 0 };
        a.chain.iter().zip(&b.chain).take_while(|(x, y)| x == y).last().map_or(0, |(x, _)| *x)
    }

    // Step ids for the graph: relevance `n`, calculation `N + n`, instances `2N + n`.
    fn step_id(&self, step: Step) -> usize {
        let n = self.nodes.len();
        match step {
            Step::Relevance(id) => id,
            Step::Calculate(id) => n + id,
            Step::Instances(id) => 2 * n + id,
        }
    }

    fn step_of(&self, id: usize) -> Step {
        let n = self.nodes.len().max(1);
        match id / n {
            0 => Step::Relevance(id),
            1 => Step::Calculate(id - n),
            _ => Step::Instances(id - 2 * n),
        }
    }

    /// The steps that reading `${name}` needs done first.
    fn read_dependencies(&self, name: &str, out: &mut Vec<usize>) {
        let Some(&target) = self.by_name.get(name) else {
            // Unknown names fail at evaluation time, with an error naming them.
            return;
        };
        out.push(self.step_id(Step::Relevance(target)));
        match self.nodes[target].kind {
            Kind::Question(q) if q.calculation.is_some() => out.push(self.step_id(Step::Calculate(target))),
            Kind::Repeat(..) => out.push(self.step_id(Step::Instances(target))),
            _ => {}
        }
    }

    fn order_steps(&mut self) {
        let n = self.nodes.len();
        let mut exists = vec![false; 3 * n];
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); 3 * n];
        for id in 0..n {
            let node = &self.nodes[id];
            let instance_dep = self.levels[node.level].repeat.map(|r| self.step_id(Step::Instances(r)));

            // Relevance: inherited from the enclosing group, computed per instance.
            let rel = self.step_id(Step::Relevance(id));
            exists[rel] = true;
            let mut d = Vec::new();
            if let Some(p) = node.parent {
                d.push(self.step_id(Step::Relevance(p)));
            }
            d.extend(instance_dep);
            for name in node.relevant().map(Expression::references).unwrap_or_default() {
                self.read_dependencies(name, &mut d);
            }
            deps[rel] = d;

            if let Some(calculation) = node.calculation() {
                let calc = self.step_id(Step::Calculate(id));
                exists[calc] = true;
                let mut d = vec![rel];
                for name in calculation.references() {
                    self.read_dependencies(name, &mut d);
                }
                deps[calc] = d;
            }

            if let Kind::Repeat(group, _) = node.kind {
                let inst = self.step_id(Step::Instances(id));
                exists[inst] = true;
                let mut d = vec![rel];
                for name in group.repeat_count.as_ref().map(Expression::references).unwrap_or_default() {
                    self.read_dependencies(name, &mut d);
                }
                deps[inst] = d;
            }
        }
        for d in &mut deps {
            d.sort_unstable();
            d.dedup();
        }

        for component in strongly_connected(&exists, &deps) {
            match component.as_slice() {
                [only] if !deps[*only].contains(only) => self.order.push(self.step_of(*only)),
                _ => {
                    let cycle = find_cycle(&component, &deps);
                    let first = cycle.first().copied().unwrap_or_default();
                    let description =
                        cycle.iter().chain(cycle.first()).map(|&s| self.describe(s)).collect::<Vec<_>>().join(" → ");
                    let node = match self.step_of(first) {
                        Step::Relevance(id) | Step::Calculate(id) | Step::Instances(id) => id,
                    };
                    self.cycles.push((
                        node,
                        format!(
                            "cycle in the form's logic: {description} (each needs the next); \
                             these are not evaluated"
                        ),
                    ));
                }
            }
        }
        // Reported in form order.
        self.cycles.sort_by_key(|(node, _)| *node);
    }

    fn describe(&self, step: usize) -> String {
        match self.step_of(step) {
            Step::Relevance(id) => format!("relevant of `{}`", self.nodes[id].name),
            Step::Calculate(id) => format!("calculation of `{}`", self.nodes[id].name),
            Step::Instances(id) => format!("instances of `{}`", self.nodes[id].name),
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of a name: a stable per-question `random()` seed component.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// FNV-1a for the name table, which every `${name}` of every evaluation goes through:
/// several times faster than SipHash on short names. The keys are the form's own names, so
/// the flooding resistance SipHash buys is not needed here.
#[derive(Debug)]
pub(super) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        NameHasher(FNV_OFFSET)
    }
}

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }
}

/// Tarjan's strongly connected components over the existing vertices, iteratively so that a
/// long dependency chain cannot exhaust the stack. Edges point from a step to what it needs,
/// so components come out dependencies first.
fn strongly_connected(exists: &[bool], deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = exists.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if !exists[root] || index[root] != UNSEEN {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        calls.push((root, 0));
        while let Some(top) = calls.last_mut() {
            let (v, edge) = *top;
            if let Some(&w) = deps[v].get(edge) {
                top.1 += 1;
                if !exists[w] {
                    continue;
                }
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    component.sort_unstable();
                    components.push(component);
                }
            }
        }
    }
    components
}

/// A shortest cycle through the component's first step, for a message a form author can
/// follow: each step needs the next.
fn find_cycle(component: &[usize], deps: &[Vec<usize>]) -> Vec<usize> {
    let Some(&start) = component.first() else { return Vec::new() };
    let members: HashSet<usize> = component.iter().copied().collect();
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &deps[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut at = v;
                while at != start {
                    match came_from.get(&at) {
                        Some(&prev) => {
                            path.push(prev);
                            at = prev;
                        }
                        None => break,
                    }
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = came_from.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    component.to_vec()
}
