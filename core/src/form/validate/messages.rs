//! The language of an evaluation's messages and labels, and the messages used where the form
//! has none.
//!
//! Forms name languages as XLSForm writes them (`Français (fr)`); callers may pass that, or
//! just the code (`fr`) or the name (`Français`). Messages the form does not provide are
//! written in French when the chosen language is French and in English otherwise: the two
//! languages Terrain's missions work in.

use crate::form::model::{Form, Translations};

/// The chosen language of one evaluation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Language<'o> {
    /// The key in [`Translations`], when one is chosen.
    key: Option<&'o str>,
    /// The form's default language.
    fallback: Option<&'o str>,
    /// Whether built-in messages are written in French.
    pub french: bool,
}

impl<'o> Language<'o> {
    /// Resolves `wanted` (a form language, its code or its name; `None` for the form's
    /// default) against the form's languages.
    pub fn resolve(form: &'o Form, wanted: Option<&'o str>) -> Language<'o> {
        let fallback = form.default_language.as_deref();
        let key = match wanted.map(str::trim) {
            None | Some("") => fallback,
            Some(wanted) => Some(
                form.languages
                    .iter()
                    .find(|l| l.as_str() == wanted)
                    .or_else(|| form.languages.iter().find(|l| code(l).is_some_and(|c| c.eq_ignore_ascii_case(wanted))))
                    .or_else(|| form.languages.iter().find(|l| name(l).eq_ignore_ascii_case(wanted)))
                    .map_or(wanted, String::as_str),
            ),
        };
        Language { key, fallback, french: key.is_some_and(is_french) }
    }

    /// The key of the chosen language in [`Translations`] (`None`: the form's default).
    pub fn key(&self) -> Option<&'o str> {
        self.key
    }

    /// The text in this language, else the form's default, else any.
    pub fn text<'t>(&self, translations: &'t Translations) -> Option<&'t str> {
        translations.get(self.key, self.fallback)
    }

    /// The form's message if it has one, else `default` in French or English.
    pub fn message(&self, translations: &Translations, default: Builtin) -> String {
        match self.text(translations) {
            Some(text) if !text.trim().is_empty() => text.to_owned(),
            _ => default.text(self.french).to_owned(),
        }
    }
}

/// The code in `Name (code)`.
fn code(language: &str) -> Option<&str> {
    let open = language.rfind('(')?;
    language[open + 1..].strip_suffix(')').map(str::trim)
}

/// The name in `Name (code)`.
fn name(language: &str) -> &str {
    language.rfind('(').map_or(language, |open| &language[..open]).trim()
}

fn is_french(language: &str) -> bool {
    let code = code(language).unwrap_or(language);
    let code = code.split(['-', '_']).next().unwrap_or(code);
    code.eq_ignore_ascii_case("fr")
        || code.eq_ignore_ascii_case("fra")
        || code.eq_ignore_ascii_case("fre")
        || name(language).to_lowercase().starts_with("fran")
}

/// The messages Terrain writes itself.
#[derive(Debug, Clone, Copy)]
pub(super) enum Builtin {
    Required,
    Constraint,
}

impl Builtin {
    fn text(self, french: bool) -> &'static str {
        match (self, french) {
            (Builtin::Required, false) => "This question is required.",
            (Builtin::Required, true) => "Cette question est obligatoire.",
            (Builtin::Constraint, false) => "This answer is not valid.",
            (Builtin::Constraint, true) => "Cette réponse n'est pas valide.",
        }
    }
}

/// A select answer that the filtered choices no longer offer.
pub(super) fn not_offered(french: bool, label: &str) -> String {
    if french {
        format!("« {label} » ne fait plus partie des choix proposés : choisissez à nouveau.")
    } else {
        format!("\"{label}\" is no longer one of the choices offered: choose again.")
    }
}

/// A select answer that is not a choice of the question's list at all.
pub(super) fn unknown_choice(french: bool, code: &str) -> String {
    if french {
        format!("« {code} » ne fait pas partie des choix de cette question.")
    } else {
        format!("\"{code}\" is not one of this question's choices.")
    }
}

/// A stored answer that the question's type cannot read.
pub(super) fn unreadable(french: bool, text: &str, kind: &str) -> String {
    if french {
        format!(
            "La réponse enregistrée « {text} » ne peut pas être lue comme une réponse de type {kind} : saisissez-la à nouveau."
        )
    } else {
        format!("The stored answer \"{text}\" cannot be read as a {kind} answer: enter it again.")
    }
}
