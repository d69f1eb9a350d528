//! Text that people read: names, a merchant's reference, what is bought, a document's
//! name. It is shown on pages, on the check and in SMS, so one rule holds for all of it,
//! checked where the text comes in:
//! - no control character, and none of the invisible and bidirectional formatting
//!   characters that can make a text display other than it reads (a seal or an amount
//!   shown reversed, a word hidden);
//! - a length, in characters;
//! - for text that an SMS shows between quotation marks, nothing that reads as a
//!   quotation mark: the quote cannot be closed early to make what follows look like
//!   sceau's own words.

use crate::limits::{NAME_LEN_MAX, OBJECT_LEN_MAX, REFERENCE_LEN_MAX};
use std::fmt;

/// What a field of text may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// Whether the field may be empty.
    pub optional: bool,
    /// Most characters (Unicode scalar values).
    pub length_max: usize,
    /// Whether the text is shown between quotation marks (then none may be inside).
    pub quoted: bool,
}

/// Why a text breaks its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the text is empty")]
    Empty,
    #[error("the text is longer than {length_max} characters")]
    TooLong { length_max: usize },
    #[error("the text holds a control, invisible or bidirectional formatting character")]
    Unprintable,
    #[error("the text holds a quotation mark")]
    Quote,
}

/// A login, a client's display name, a merchant's name.
pub const NAME: TextRule = TextRule::shown(NAME_LEN_MAX);
/// A merchant's reference of a checkout (on the check).
pub const REFERENCE: TextRule = TextRule::shown(REFERENCE_LEN_MAX);
/// What a checkout is for: on the check, and quoted at the end of the seal's SMS.
pub const OBJECT: TextRule = TextRule::quoted(OBJECT_LEN_MAX);

impl TextRule {
    /// 1 to `length_max` printable characters.
    pub const fn shown(length_max: usize) -> TextRule {
        TextRule {
            optional: false,
            length_max,
            quoted: false,
        }
    }

    /// 1 to `length_max` printable characters, none of which reads as a quotation mark.
    pub const fn quoted(length_max: usize) -> TextRule {
        TextRule {
            quoted: true,
            ..TextRule::shown(length_max)
        }
    }

    /// The same rule, and the field may also be empty.
    pub const fn or_empty(self) -> TextRule {
        TextRule {
            optional: true,
            ..self
        }
    }

    pub fn check(self, text: &str) -> Result<(), TextError> {
        if text.is_empty() && !self.optional {
            return Err(TextError::Empty);
        }
        if text.chars().count() > self.length_max {
            return Err(TextError::TooLong {
                length_max: self.length_max,
            });
        }
        if text.chars().any(unprintable) {
            return Err(TextError::Unprintable);
        }
        if self.quoted && holds_quote(text) {
            return Err(TextError::Quote);
        }
        Ok(())
    }
}

/// The rule in words, for error messages: "1 to 100 printable characters".
impl fmt::Display for TextRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let length_max = self.length_max;
        if self.optional {
            write!(f, "at most {length_max} printable characters")?;
        } else {
            write!(f, "1 to {length_max} printable characters")?;
        }
        if self.quoted {
            write!(f, ", without quotation marks")?;
        }
        Ok(())
    }
}

/// Characters that must not appear in text shown to people (pages, SMS, the check):
/// control characters, and the invisible and bidirectional formatting characters (soft
/// hyphen, Arabic letter mark, zero-width spaces and joiners, directional marks, embeddings,
/// overrides and isolates, line and paragraph separators, invisible operators, the byte
/// order mark, interlinear annotations).
pub fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Whether `c` reads as a double quotation mark (straight, typographic, guillemets, primes,
/// their full-width and CJK forms).
fn double_quote(c: char) -> bool {
    matches!(
        c,
        '"' | '\u{00AB}'
            | '\u{00BB}'
            | '\u{02BA}'
            | '\u{02DD}'
            | '\u{02EE}'
            | '\u{201C}'..='\u{201F}'
            | '\u{2033}'
            | '\u{2036}'
            | '\u{2039}'
            | '\u{203A}'
            | '\u{3003}'
            | '\u{301D}'..='\u{301F}'
            | '\u{FF02}'
    )
}

/// Whether `c` reads as a single quotation mark or an apostrophe. One alone is allowed
/// ("L'Étranger"); two in a row read as a double quotation mark.
fn single_quote(c: char) -> bool {
    matches!(
        c,
        '\'' | '`'
            | '\u{00B4}'
            | '\u{02B9}'
            | '\u{02BB}'..='\u{02BC}'
            | '\u{2018}'..='\u{201B}'
            | '\u{2032}'
            | '\u{2035}'
            | '\u{FF07}'
    )
}

fn holds_quote(text: &str) -> bool {
    let mut after_single = false;
    for c in text.chars() {
        let single = single_quote(c);
        if double_quote(c) || (single && after_single) {
            return true;
        }
        after_single = single;
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(rule: TextRule, text: &str, expected: Result<(), TextError>) {
        assert_eq!(rule.check(text), expected, "{text:?}");
    }

    #[test]
    fn printable_text_of_the_right_length_is_accepted() {
        check(NAME, "Le Petit Théâtre", Ok(()));
        check(NAME, "東京の本屋", Ok(()));
        check(NAME, &"é".repeat(NAME_LEN_MAX), Ok(()));
        check(
            NAME,
            &"é".repeat(NAME_LEN_MAX + 1),
            Err(TextError::TooLong {
                length_max: NAME_LEN_MAX,
            }),
        );
        check(NAME, "", Err(TextError::Empty));
        check(REFERENCE.or_empty(), "", Ok(()));
        check(
            REFERENCE.or_empty(),
            &"r".repeat(REFERENCE_LEN_MAX + 1),
            Err(TextError::TooLong {
                length_max: REFERENCE_LEN_MAX,
            }),
        );
    }

    #[test]
    fn control_invisible_and_bidirectional_characters_are_refused() {
        for c in [
            '\0', '\n', '\r', '\t', '\u{7F}', '\u{85}', '\u{00AD}', '\u{061C}', '\u{180E}',
            '\u{200B}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{2028}', '\u{202A}', '\u{202E}',
            '\u{2060}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{FFF9}',
        ] {
            for rule in [NAME, REFERENCE.or_empty(), OBJECT] {
                check(rule, &format!("order{c}42"), Err(TextError::Unprintable));
            }
        }
    }

    #[test]
    fn quoted_text_holds_nothing_that_closes_the_quote() {
        for quote in [
            "\"", "«", "»", "‹", "›", "“", "”", "„", "‟", "″", "〃", "＂", "''", "‘’", "’’", "``",
        ] {
            check(
                OBJECT,
                &format!("1 book{quote}. Pay"),
                Err(TextError::Quote),
            );
            check(NAME, &format!("1 book{quote}. Pay"), Ok(()));
        }
        check(OBJECT, "L'Étranger, Camus", Ok(()));
        check(OBJECT, "Children’s book", Ok(()));
        check(OBJECT, "Rock 'n' roll", Ok(()));
    }

    #[test]
    fn rules_say_themselves() {
        assert_eq!(NAME.to_string(), "1 to 100 printable characters");
        assert_eq!(
            REFERENCE.or_empty().to_string(),
            "at most 128 printable characters"
        );
        assert_eq!(
            OBJECT.to_string(),
            "1 to 60 printable characters, without quotation marks"
        );
    }
}
