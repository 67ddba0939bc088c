//! Forms: the typed questionnaire model, its expressions, and validation. XLSForm import
//! lives in `terrain-xlsform`, outside the phone library: phones receive compiled forms.

pub mod attachments;
pub mod compiled;
pub mod entities;
pub mod expr;
pub mod index;
pub mod model;
pub mod validate;

pub use compiled::CompiledForm;
pub use entities::{EntityAction, EntityDeclaration, EntityError, SavedProperty};
pub use index::{Entry, FormIndex, Located};
pub use model::{Choice, Form, Group, Node, Question, QuestionType, Translations};
pub use validate::{BlockKind, Check, EvalOptions, Evaluation, Evaluator, Inspection, Issue, NodeState, language_key};
