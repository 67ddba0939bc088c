//! Entity declarations: how a form's surveys create and update records that outlive one
//! visit (a farm plot, a household, a village), as XLSForm's `entities` sheet and `save_to`
//! column declare them and ODK's entities specification defines them.
//!
//! A declaration names an entity list and says, in expressions evaluated at the top of the
//! survey once it is finalized, whether the survey creates an entity, updates one (which:
//! `entity_id`), or either, what the entity's label is, and which questions' answers become
//! which properties. [`EntityDeclaration::action`] turns one survey into what it does;
//! applying that to the list is the store's job.
//!
//! Where Terrain differs from ODK:
//! - A created entity's id is derived from the survey's id and the list's name rather than
//!   drawn at random, so that a survey finalized twice (reopened, corrected) updates the
//!   entity it created instead of creating a second one.
//! - When an upsert (`entity_id` with both conditions) names no entity, the survey creates
//!   one under a derived id, where Central would fail the empty id.
//!
//! As in ODK Central, an answered or blank question sets its property (blank is `""`); a
//! question that is not relevant is left out of the submission, so its property keeps its
//! value; an update with a blank label keeps the entity's label.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::expr::{EvalError, Expression, XValue};
use super::validate::{EvalOptions, Evaluation, Evaluator};
use crate::survey::Answers;

/// How a form's surveys create or update the entities of one list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityDeclaration {
    /// The entity list (ODK's dataset), e.g. `plots`.
    pub list: String,
    /// The entity's label, shown when choosing it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::model::opt_expr")]
    pub label: Option<Expression>,
    /// Which entity an update applies to (typically `${plot}`, the entity chosen); absent, the
    /// form only creates.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::model::opt_expr")]
    pub entity_id: Option<Expression>,
    /// When the survey creates an entity; absent, it always does unless it updates
    /// (`entity_id` given).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::model::opt_expr")]
    pub create_if: Option<Expression>,
    /// When the survey updates the entity `entity_id` names; absent, it always does when
    /// `entity_id` is given.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::model::opt_expr")]
    pub update_if: Option<Expression>,
    /// The properties the survey writes, from the questions that `save_to` them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<SavedProperty>,
}

/// One `save_to`: a question whose answer becomes a property of the entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProperty {
    /// The property's name in the entity.
    pub property: String,
    /// The question it comes from (a top-level or grouped question, never in a repeat).
    pub question: String,
}

/// What one finalized survey does to an entity list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EntityAction {
    /// Creates the entity `id` (or, if it exists already, sets these values on it).
    Create {
        /// The list.
        list: String,
        /// The new entity's id.
        id: String,
        /// Its label.
        label: String,
        /// Its properties, in declaration order.
        properties: Vec<(String, String)>,
    },
    /// Updates the entity `id`.
    Update {
        /// The list.
        list: String,
        /// The entity's id, as `entity_id` gave it.
        id: String,
        /// The new label, when the form declares one and it is not empty.
        label: Option<String>,
        /// The properties to set, in declaration order.
        properties: Vec<(String, String)>,
        /// Whether `create_if` holds too (an upsert): if the list has no entity `id`, the
        /// survey creates it (with `label`), as Central does.
        create_if_missing: bool,
    },
}

/// Why a survey's entity action could not be worked out.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EntityError {
    /// One of the declaration's expressions failed.
    #[error("the entity declaration's {column} `{expression}` failed: {source}; correct the form's entities sheet")]
    Expression {
        /// The entities sheet's column.
        column: &'static str,
        /// The expression, as written.
        expression: String,
        /// Why it failed.
        source: EvalError,
    },
    /// The survey updates an entity but `entity_id` came out empty.
    #[error(
        "the survey updates an entity of \"{list}\" but names none (entity_id `{expression}` is empty); choose the entity in the survey"
    )]
    NoEntity {
        /// The list.
        list: String,
        /// The `entity_id` expression.
        expression: String,
    },
    /// The survey creates an entity whose label came out empty.
    #[error(
        "the survey creates an entity of \"{list}\" with an empty label (label `{expression}`); answer the questions the label is made of"
    )]
    NoLabel {
        /// The list.
        list: String,
        /// The label expression, or `""` when the form has none.
        expression: String,
    },
}

impl EntityDeclaration {
    /// What the finalized survey `survey_id` with `answers` does to the list, if anything:
    /// the declaration's expressions are evaluated at the top of the survey, after its
    /// calculations, as ODK evaluates them when the form is submitted.
    ///
    /// When both `create_if` and `update_if` hold, the survey updates the entity it names,
    /// or creates it if the list does not have it (ODK's upsert).
    pub fn action(
        &self,
        evaluator: &Evaluator<'_>,
        answers: &Answers,
        options: &EvalOptions,
        survey_id: &str,
    ) -> Result<Option<EntityAction>, EntityError> {
        let columns: [(&'static str, Option<&Expression>); 4] = [
            ("label", self.label.as_ref()),
            ("entity_id", self.entity_id.as_ref()),
            ("create_if", self.create_if.as_ref()),
            ("update_if", self.update_if.as_ref()),
        ];
        let expressions: Vec<&Expression> = columns.iter().filter_map(|(_, e)| *e).collect();
        let (evaluation, mut values) = evaluator.evaluate_with(answers, options, &expressions);
        let mut value =
            |column: &'static str, expression: Option<&Expression>| -> Result<Option<XValue>, EntityError> {
                let Some(expression) = expression else { return Ok(None) };
                // `values` holds one result per present expression, in `columns` order.
                match values.remove(0) {
                    Ok(v) => Ok(Some(v)),
                    Err(source) => Err(EntityError::Expression { column, expression: expression.to_string(), source }),
                }
            };
        let label = value("label", self.label.as_ref())?.map(|v| v.to_xpath_string());
        let entity_id = value("entity_id", self.entity_id.as_ref())?.map(|v| v.to_xpath_string());
        let create_if = value("create_if", self.create_if.as_ref())?.map(|v| v.to_boolean());
        let update_if = value("update_if", self.update_if.as_ref())?.map(|v| v.to_boolean());

        let updates = self.entity_id.is_some() && update_if.unwrap_or(self.create_if.is_none());
        let creates = create_if.unwrap_or(self.entity_id.is_none());
        let properties = self.properties(&evaluation, answers);
        let label = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
        if updates {
            let id = entity_id.map(|id| id.trim().to_owned()).unwrap_or_default();
            if id.is_empty() {
                if creates {
                    return self.create(label, properties, survey_id).map(Some);
                }
                return Err(EntityError::NoEntity { list: self.list.clone(), expression: source(&self.entity_id) });
            }
            let create_if_missing = creates;
            return Ok(Some(EntityAction::Update {
                list: self.list.clone(),
                id,
                label,
                properties,
                create_if_missing,
            }));
        }
        if creates {
            return self.create(label, properties, survey_id).map(Some);
        }
        Ok(None)
    }

    fn create(
        &self,
        label: Option<String>,
        properties: Vec<(String, String)>,
        survey_id: &str,
    ) -> Result<EntityAction, EntityError> {
        let label =
            label.ok_or_else(|| EntityError::NoLabel { list: self.list.clone(), expression: source(&self.label) })?;
        Ok(EntityAction::Create { list: self.list.clone(), id: created_id(survey_id, &self.list), label, properties })
    }

    /// Each saved property's value: the question's answer or calculated value as XPath
    /// text, `""` when it is not answered; none for a question that is not relevant.
    fn properties(&self, evaluation: &Evaluation, answers: &Answers) -> Vec<(String, String)> {
        self.properties
            .iter()
            .filter_map(|saved| {
                let path = crate::survey::AnswerPath::top(saved.question.clone());
                if !evaluation.is_relevant(&path) {
                    return None;
                }
                let value = match evaluation.calculated.get(&path) {
                    Some(calculated) => calculated.clone(),
                    None => answers.value(&saved.question).map(crate::Value::to_odk_string).unwrap_or_default(),
                };
                Some((saved.property.clone(), value))
            })
            .collect()
    }
}

impl EntityDeclaration {
    /// The question that names the entity a follow-up updates, when `entity_id` is just a
    /// reference to it (`${plot}`): a follow-up started on an entity answers it.
    pub fn entity_question(&self) -> Option<&str> {
        let expression = self.entity_id.as_ref()?;
        let name = expression.source().trim().strip_prefix("${")?.strip_suffix('}')?;
        (expression.references() == [name]).then_some(name)
    }
}

fn source(expression: &Option<Expression>) -> String {
    expression.as_ref().map(Expression::to_string).unwrap_or_default()
}

/// The id of the entity that survey `survey_id` creates in `list`: a UUID made from a hash
/// of the two, so that every replica, and every finalization of the survey, names the same
/// entity.
pub fn created_id(survey_id: &str, list: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"terrain entity\0")
        .chain_update(list)
        .chain_update(b"\0")
        .chain_update(survey_id)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::form::Form;
    use crate::survey::Answer;
    use crate::value::Value;

    fn options() -> EvalOptions {
        EvalOptions { language: None, now: DateTime::parse_from_rfc3339("2026-11-28T10:00:00+00:00").unwrap(), seed: 7 }
    }

    /// A plot registration form (creates) or a monitoring form (updates), with `entity`
    /// as its one declaration.
    fn form(entity: Json) -> Form {
        let json = json!({
            "id": "plots", "version": "1", "title": "Plots",
            "children": [
                {"node": "question", "name": "plot_name", "type": {"kind": "text"}},
                {"node": "question", "name": "village", "type": {"kind": "text"}},
                {"node": "question", "name": "has_bunds", "type": {"kind": "text"}},
                {"node": "group", "name": "details", "relevant": "${has_bunds} = 'yes'", "children": [
                    {"node": "question", "name": "bund_metres", "type": {"kind": "integer"}},
                ]},
                {"node": "question", "name": "area_m2", "type": {"kind": "calculate"}, "calculation": "${bund_metres} * 10"},
                {"node": "question", "name": "plot", "type": {"kind": "text"}},
            ],
            "entities": [entity],
        });
        Form::from_json(&json.to_string()).unwrap()
    }

    fn answers(pairs: &[(&str, Value)]) -> Answers {
        Answers(pairs.iter().map(|(k, v)| ((*k).to_owned(), Answer::Value(v.clone()))).collect())
    }

    fn action(form: &Form, answers: &Answers) -> Result<Option<EntityAction>, EntityError> {
        form.entities[0].action(&Evaluator::new(form), answers, &options(), "survey-1")
    }

    fn saved() -> Json {
        json!([
            {"property": "name", "question": "plot_name"},
            {"property": "bunds", "question": "bund_metres"},
            {"property": "area", "question": "area_m2"},
        ])
    }

    #[test]
    fn a_registration_creates_the_entity_with_its_label_and_properties() {
        let form = form(
            json!({"list": "plots", "label": "concat(${plot_name}, ' (', ${village}, ')')", "properties": saved()}),
        );
        let answers = answers(&[
            ("plot_name", Value::Text("BGD-0412".into())),
            ("village", Value::Text("Béguédo".into())),
            ("has_bunds", Value::Text("yes".into())),
            ("bund_metres", Value::Integer(40)),
        ]);
        let Some(EntityAction::Create { list, id, label, properties }) = action(&form, &answers).unwrap() else {
            panic!("a registration creates")
        };
        assert_eq!((list.as_str(), label.as_str()), ("plots", "BGD-0412 (Béguédo)"));
        assert_eq!(id, created_id("survey-1", "plots"));
        assert_eq!(
            properties,
            [("name".into(), "BGD-0412".into()), ("bunds".into(), "40".into()), ("area".into(), "400".into())]
        );
    }

    #[test]
    fn a_created_id_is_the_same_for_the_same_survey_and_list_only() {
        let id = created_id("survey-1", "plots");
        assert_eq!(id, created_id("survey-1", "plots"));
        assert_ne!(id, created_id("survey-2", "plots"));
        assert_ne!(id, created_id("survey-1", "villages"));
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }

    #[test]
    fn a_hidden_question_leaves_its_property_alone_and_a_blank_one_empties_it() {
        let form = form(json!({"list": "plots", "label": "${plot_name}", "properties": saved()}));
        // The bunds group is not relevant: its question is left out though an answer is
        // still stored; the calculation from it is what XPath makes of '' * 10, as in ODK.
        let hidden = answers(&[
            ("plot_name", Value::Text("BGD-0412".into())),
            ("has_bunds", Value::Text("no".into())),
            ("bund_metres", Value::Integer(40)),
        ]);
        let Some(EntityAction::Create { properties, .. }) = action(&form, &hidden).unwrap() else { panic!() };
        assert_eq!(properties, [("name".into(), "BGD-0412".into()), ("area".into(), "NaN".into())]);
        // Shown and blank: the property is emptied.
        let blank = answers(&[("plot_name", Value::Text("BGD-0412".into())), ("has_bunds", Value::Text("yes".into()))]);
        let Some(EntityAction::Create { properties, .. }) = action(&form, &blank).unwrap() else { panic!() };
        assert_eq!(properties[1], ("bunds".into(), "".into()));
    }

    #[test]
    fn create_if_decides_whether_the_survey_creates() {
        let form = form(json!({"list": "plots", "label": "${plot_name}", "create_if": "${village} != ''"}));
        let without = answers(&[("plot_name", Value::Text("BGD-0412".into()))]);
        assert_eq!(action(&form, &without).unwrap(), None);
        let with =
            answers(&[("plot_name", Value::Text("BGD-0412".into())), ("village", Value::Text("Béguédo".into()))]);
        assert!(matches!(action(&form, &with).unwrap(), Some(EntityAction::Create { .. })));
    }

    #[test]
    fn a_follow_up_updates_the_entity_chosen_and_keeps_its_label_unless_given() {
        let form = form(json!({"list": "plots", "entity_id": "${plot}", "properties": saved()}));
        let answers = answers(&[("plot", Value::Text("6a1b".into())), ("plot_name", Value::Text("renamed".into()))]);
        let Some(EntityAction::Update { id, label, properties, create_if_missing, .. }) =
            action(&form, &answers).unwrap()
        else {
            panic!("a follow-up updates")
        };
        assert_eq!((id.as_str(), label, create_if_missing), ("6a1b", None, false));
        assert_eq!(properties[0], ("name".into(), "renamed".into()));
    }

    #[test]
    fn update_if_decides_whether_the_survey_updates() {
        let form = form(json!({"list": "plots", "entity_id": "${plot}", "update_if": "${village} = 'Béguédo'"}));
        let elsewhere = answers(&[("plot", Value::Text("6a1b".into())), ("village", Value::Text("Tenkodogo".into()))]);
        assert_eq!(action(&form, &elsewhere).unwrap(), None);
    }

    fn form_with_upsert(create_if: &str, update_if: &str) -> Form {
        form(json!({
            "list": "plots", "label": "${plot_name}", "entity_id": "${plot}",
            "create_if": create_if, "update_if": update_if,
        }))
    }

    #[test]
    fn an_upsert_creates_when_no_entity_is_chosen_and_updates_when_one_is() {
        let form = form(json!({
            "list": "plots", "label": "${plot_name}", "entity_id": "${plot}",
            "create_if": "${plot} = ''", "update_if": "${plot} != ''",
        }));
        let new = answers(&[("plot_name", Value::Text("BGD-0413".into()))]);
        assert!(
            matches!(action(&form, &new).unwrap(), Some(EntityAction::Create { label, .. }) if label == "BGD-0413")
        );
        let known = answers(&[("plot", Value::Text("6a1b".into())), ("plot_name", Value::Text("BGD-0412".into()))]);
        assert!(matches!(action(&form, &known).unwrap(), Some(EntityAction::Update { id, .. }) if id == "6a1b"));
        // Both conditions hold: update the entity, or create it where the list lacks it.
        let both = form_with_upsert("true()", "true()");
        let Some(EntityAction::Update { create_if_missing, label, .. }) = action(&both, &known).unwrap() else {
            panic!("an upsert updates first")
        };
        assert_eq!((create_if_missing, label.as_deref()), (true, Some("BGD-0412")));
    }

    #[test]
    fn an_update_without_an_entity_and_a_creation_without_a_label_say_what_to_do() {
        let update = form(json!({"list": "plots", "entity_id": "${plot}"}));
        let error = action(&update, &Answers::default()).unwrap_err();
        assert!(matches!(error, EntityError::NoEntity { .. }));
        assert!(error.to_string().contains("choose the entity"), "{error}");

        let create = form(json!({"list": "plots", "label": "${plot_name}"}));
        let error = action(&create, &Answers::default()).unwrap_err();
        assert!(error.to_string().contains("empty label"), "{error}");
    }

    #[test]
    fn a_failing_expression_names_its_column() {
        let form = form(json!({"list": "plots", "label": "${plot_name}", "create_if": "date('not a date') > 1"}));
        let error = action(&form, &answers(&[("plot_name", Value::Text("x".into()))])).unwrap_err();
        assert!(matches!(error, EntityError::Expression { column: "create_if", .. }), "{error}");
    }

    #[test]
    fn a_declaration_survives_the_form_json_devices_download() {
        let form =
            form(json!({"list": "plots", "label": "${plot_name}", "entity_id": "${plot}", "properties": saved()}));
        assert_eq!(Form::from_json(&form.to_json()).unwrap(), form);
    }
}
