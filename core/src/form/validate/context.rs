//! The [`EvalContext`] of one expression: a node, in one scope, of one evaluation.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};

use super::messages::Language;
use super::plan::{NodeId, Plan};
use super::state::{ScopeId, State};
use crate::form::attachments;
use crate::form::expr::EvalContext;
use crate::form::model::Choice;

/// What does not change during one evaluation.
#[derive(Debug)]
pub(super) struct Env<'o> {
    pub language: Language<'o>,
    pub now: DateTime<FixedOffset>,
    pub seed: u64,
}

/// The survey seen from node `node` in scope `scope`.
pub(super) struct Ctx<'e, 'f, 'a> {
    pub plan: &'e Plan<'f>,
    pub state: &'e State<'a>,
    pub env: &'e Env<'e>,
    pub scope: ScopeId,
    /// The node whose column the expression is in; `None` for the form's own expressions
    /// (an entity's label, say), which are at the top and have no `.`.
    pub node: Option<NodeId>,
    /// The value of `.`.
    pub current: &'e str,
    /// The choice being filtered, for choice filters.
    pub choice: Option<&'f Choice>,
}

impl<'e, 'f, 'a> Ctx<'e, 'f, 'a> {
    pub fn new(plan: &'e Plan<'f>, state: &'e State<'a>, env: &'e Env<'e>, node: NodeId, scope: ScopeId) -> Self {
        let current = state.own(plan, node, scope);
        Ctx { plan, state, env, scope, node: Some(node), current, choice: None }
    }

    /// The context of an expression of the form itself, at the top of the survey.
    pub fn top(plan: &'e Plan<'f>, state: &'e State<'a>, env: &'e Env<'e>) -> Self {
        Ctx { plan, state, env, scope: 0, node: None, current: "", choice: None }
    }
}

impl EvalContext for Ctx<'_, '_, '_> {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        let &target = self.plan.by_name.get(name)?;
        Some(self.state.read(self.plan, target, self.scope))
    }

    fn current(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.current)
    }

    fn position(&self) -> Option<usize> {
        let scope = self.state.scopes.get(self.scope)?;
        scope.parent.map(|_| scope.index + 1)
    }

    fn indexed(&self, field: &str, repeats: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        let &target = self.plan.by_name.get(field)?;
        let node = &self.plan.nodes[target];
        // Walk down from the top through each repeat around the field: the listed instance,
        // else the one the current position is in.
        let mut at = 0;
        for &level in self.plan.levels.get(node.level)?.chain.iter().skip(1) {
            let repeat = self.plan.levels[level].repeat?;
            let name = self.plan.nodes[repeat].name;
            let index = match repeats.iter().find(|(r, _)| *r == name) {
                Some(&(_, n)) => n.saturating_sub(1),
                None => self.state.scopes.get(self.state.ancestor_at(self.scope, level)?)?.index,
            };
            at = self.state.child_instance(level, at, index)?;
        }
        Some(Cow::Borrowed(self.state.visible(self.plan, target, at).as_str()))
    }

    fn choice_label(&self, question: &str, code: &str) -> Option<Cow<'_, str>> {
        let &target = self.plan.by_name.get(question)?;
        let list = &self.plan.lists[self.plan.nodes[target].list?];
        let choice = list.choices.get(*list.by_code.get(code)?)?;
        self.env.language.text(&choice.label).map(Cow::Borrowed)
    }

    fn now(&self) -> DateTime<FixedOffset> {
        self.env.now
    }

    fn random_seed(&self) -> u64 {
        let scope = self.state.scopes.get(self.scope).map_or(0, |s| s.seed);
        let node = self.node.map_or(0, |node| self.plan.nodes[node].seed);
        self.env.seed ^ node ^ scope
    }

    /// The first row of the attached file whose `key_column` is `key`, as ODK reads it;
    /// `None` (so `''`) when the form has no such file attached.
    fn pulldata(&self, file: &str, column: &str, key_column: &str, key: &str) -> Option<Cow<'_, str>> {
        let &list = self.plan.list_names.get(attachments::pulldata_list(file).as_str())?;
        let row = self.plan.lists[list].choices.iter().find(|c| c.extra.get(key_column).is_some_and(|v| v == key))?;
        row.extra.get(column).map(|v| Cow::Borrowed(v.as_str()))
    }

    fn choice_column(&self, column: &str) -> Option<Cow<'_, str>> {
        self.column(self.choice?, column)
    }

    fn instance_len(&self, instance: &str) -> Option<usize> {
        Some(self.plan.lists[self.instance_list(instance)?].choices.len())
    }

    fn instance_cell(&self, instance: &str, index: usize, column: &str) -> Option<Cow<'_, str>> {
        let choice = self.plan.lists[self.instance_list(instance)?].choices.get(index)?;
        self.column(choice, column)
    }
}

impl<'f> Ctx<'_, 'f, '_> {
    /// A column of a choice or list item: `name`, `label` in the current language, or any
    /// other column of its row.
    fn column(&self, choice: &'f Choice, column: &str) -> Option<Cow<'f, str>> {
        match column {
            "name" => Some(Cow::Borrowed(&choice.name)),
            // A file only `pulldata()` or `instance()` reads keeps its labels as a column.
            "label" => self
                .env
                .language
                .text(&choice.label)
                .or_else(|| choice.extra.get("label").map(String::as_str))
                .map(Cow::Borrowed),
            other => choice.extra.get(other).map(|v| Cow::Borrowed(v.as_str())),
        }
    }

    /// The list `instance('name')` reads: the choices sheet's list `name`, else the file
    /// `name.csv`, `name.xml` or `name.geojson` attached to the form.
    fn instance_list(&self, name: &str) -> Option<usize> {
        if let Some(&list) = self.plan.list_names.get(name) {
            return Some(list);
        }
        attachments::instance_files(name).iter().find_map(|file| self.plan.list_names.get(file.as_str()).copied())
    }
}
