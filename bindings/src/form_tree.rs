//! The form as a tree of records for rendering: labels, hints and choices in one language.

use std::collections::HashMap;

use terrain_core::form::{Choice, Form, Node, Question, Translations, language_key};

/// A form version ready to render, in one language.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FormTree {
    /// The form's id.
    pub form_id: String,
    /// The version.
    pub version: String,
    /// The title.
    pub title: String,
    /// The languages the form is written in (`Français (fr)`…).
    pub languages: Vec<String>,
    /// The language the labels below are in (`None`: the form has no named languages).
    pub language: Option<String>,
    /// The top-level questions, groups and repeats, in form order.
    pub children: Vec<FormNode>,
}

/// What a node of the form is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NodeKind {
    /// A question (including notes and calculations, which show or take no answer).
    Question,
    /// A group of nodes shown together; not part of answer paths.
    Group,
    /// A repeated group: its answers live at `name[index]/question`.
    Repeat,
}

/// One node of the form tree.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FormNode {
    /// Question, group or repeat.
    pub kind: NodeKind,
    /// The node's name: a question's answer path ends with it.
    pub name: String,
    /// The label in the chosen language.
    pub label: Option<String>,
    /// The hint in the chosen language.
    pub hint: Option<String>,
    /// The XLSForm type of a question (`integer`, `select_one`, `geopoint`…); empty for
    /// groups and repeats.
    pub question_type: String,
    /// For select questions: the choices, in list order (filtered choices come from the
    /// evaluation).
    pub choices: Vec<ChoiceItem>,
    /// Whether a select question has an "other" choice.
    pub or_other: bool,
    /// The appearance (`minimal`, `field-list`…).
    pub appearance: Option<String>,
    /// Whether the question has a `required` expression (the evaluation says whether it is
    /// required and missing now).
    pub required: bool,
    /// Whether the node has a `relevant` expression.
    pub conditional: bool,
    /// Whether the question has a `read_only` expression, or is a calculation or note.
    pub read_only: bool,
    /// Whether a repeat's instance count comes from the form (`repeat_count`).
    pub counted: bool,
    /// Question parameters (`start`, `end`, `step` of a range…).
    pub parameters: HashMap<String, String>,
    /// The children of a group or repeat, in form order.
    pub children: Vec<FormNode>,
}

/// One choice of a select question.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChoiceItem {
    /// The code stored as the answer.
    pub code: String,
    /// The label in the chosen language.
    pub label: Option<String>,
}

impl FormTree {
    /// The tree of `form` with texts in `language` (a form language, its code or its name).
    pub(crate) fn new(form: &Form, language: Option<&str>) -> FormTree {
        let key = language_key(form, language);
        let fallback = form.default_language.as_deref();
        let text = |t: &Translations| t.get(key, fallback).map(str::to_owned);
        let tree = Builder { form, text: &text };
        FormTree {
            form_id: form.id.clone(),
            version: form.version.clone(),
            title: form.title.clone(),
            languages: form.languages.clone(),
            language: key.map(str::to_owned),
            children: form.children.iter().map(|n| tree.node(n)).collect(),
        }
    }
}

struct Builder<'a> {
    form: &'a Form,
    text: &'a dyn Fn(&Translations) -> Option<String>,
}

impl Builder<'_> {
    fn node(&self, node: &Node) -> FormNode {
        match node {
            Node::Question(q) => self.question(q),
            Node::Group(g) | Node::Repeat(g) => FormNode {
                kind: if matches!(node, Node::Repeat(_)) { NodeKind::Repeat } else { NodeKind::Group },
                name: g.name.clone(),
                label: (self.text)(&g.label),
                hint: None,
                question_type: String::new(),
                choices: Vec::new(),
                or_other: false,
                appearance: g.appearance.clone(),
                required: false,
                conditional: g.relevant.is_some(),
                read_only: false,
                counted: g.repeat_count.is_some(),
                parameters: HashMap::new(),
                children: g.children.iter().map(|n| self.node(n)).collect(),
            },
        }
    }

    fn question(&self, q: &Question) -> FormNode {
        use terrain_core::form::QuestionType as T;
        let choices = q
            .kind
            .choice_list()
            .and_then(|list| self.form.choice_lists.get(list))
            .map(|list| list.iter().map(|c| self.choice(c)).collect())
            .unwrap_or_default();
        FormNode {
            kind: NodeKind::Question,
            name: q.name.clone(),
            label: (self.text)(&q.label),
            hint: (self.text)(&q.hint),
            question_type: q.kind.xlsform_name().to_owned(),
            choices,
            or_other: matches!(q.kind, T::SelectOne { or_other: true, .. } | T::SelectMultiple { or_other: true, .. }),
            appearance: q.appearance.clone(),
            required: q.required.is_some(),
            conditional: q.relevant.is_some(),
            read_only: q.read_only.is_some() || q.calculation.is_some() || !q.kind.takes_answer(),
            counted: false,
            parameters: q.parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            children: Vec::new(),
        }
    }

    fn choice(&self, c: &Choice) -> ChoiceItem {
        ChoiceItem { code: c.name.clone(), label: (self.text)(&c.label) }
    }
}
