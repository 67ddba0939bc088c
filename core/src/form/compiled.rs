//! A form compiled once for the life of a store: the form, its name index and its
//! evaluator's plan, kept together so that answering a question never rebuilds them.
//!
//! The index and the evaluator borrow the form they were built from; `self_cell` keeps
//! them in one value with the `Arc<Form>` they borrow, without `unsafe` code.

use std::sync::Arc;

use super::{Evaluator, Form, FormIndex};

struct Parts<'f> {
    index: FormIndex<'f>,
    evaluator: Evaluator<'f>,
}

self_cell::self_cell!(
    struct Cell {
        owner: Arc<Form>,
        #[covariant]
        dependent: Parts,
    }
);

/// A form with its index and evaluator, built once.
pub struct CompiledForm(Cell);

impl CompiledForm {
    /// Indexes `form` and plans its evaluation.
    pub fn new(form: Arc<Form>) -> CompiledForm {
        CompiledForm(Cell::new(form, |form| Parts { index: FormIndex::new(form), evaluator: Evaluator::new(form) }))
    }

    /// The form.
    pub fn form(&self) -> &Arc<Form> {
        self.0.borrow_owner()
    }

    /// Its name index.
    pub fn index(&self) -> &FormIndex<'_> {
        &self.0.borrow_dependent().index
    }

    /// Its evaluator.
    pub fn evaluator(&self) -> &Evaluator<'_> {
        &self.0.borrow_dependent().evaluator
    }
}

impl std::fmt::Debug for CompiledForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledForm").field("form", &self.form().id).field("version", &self.form().version).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiled_form_is_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<CompiledForm>();
        let form = Arc::new(Form::from_json(include_str!("../../tests/fixtures/household.json")).unwrap());
        let compiled = CompiledForm::new(form);
        assert!(compiled.index().get("village").is_some());
        assert_eq!(compiled.evaluator().form().id, "household");
    }
}
