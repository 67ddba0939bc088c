//! Cell-value clean-up and the yes/no vocabulary, as pyxform applies them.

use super::sheets::collapse_spaces;

/// Cleans a cell value as pyxform's `clean_text_values` does: "smart" quotes typed by
/// spreadsheet autocorrect become plain quotes (in every sheet — an expression written
/// with `‘yes’` would otherwise never work), and on the survey sheet, unless the
/// `clean_text_values` setting is `no`, runs of spaces become one space.
pub(crate) fn clean(value: &str, collapse: bool) -> String {
    let collapsed;
    let value = if collapse {
        collapsed = collapse_spaces(value);
        collapsed.as_str()
    } else {
        value
    };
    value
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c => c,
        })
        .collect()
}

/// Reads a yes/no cell: `yes`, `true`, `true()` and `no`, `false`, `false()`, in any
/// case. Anything else is not a yes/no value.
pub(crate) fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "true()" => Some(true),
        "no" | "false" | "false()" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_quotes_and_spaces() {
        assert_eq!(clean("selected(., \u{2018}a\u{2019})", false), "selected(., 'a')");
        assert_eq!(clean("select_multiple  x", true), "select_multiple x");
        assert_eq!(clean("a  b", false), "a  b");
        assert_eq!(clean("\u{201C}q\u{201D}", false), "\"q\"");
    }

    #[test]
    fn yes_no_values() {
        for yes in ["yes", "YES", "Yes", "true", "TRUE", "true()"] {
            assert_eq!(yes_no(yes), Some(true), "{yes}");
        }
        for no in ["no", "NO", "false", "False", "false()"] {
            assert_eq!(yes_no(no), Some(false), "{no}");
        }
        assert_eq!(yes_no("${a} > 1"), None);
    }
}
