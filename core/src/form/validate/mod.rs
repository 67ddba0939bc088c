//! The form validation engine: what a form screen calls after every answer.
//!
//! [`Evaluator::new`] compiles a form once (a name table, the repeat structure, the order in
//! which relevance, calculations and repeat counts depend on each other, and any cycle among
//! them). [`Evaluator::evaluate`] then takes a survey's [`Answers`] and returns an
//! [`Evaluation`]: what is shown, what is missing, which answers break a constraint, the
//! calculated values, the choices to offer, the repeat counts, and the form's runtime errors.
//! It never panics and never writes anything; the caller decides what to store.
//!
//! ```ignore
//! let evaluator = Evaluator::new(&form);            // once per form
//! let options = EvalOptions { language: Some("fr".into()), now, seed: survey_seed };
//! let result = evaluator.evaluate(&answers, &options); // after every answer
//! if result.is_complete() { /* offer "finalize" */ }
//! ```
//!
//! # Semantics (ODK Collect's, from JavaRosa)
//! - **Relevance** is inherited: a group's `relevant` applies to everything inside it. A
//!   non-relevant question is hidden, not required, its constraint is not checked, and other
//!   expressions read its value as `''`. A non-relevant repeat has no instances as far as
//!   expressions see. A repeat's `relevant` is evaluated once per enclosing scope, for the
//!   repeat as a whole (JavaRosa evaluates it per instance, which only differs for a
//!   `relevant` that uses `position(..)` or the instance's own fields).
//! - **References**: inside a repeat instance, `${sibling}` is the sibling in the same
//!   instance; a field inside a repeat referenced from outside it is the node-set of its
//!   values in every instance (limited to the repeat instance both share, for nested
//!   repeats); `position(..)` is the 1-based instance index; `indexed-repeat` picks an
//!   instance; `jr:choice-name` gives the label in the chosen language.
//! - **Calculations** run in dependency order and their values are visible to every later
//!   expression. `.` in a calculation is the value stored in the answers, so `once(...)`
//!   keeps a value the caller stored. Calculations of non-relevant questions are not
//!   reported (ODK leaves them out of submissions).
//! - **Required**: a relevant question whose `required` holds and whose answer is empty (an
//!   unticked acknowledge included). Notes and calculations are never missing.
//! - **Constraints** are checked only on answered, relevant questions, with `.` the answer.
//! - **Choices**: a select with a `choice_filter` has the filter evaluated per choice (bare
//!   names read the choice's columns: `name`, `label`, or extra columns such as `region`).
//!   An answer the filter no longer offers is a *violation* (ODK only warns): a prefecture
//!   that does not belong to the region chosen since is exactly the error a survey must not be
//!   finalized with, and the message says to choose again. Any select answer that is not a
//!   code of its list at all, and any stored answer the question's type cannot read
//!   ([`Answer::Unreadable`](crate::survey::Answer::Unreadable)), is a violation too.
//! - **Repeat counts**: a repeat with `repeat_count` has exactly that many instances (a
//!   non-number or negative count is 0; more than [`MAX_REPEAT_COUNT`] is capped and
//!   reported). Instances the survey does not have yet are evaluated as empty, so their
//!   required questions are reported missing at paths like `member[3]/name`; instances
//!   beyond the count are ignored. Without `repeat_count`, the survey's instances count.
//! - **Errors**: an expression that fails at run time ([`EvalError`]) is reported in
//!   [`Evaluation::errors`] with the question's path and the expression, and its result
//!   counts as false (relevant, required, choice filter) or empty (calculation, repeat count).
//!   A failing constraint is reported there only, not as a violation: the enumerator cannot
//!   fix the form's mistake, and the author's message would describe another problem.
//!   Cycles among relevance and calculations are found by [`Evaluator::new`] and reported in
//!   every evaluation's errors; the steps in a cycle are not evaluated (empty, not relevant).
//!
//! Not done here: defaults (`default` is applied when an instance is created), label
//! interpolation (`${name}` in labels), `read_only`, and `trigger`.
//!
//! # Cost
//! One evaluation allocates the per-instance slots once and converts each answer to its
//! XPath string once (text and choices are borrowed, not copied); expressions are parsed at
//! import and names are resolved through one hash lookup into precomputed slots. See
//! `core/benches/validate.rs`.
//!
//! [`EvalError`]: crate::form::expr::EvalError

mod context;
mod inspection;
mod messages;
mod plan;
mod state;

#[cfg(test)]
mod missions;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::form::expr::{EvalError, Expression, XValue};
use crate::form::model::{Form, QuestionType};
use crate::survey::{AnswerPath, Answers};

use context::{Ctx, Env};
pub use inspection::{BlockKind, Check, Inspection, NodeState};
use messages::{Builtin, Language};
use plan::{Kind, NodeId, Plan, Step};
use state::{ScopeId, Slot, State};

/// The most instances a `repeat_count` may ask for; a larger count is capped and reported,
/// so that a typo (`1000000`) cannot exhaust a phone's memory.
pub const MAX_REPEAT_COUNT: usize = 10_000;

/// A form compiled for evaluation. Build one per form (cheap: proportional to the form's
/// size) and reuse it for every evaluation of every survey of that form.
#[derive(Debug)]
pub struct Evaluator<'f> {
    form: &'f Form,
    plan: Plan<'f>,
    /// Problems with the form itself (cycles), reported in every evaluation.
    form_errors: Vec<Issue>,
}

/// What an evaluation depends on besides the answers.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// The language of messages and of `jr:choice-name` labels: a language of the form as
    /// written there (`Français (fr)`), or its code (`fr`) or name (`Français`). `None` is
    /// the form's default language.
    pub language: Option<String>,
    /// The time `today()` and `now()` read, at the device's UTC offset.
    pub now: DateTime<FixedOffset>,
    /// The seed of `random()` and `uuid()`. Keep it fixed per survey (derive it from the
    /// survey id) so that re-evaluating does not draw again; it is further mixed per question
    /// and repeat instance.
    pub seed: u64,
}

/// A problem at one place of a survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The question, group or repeat the problem is about. Problems with the form itself
    /// (cycles) carry the node's bare name.
    pub path: AnswerPath,
    /// What is wrong, for the enumerator (missing answers, violations, in the chosen
    /// language) or for the form's author (errors, in English).
    pub message: String,
}

/// The result of evaluating a survey's answers against its form.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// Every question, group and repeat that is not relevant (hidden), in the survey's
    /// existing repeat instances; everything else is relevant. A set of the hidden rather
    /// than a map of everything, because it costs nothing for the typical shown question and
    /// a lookup answers "is it shown?". A hidden repeat is listed once, not its instances'
    /// contents: use [`Evaluation::is_relevant`], which also checks enclosing repeats.
    pub non_relevant: BTreeSet<AnswerPath>,
    /// Relevant, required, unanswered questions, in form order, with the form's
    /// `required_message` in the chosen language (or a default in English or French).
    pub missing_required: Vec<Issue>,
    /// Answered, relevant questions whose constraint fails (with the form's
    /// `constraint_message`), select answers not among the choices offered, and stored
    /// answers the question's type cannot read; in form order.
    pub violations: Vec<Issue>,
    /// The values of relevant questions with a calculation, as XPath strings (the form an
    /// answer would be stored in). Not written anywhere: the caller decides.
    pub calculated: BTreeMap<AnswerPath, String>,
    /// For relevant select questions with a `choice_filter`: the codes to offer, in list
    /// order.
    pub choices: BTreeMap<AnswerPath, Vec<String>>,
    /// For relevant repeats with a `repeat_count`: how many instances there must be.
    pub repeat_counts: BTreeMap<AnswerPath, usize>,
    /// Expressions that failed at run time, and cycles in the form's logic: problems for the
    /// form's author, in English.
    pub errors: Vec<Issue>,
}

/// The key in [`crate::form::Translations`] of the language `wanted` names (a form
/// language, its code such as `fr`, or its name), as evaluations resolve it; `None` picks
/// the form's default. Apps use it to show labels in the language messages come in.
pub fn language_key<'f>(form: &'f Form, wanted: Option<&'f str>) -> Option<&'f str> {
    Language::resolve(form, wanted).key()
}

impl Evaluation {
    /// Whether the survey can be finalized: nothing required is missing and no answer is in
    /// violation. (Errors are the form's, and do not block the enumerator.)
    pub fn is_complete(&self) -> bool {
        self.missing_required.is_empty() && self.violations.is_empty()
    }

    /// Whether the question, group or repeat at `path` is relevant: neither it nor a repeat
    /// enclosing it is in [`Evaluation::non_relevant`]. (Groups are not part of paths; a
    /// hidden group's contents are listed one by one.)
    pub fn is_relevant(&self, path: &AnswerPath) -> bool {
        if self.non_relevant.contains(path) {
            return false;
        }
        (0..path.instances.len()).all(|depth| {
            let repeat =
                AnswerPath { instances: path.instances[..depth].to_vec(), name: path.instances[depth].0.clone() };
            !self.non_relevant.contains(&repeat)
        })
    }
}

impl<'f> Evaluator<'f> {
    /// Compiles `form`: indexes its nodes and choice lists, orders its relevance,
    /// calculations and repeat counts by dependency, and finds cycles among them.
    pub fn new(form: &'f Form) -> Evaluator<'f> {
        let plan = Plan::new(form);
        let form_errors = plan
            .cycles
            .iter()
            .map(|(node, message)| Issue { path: AnswerPath::top(plan.nodes[*node].name), message: message.clone() })
            .collect();
        Evaluator { form, plan, form_errors }
    }

    /// The form this evaluator was built for.
    pub fn form(&self) -> &'f Form {
        self.form
    }

    /// Evaluates a survey's answers in full. See the module documentation for the rules.
    pub fn evaluate(&self, answers: &Answers, options: &EvalOptions) -> Evaluation {
        self.run(answers, options, None, &[]).0
    }

    /// Evaluates like [`Evaluator::evaluate`], then each of `expressions` at the top of the
    /// survey, where the form's own expressions sit (an entity's label and conditions): they
    /// see every calculation, and a non-relevant question as `''`. Returns the evaluation and
    /// each expression's value.
    pub fn evaluate_with(
        &self,
        answers: &Answers,
        options: &EvalOptions,
        expressions: &[&Expression],
    ) -> (Evaluation, Vec<Result<XValue, EvalError>>) {
        let (evaluation, _, values) = self.run(answers, options, None, expressions);
        (evaluation, values)
    }

    /// Evaluates like [`Evaluator::evaluate`] (the same [`Evaluation`]), and also reports
    /// every node: whether it is shown, required and read-only, its value, how its answer
    /// fared and the choices it offers. For form authors and previews; it costs more.
    pub fn inspect(&self, answers: &Answers, options: &EvalOptions) -> Inspection {
        let (evaluation, nodes, _) = self.run(answers, options, Some(Vec::new()), &[]);
        Inspection { evaluation, nodes: nodes.unwrap_or_default() }
    }

    fn run(
        &self,
        answers: &Answers,
        options: &EvalOptions,
        detail: Option<Vec<NodeState>>,
        expressions: &[&Expression],
    ) -> (Evaluation, Option<Vec<NodeState>>, Vec<Result<XValue, EvalError>>) {
        let env = Env {
            language: Language::resolve(self.form, options.language.as_deref()),
            now: options.now,
            seed: options.seed,
        };
        let mut run = Run {
            plan: &self.plan,
            env: &env,
            state: State::new(&self.plan, answers),
            out: Evaluation { errors: self.form_errors.clone(), ..Evaluation::default() },
            detail,
        };
        for &step in &self.plan.order {
            match step {
                Step::Relevance(node) => run.relevance(node),
                Step::Calculate(node) => run.calculate(node),
                Step::Instances(node) => run.instances(node),
            }
        }
        run.report(0);
        let ctx = Ctx::top(run.plan, &run.state, run.env);
        let values = expressions.iter().map(|e| e.evaluate(&ctx)).collect();
        (run.out, run.detail, values)
    }
}

/// One evaluation in progress.
struct Run<'e, 'f, 'a> {
    plan: &'e Plan<'f>,
    env: &'e Env<'e>,
    state: State<'a>,
    out: Evaluation,
    /// Every node walked, when inspecting ([`Evaluator::inspect`]).
    detail: Option<Vec<NodeState>>,
}

impl<'f> Run<'_, 'f, '_> {
    fn path(&self, node: NodeId, scope: ScopeId) -> AnswerPath {
        AnswerPath {
            instances: self.state.scopes[scope].instances.clone(),
            name: self.plan.nodes[node].name.to_owned(),
        }
    }

    fn error(&mut self, node: NodeId, scope: ScopeId, column: &str, expression: &Expression, error: &EvalError) {
        let path = self.path(node, scope);
        self.out.errors.push(Issue { path, message: format!("{column} `{expression}`: {error}") });
    }

    fn scopes_of(&self, node: NodeId) -> usize {
        self.state.by_level.get(self.plan.nodes[node].level).map_or(0, Vec::len)
    }

    fn scope_at(&self, node: NodeId, i: usize) -> ScopeId {
        self.state.by_level[self.plan.nodes[node].level][i]
    }

    /// Computes the node's relevance in every scope of its level: its own `relevant`, and
    /// its enclosing group's.
    fn relevance(&mut self, node: NodeId) {
        let plan = self.plan;
        let info = &plan.nodes[node];
        for i in 0..self.scopes_of(node) {
            let scope = self.scope_at(node, i);
            let inherited = match info.parent {
                // A node directly inside a repeat is in an instance, which exists only when
                // the repeat is relevant.
                Some(parent) if self.plan.nodes[parent].level == info.level => {
                    self.state.relevant[self.state.slot(self.plan, parent, scope)]
                }
                _ => true,
            };
            let relevant = match info.relevant() {
                Some(expression) if inherited => {
                    let result = expression.evaluate_bool(&Ctx::new(self.plan, &self.state, self.env, node, scope));
                    result.unwrap_or_else(|e| {
                        self.error(node, scope, "relevant", expression, &e);
                        false
                    })
                }
                _ => inherited,
            };
            let slot = self.state.slot(self.plan, node, scope);
            self.state.relevant[slot] = relevant;
        }
    }

    /// Computes the question's calculation in every scope of its level where it is relevant.
    fn calculate(&mut self, node: NodeId) {
        let plan = self.plan;
        let Some(expression) = plan.nodes[node].calculation() else { return };
        for i in 0..self.scopes_of(node) {
            let scope = self.scope_at(node, i);
            let slot = self.state.slot(self.plan, node, scope);
            if !self.state.relevant[slot] {
                continue;
            }
            let result = expression.evaluate_string(&Ctx::new(self.plan, &self.state, self.env, node, scope));
            let value = result.unwrap_or_else(|e| {
                self.error(node, scope, "calculation", expression, &e);
                String::new()
            });
            self.state.values[slot] = Slot::Owned(value);
        }
    }

    /// Creates the repeat's instances in every scope of its parent level where it is
    /// relevant: as many as `repeat_count` says, else as many as the survey has.
    fn instances(&mut self, node: NodeId) {
        let plan = self.plan;
        let Kind::Repeat(group, inner) = plan.nodes[node].kind else { return };
        let name = plan.nodes[node].name;
        for i in 0..self.scopes_of(node) {
            let scope = self.scope_at(node, i);
            let slot = self.state.slot(self.plan, node, scope);
            if !self.state.relevant[slot] {
                continue;
            }
            let existing = self.state.scopes[scope].answers.map_or(&[][..], |a| a.repeat(name));
            let count = match &group.repeat_count {
                None => existing.len(),
                Some(expression) => {
                    let ctx = Ctx::new(self.plan, &self.state, self.env, node, scope);
                    match expression.evaluate(&ctx) {
                        Ok(value) => self.repeat_count(node, scope, expression, value.to_number()),
                        Err(e) => {
                            self.error(node, scope, "repeat_count", expression, &e);
                            0
                        }
                    }
                }
            };
            let start = self.state.by_level.get(inner).map_or(0, Vec::len);
            for index in 0..count {
                self.state.add_scope(self.plan, inner, Some(scope), index, existing.get(index));
            }
            self.state.values[slot] = Slot::Instances(start..start + count);
        }
    }

    fn repeat_count(&mut self, node: NodeId, scope: ScopeId, expression: &Expression, count: f64) -> usize {
        if count.is_nan() || count < 1.0 {
            // An empty count (NaN), zero and negative counts.
            return 0;
        }
        if count > MAX_REPEAT_COUNT as f64 {
            let path = self.path(node, scope);
            let message =
                format!("repeat_count `{expression}` is {count}; only the first {MAX_REPEAT_COUNT} instances are used");
            self.out.errors.push(Issue { path, message });
            return MAX_REPEAT_COUNT;
        }
        count as usize
    }

    /// Walks `scope` in document order, descending into repeat instances, and reports.
    fn report(&mut self, scope: ScopeId) {
        let plan = self.plan;
        let level = self.state.scopes[scope].level;
        let members = plan.levels.get(level).map_or(&[][..], |l| &l.members[..]);
        for &node in members {
            let slot = self.state.slot(self.plan, node, scope);
            let kind = plan.nodes[node].kind;
            if !self.state.relevant[slot] {
                let path = self.path(node, scope);
                if let Some(detail) = &mut self.detail {
                    detail.push(NodeState::new(path.clone(), kind.xlsform_name(), false));
                }
                self.out.non_relevant.insert(path);
                continue;
            }
            match kind {
                Kind::Question(_) => self.check_question(node, scope),
                Kind::Group(_) => {
                    if self.detail.is_some() {
                        self.record(Some(NodeState::new(self.path(node, scope), kind.xlsform_name(), true)));
                    }
                }
                Kind::Repeat(group, inner) => {
                    let range = match &self.state.values[slot] {
                        Slot::Instances(range) => range.clone(),
                        _ => 0..0,
                    };
                    if group.repeat_count.is_some() {
                        let path = self.path(node, scope);
                        self.out.repeat_counts.insert(path, range.len());
                    }
                    if self.detail.is_some() {
                        let mut state = NodeState::new(self.path(node, scope), kind.xlsform_name(), true);
                        state.instances = Some(range.len());
                        self.record(Some(state));
                    }
                    for i in range {
                        if let Some(&instance) = self.state.by_level.get(inner).and_then(|v| v.get(i)) {
                            self.report(instance);
                        }
                    }
                }
            }
        }
    }

    /// Required, constraint, choices and calculated value of one relevant question.
    fn check_question(&mut self, node: NodeId, scope: ScopeId) {
        let plan = self.plan;
        let Some(question) = plan.nodes[node].question() else { return };
        let slot = self.state.slot(self.plan, node, scope);
        let language = self.env.language;
        let mut detail = self.detail.is_some().then(|| {
            let mut state = NodeState::new(self.path(node, scope), question.kind.xlsform_name(), true);
            let value = self.state.values[slot].text();
            state.value = (!value.is_empty()).then(|| value.clone());
            state.read_only = question.read_only.as_ref().is_some_and(|e| self.holds(e, node, scope));
            state
        });
        if question.calculation.is_some() {
            let path = self.path(node, scope);
            self.out.calculated.insert(path, self.state.values[slot].text().clone());
        }
        if matches!(question.kind, QuestionType::Note) {
            self.record(detail);
            return;
        }
        if let Slot::Unreadable(text) = &self.state.values[slot] {
            let message = messages::unreadable(language.french, text, question.kind.xlsform_name());
            if let Some(state) = &mut detail {
                (state.constraint, state.message) = (Check::Failed, Some(message.clone()));
            }
            let path = self.path(node, scope);
            self.out.violations.push(Issue { path, message });
            self.record(detail);
            return;
        }
        let answered = !self.state.values[slot].text().is_empty();
        let takes_answer = !matches!(question.kind, QuestionType::Calculate);

        if !answered
            && takes_answer
            && let Some(required) = &question.required
        {
            let result = required.evaluate_bool(&Ctx::new(self.plan, &self.state, self.env, node, scope));
            let required_now = result.unwrap_or_else(|e| {
                self.error(node, scope, "required", required, &e);
                false
            });
            if required_now {
                let message = language.message(&question.required_message, Builtin::Required);
                if let Some(state) = &mut detail {
                    (state.required, state.message) = (true, Some(message.clone()));
                }
                let path = self.path(node, scope);
                self.out.missing_required.push(Issue { path, message });
            }
        } else if let Some(state) = &mut detail {
            // The form screen never asks whether an answered question is required; an
            // inspection does, without reporting errors the evaluation would not have.
            state.required = takes_answer && question.required.as_ref().is_some_and(|e| self.holds(e, node, scope));
        }

        if answered && let Some(constraint) = &question.constraint {
            let outcome = match constraint.evaluate_bool(&Ctx::new(self.plan, &self.state, self.env, node, scope)) {
                Ok(true) => (Check::Passed, None),
                Ok(false) => {
                    let message = language.message(&question.constraint_message, Builtin::Constraint);
                    let path = self.path(node, scope);
                    self.out.violations.push(Issue { path, message: message.clone() });
                    (Check::Failed, Some(message))
                }
                Err(e) => {
                    self.error(node, scope, "constraint", constraint, &e);
                    (Check::Error, None)
                }
            };
            if let Some(state) = &mut detail {
                (state.constraint, state.message) = outcome;
            }
        }

        if let Some(list) = self.plan.nodes[node].list {
            let (offered, problem) = self.check_choices(node, scope, list, answered);
            if let Some(state) = &mut detail {
                state.choices = Some(offered);
                if let Some(message) = problem
                    && state.constraint != Check::Failed
                {
                    (state.constraint, state.message) = (Check::Failed, Some(message));
                } else if answered && state.constraint == Check::NotChecked {
                    state.constraint = Check::Passed;
                }
            }
        }
        self.record(detail);
    }

    /// Whether `expression` holds for `node` in `scope`, an error counting as false and not
    /// reported: for what only an inspection asks.
    fn holds(&self, expression: &Expression, node: NodeId, scope: ScopeId) -> bool {
        expression.evaluate_bool(&Ctx::new(self.plan, &self.state, self.env, node, scope)).unwrap_or(false)
    }

    fn record(&mut self, state: Option<NodeState>) {
        if let (Some(detail), Some(state)) = (&mut self.detail, state) {
            detail.push(state);
        }
    }

    /// Filters the choices of a select, and checks its answer against them. Returns the
    /// codes offered when inspecting (else nothing), and the violation found, if any.
    fn check_choices(
        &mut self,
        node: NodeId,
        scope: ScopeId,
        list: usize,
        answered: bool,
    ) -> (Vec<String>, Option<String>) {
        let plan = self.plan;
        let Some(question) = plan.nodes[node].question() else { return (Vec::new(), None) };
        let list = &plan.lists[list];
        let french = self.env.language.french;
        let mut offered: Option<Vec<bool>> = None;
        // The codes the filter offers, kept for an inspection.
        let mut filtered: Option<Vec<String>> = None;
        if let Some(filter) = &question.choice_filter {
            let mut keep = Vec::with_capacity(list.choices.len());
            let mut failed = None;
            {
                let mut ctx = Ctx::new(self.plan, &self.state, self.env, node, scope);
                for choice in list.choices {
                    ctx.choice = Some(choice);
                    match filter.evaluate_bool(&ctx) {
                        Ok(yes) => keep.push(yes),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if let Some(e) = failed {
                // One report per question, not one per choice; nothing is offered.
                self.error(node, scope, "choice_filter", filter, &e);
                keep = vec![false; list.choices.len()];
            }
            let codes: Vec<String> =
                list.choices.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c.name.clone()).collect();
            if self.detail.is_some() {
                filtered = Some(codes.clone());
            }
            let path = self.path(node, scope);
            self.out.choices.insert(path, codes);
            offered = Some(keep);
        }
        let codes = match (&self.detail, filtered) {
            (None, _) => Vec::new(),
            (Some(_), Some(codes)) => codes,
            (Some(_), None) => list.choices.iter().map(|c| c.name.clone()).collect(),
        };
        if !answered {
            return (codes, None);
        }
        let value = self.state.values[self.state.slot(self.plan, node, scope)].text();
        let mut problem = None;
        for code in value.split_whitespace() {
            match list.by_code.get(code) {
                None => {
                    problem = Some(messages::unknown_choice(french, code));
                    break;
                }
                Some(&i) if offered.as_ref().is_some_and(|o| !o.get(i).copied().unwrap_or(false)) => {
                    let label = list.choices.get(i).and_then(|c| self.env.language.text(&c.label)).unwrap_or(code);
                    problem = Some(messages::not_offered(french, label));
                    break;
                }
                Some(_) => {}
            }
        }
        if let Some(message) = &problem {
            let path = self.path(node, scope);
            self.out.violations.push(Issue { path, message: message.clone() });
        }
        (codes, problem)
    }
}
