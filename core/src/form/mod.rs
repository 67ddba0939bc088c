//! Forms: the typed questionnaire model, its expressions, and (later) XLSForm import and validation.

pub mod expr;
pub mod index;
pub mod model;

pub use index::{Entry, FormIndex, Located};
pub use model::{Choice, Form, Group, Node, Question, QuestionType, Translations};
