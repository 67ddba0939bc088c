//! Forms: the typed questionnaire model, its expressions, XLSForm import, and validation.

pub mod expr;
pub mod index;
pub mod model;
pub mod validate;
pub mod xlsform;

pub use index::{Entry, FormIndex, Located};
pub use model::{Choice, Form, Group, Node, Question, QuestionType, Translations};
pub use validate::{EvalOptions, Evaluation, Evaluator, Issue, language_key};
