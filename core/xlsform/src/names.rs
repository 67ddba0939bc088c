//! Names and `${name}` references: what a valid name is, and finding references in text.
//!
//! A name must be an XML name without colon, as pyxform and ODK require: it starts with a
//! letter or `_`, then letters, digits, `_`, `-` or `.` (pyxform's `is_xml_tag` lets a
//! `prefix:name` through, which ODK Validate then refuses as an unbound XML prefix; we
//! refuse it at once). References in labels, hints and other text are found the way pyxform's
//! `pyxform_reference` finds them: every `${` must be followed by a name (optionally
//! `last-saved#name`) and `}`.

/// Whether `name` is a valid question, group or choice-list name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    is_ncname(name)
}

/// An XML name without a colon (`NCName`).
pub(crate) fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_name_start(c: char) -> bool {
    // XML 1.0 NameStartChar, without ':'. pyxform's copy of this rule has a typo that
    // rejects À–Ö (U+00C0–U+00D6); we follow the XML rule.
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// What a `${…}` in some text turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference<'a> {
    /// A reference to the named question, group or repeat.
    Name(&'a str),
    /// Something that starts like a reference but is not one (`${}` unclosed, `${a b}`).
    Malformed(&'a str),
}

/// Every `${…}` in `text`, in order.
pub(crate) fn references(text: &str) -> Vec<Reference<'_>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            found.push(Reference::Malformed(&rest[start..]));
            break;
        };
        let inner = &after[..end];
        // pyxform ignores an empty `${}`.
        if !inner.is_empty() {
            found.push(
                reference_target(inner)
                    .map_or_else(|| Reference::Malformed(&rest[start..start + 2 + end + 1]), Reference::Name),
            );
        }
        rest = &after[end + 1..];
    }
    found
}

/// The question a reference's inner text names: `name` or `last-saved#name`.
pub(crate) fn reference_target(inner: &str) -> Option<&str> {
    let name = inner.strip_prefix("last-saved#").unwrap_or(inner);
    is_ncname(name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names() {
        for ok in ["a", "_1", "FALSE", "a-b.c", "été", "Äge", "名前"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a b", "ns:name", ":a", "a:", "a$", "${a}", ".a"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn finds_references_and_malformed_ones() {
        use Reference::*;
        assert_eq!(references("Hi ${name}, ${age}!"), [Name("name"), Name("age")]);
        assert_eq!(references("${last-saved#x}"), [Name("x")]);
        assert_eq!(references("${a b} and ${ok}"), [Malformed("${a b}"), Name("ok")]);
        assert_eq!(references("cost: ${x"), [Malformed("${x")]);
        assert_eq!(references("$ {x} ${}"), []);
    }
}
