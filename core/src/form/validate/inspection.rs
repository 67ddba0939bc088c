//! The node-by-node account of one evaluation, for people who read a form's logic rather
//! than fill it: `terrain form eval` prints it, the dashboard's preview renders it, and form
//! authors' scenario files assert on it.
//!
//! The form screen does not need it ([`Evaluation`] says what is hidden, missing and wrong
//! at a fraction of the cost), so it is built only by [`Evaluator::inspect`].
//!
//! [`Evaluator::inspect`]: super::Evaluator::inspect

use serde::Serialize;

use super::{Evaluation, Issue};
use crate::survey::AnswerPath;

/// What [`Evaluator::inspect`](super::Evaluator::inspect) returns: the evaluation, and every
/// node it walked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// The same evaluation the form screen gets.
    pub evaluation: Evaluation,
    /// Every question, group and repeat in every repeat instance the evaluation created, in
    /// form order. The contents of a hidden repeat are not listed (it has no instances).
    pub nodes: Vec<NodeState>,
}

impl Inspection {
    /// Whether the survey could be finalized in this state.
    pub fn is_finalizable(&self) -> bool {
        self.evaluation.is_complete()
    }

    /// What blocks finalizing: missing required answers, then violations, in form order.
    pub fn blocking(&self) -> impl Iterator<Item = (BlockKind, &Issue)> {
        let missing = self.evaluation.missing_required.iter().map(|i| (BlockKind::Required, i));
        missing.chain(self.evaluation.violations.iter().map(|i| (BlockKind::Violation, i)))
    }

    /// The node at `path`, if the evaluation walked it.
    pub fn node(&self, path: &AnswerPath) -> Option<&NodeState> {
        self.nodes.iter().find(|n| &n.path == path)
    }
}

/// Why a survey cannot be finalized yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// A required answer is missing.
    Required,
    /// An answer breaks its constraint, or is not among the choices offered.
    Violation,
}

/// One question, group or repeat in one repeat instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeState {
    /// Where it is.
    pub path: AnswerPath,
    /// The XLSForm type (`integer`, `select_one`, …), or `group` or `repeat`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether it is shown (its own and its enclosing groups' `relevant`).
    pub relevant: bool,
    /// Whether an answer is required now. Only questions that take an answer are ever
    /// required; hidden ones never are.
    pub required: bool,
    /// Whether the answer may not be edited (`read_only`).
    pub read_only: bool,
    /// The value other expressions read: the answer, or the calculation's result. `None`
    /// when empty, and for groups and repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// How the answer fared against the question's rules.
    pub constraint: Check,
    /// The message of a failed check, in the evaluation's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For shown selects: the codes offered, in list order, after `choice_filter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// For shown repeats: how many instances there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
}

/// The outcome of a question's checks on its answer: its `constraint`, and for selects,
/// whether the answer is among the choices offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Nothing to check: hidden, unanswered, or no rule.
    NotChecked,
    /// The answer meets every rule.
    Passed,
    /// The answer breaks a rule; [`NodeState::message`] says which.
    Failed,
    /// A rule could not be evaluated (the form's mistake, listed in the errors).
    Error,
}

impl NodeState {
    pub(super) fn new(path: AnswerPath, kind: &'static str, relevant: bool) -> NodeState {
        NodeState {
            path,
            kind,
            relevant,
            required: false,
            read_only: false,
            value: None,
            constraint: Check::NotChecked,
            message: None,
            choices: None,
            instances: None,
        }
    }
}
