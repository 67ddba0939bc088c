//! What the evaluator needs from the survey being filled in.
//!
//! The validation layer implements [`EvalContext`] for "question Q, in repeat instance I, of
//! survey S". Every method may borrow from the implementor (the `Cow`s), so that answering a
//! reference costs no copy when the answers are already held as strings.

use chrono::{DateTime, FixedOffset};
use std::borrow::Cow;

/// The survey, seen from the question whose expression is being evaluated.
pub trait EvalContext {
    /// The values of `${name}` seen from the current evaluation position, or `None` when the
    /// form has no question, group or repeat called `name` (evaluation then fails with
    /// [`EvalError::UnknownReference`](super::EvalError::UnknownReference)).
    ///
    /// - A question outside repeats, or a sibling in the current repeat instance: one value.
    /// - A question inside a repeat, referenced from outside it (or from another repeat): one
    ///   value per instance, in document order; none when there are no instances.
    /// - A repeat (or a group inside a repeat) itself: one entry per instance, so that
    ///   `count(${repeat})` counts instances. The entries' text is not used by ODK forms; `""`
    ///   is fine.
    /// - An unanswered question gives `""`, not an empty list.
    ///
    /// A single value can be returned without allocating as
    /// `Cow::Borrowed(std::slice::from_ref(&stored_string))`.
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>>;

    /// The value of `.`: the question being evaluated (its candidate answer, for a
    /// constraint), or `""` when it is empty. `once()` also reads it: it keeps this value when
    /// it is not empty.
    fn current(&self) -> Cow<'_, str>;

    /// The 1-based index of the innermost repeat instance containing the current question, or
    /// `None` outside repeats (`position(..)` is then 1, the index of the only instance of a
    /// non-repeated group).
    fn position(&self) -> Option<usize>;

    /// The value of question `field` in the given repeat instances, for
    /// `indexed-repeat(${field}, ${repeat}, n[, ${repeat2}, n2 ...])`. `repeats` lists the
    /// (repeat name, 1-based index) pairs in the order written, outermost first as ODK forms
    /// write them. Repeats not listed are those of the current position. `None` when that
    /// instance does not exist.
    fn indexed(&self, field: &str, repeats: &[(&str, usize)]) -> Option<Cow<'_, str>>;

    /// The label, in the current language, of the choice `code` of the select question
    /// `question`, for `jr:choice-name(code, '${question}')`. `None` when there is no such
    /// choice (the result is then `""`).
    fn choice_label(&self, question: &str, code: &str) -> Option<Cow<'_, str>>;

    /// The current time, for `today()` and `now()`, at the device's UTC offset. Read at most
    /// once per evaluation. Its offset is also the "local" offset for dates that carry none.
    fn now(&self) -> DateTime<FixedOffset>;

    /// The seed of `random()` and `uuid()`. Keep it stable per survey *and* question (and
    /// repeat instance) so that re-evaluating after each keystroke does not change the draw,
    /// and two questions using `random()` do not draw the same number. Forms usually wrap
    /// `random()` in `once()` to keep the first draw.
    fn random_seed(&self) -> u64;

    /// For choice filters only: the value of `column` (`name`, `label`, or a custom column
    /// such as `region`) of the choice being filtered, or `None` when the choice has no value
    /// there (it then reads as `''`, as a blank cell does in ODK). Contexts that never evaluate
    /// choice filters keep this default.
    fn choice_column(&self, column: &str) -> Option<Cow<'_, str>> {
        let _ = column;
        None
    }

    /// For `pulldata(file, column, key_column, key)`: the value in `column` of the first row
    /// whose `key_column` is `key`, in the CSV file attached to the form as `file` (written
    /// without `.csv`, as ODK forms write it). `None` when there is no such file, column or
    /// row; the result is then `''`, as in ODK Collect.
    ///
    /// The default has no files: every `pulldata()` gives `''`. The evaluator's context
    /// reads the files attached to the form (`form::attachments`).
    fn pulldata(&self, file: &str, column: &str, key_column: &str, key: &str) -> Option<Cow<'_, str>> {
        let _ = (file, column, key_column, key);
        None
    }

    /// For `instance('name')/root/item…`: how many items the list `name` has (a choice list
    /// of the form, or a list file it reads), or `None` when the form has no such list
    /// (the path then matches nothing).
    fn instance_len(&self, instance: &str) -> Option<usize> {
        let _ = instance;
        None
    }

    /// The value of `column` (`name`, `label` in the current language, or any other) of
    /// item `index` (0-based) of the list `instance`, or `None` when it has none there (it
    /// then reads as `''`).
    fn instance_cell(&self, instance: &str, index: usize, column: &str) -> Option<Cow<'_, str>> {
        let _ = (instance, index, column);
        None
    }
}
