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
        if self.quoted && (holds_quote(text) || !text.chars().all(quotable)) {
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
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
        // Every other format character (tags, Arabic number signs...), private use,
        // unassigned code points, surrogates, line and paragraph separators.
        || matches!(
            c.general_category(),
            G::Format | G::PrivateUse | G::Unassigned | G::Surrogate | G::LineSeparator
                | G::ParagraphSeparator
        )
        // Spaces other than the plain and the no-break ones: wide gaps can push words
        // apart so that what follows reads as another message.
        || (c.general_category() == G::SpaceSeparator
            && !matches!(c, ' ' | '\u{00A0}' | '\u{202F}'))
        // Letters and marks that show as nothing (fillers, blanks, variation selectors,
        // the combining grapheme joiner).
        || matches!(c,
            '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
            | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}')
}

/// What text quoted in an SMS may hold: letters, digits, the marks of scripts that need
/// them, the plain and no-break spaces, and a few punctuation marks and symbols; nothing
/// else, so that no look-alike of a quotation mark (and there are many: primes, CJK
/// brackets, ornaments, combining marks drawn above a space) can close the quote.
fn quotable(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    match c.general_category() {
        G::UppercaseLetter
        | G::LowercaseLetter
        | G::TitlecaseLetter
        | G::OtherLetter
        | G::DecimalNumber
        | G::LetterNumber
        | G::OtherNumber
        | G::CurrencySymbol => true,
        // Combining marks, except the generic diacritics and the enclosing marks, which
        // composed (NFC) text in the Latin, Greek and Cyrillic scripts never needs and
        // which can draw a quotation mark over a space.
        G::NonspacingMark | G::SpacingMark => {
            !matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
        }
        _ => matches!(
            c,
            ' ' | '\u{00A0}'
                | '\u{202F}'
                | '.'
                | ','
                | ';'
                | ':'
                | '!'
                | '?'
                | '-'
                | '\u{2013}'
                | '\u{2014}'
                | '('
                | ')'
                | '['
                | ']'
                | '/'
                | '&'
                | '+'
                | '%'
                | '#'
                | '*'
                | '@'
                | '_'
                | '='
                | '\''
                | '\u{2019}'
                | '\u{00B7}'
                | '\u{2022}'
                | '\u{00D7}'
                | '\u{00B0}'
                | '\u{00A7}'
                | '~'
                // Japanese marks drawn as a bar, dots or a small stroke, never as a
                // quotation mark: iteration marks (々, ゝ, ゞ, ヽ, ヾ), the prolonged
                // sound mark (ー and its half-width form), the half-width voicing marks
                // and the katakana middle dot (・).
                | '\u{3005}'
                | '\u{309D}'
                | '\u{309E}'
                | '\u{30FB}'
                | '\u{30FC}'
                | '\u{30FD}'
                | '\u{30FE}'
                | '\u{FF70}'
                | '\u{FF9E}'
                | '\u{FF9F}'
        ),
    }
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
            | '\u{A78B}'..='\u{A78C}'
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
        // Look-alikes of quotation marks (Hebrew gershayim, ornaments, CJK brackets,
        // primes, modifier letters, a combining mark drawn above a space or a letter).
        for quote in [
            "\u{05F4}", "❝", "❞", "⹂", "「", "」", "｢", "｣", "🙶", "ˈˈ", "ꞌꞌ", "׳׳", "'\u{301}",
            " \u{30E}", "a\u{30B}",
        ] {
            check(
                OBJECT,
                &format!("1 book{quote} sceau: pay"),
                Err(TextError::Quote),
            );
        }
        check(OBJECT, "Café crème × 2, 4.50 €", Ok(()));
        check(OBJECT, "हिन्दी पुस्तक", Ok(()));
    }

    #[test]
    fn blanks_and_invisible_characters_are_refused_everywhere() {
        for blank in [
            "\u{E0041}",
            "\u{FE0F}",
            "\u{034F}",
            "\u{0600}",
            "\u{115F}",
            "\u{3164}",
            "\u{2800}",
            "\u{2003}",
            "\u{3000}",
            "\u{E000}",
            "\u{0378}",
        ] {
            check(NAME, &format!("Shop{blank}"), Err(TextError::Unprintable));
        }
        check(NAME, "Le\u{00A0}Petit\u{202F}Théâtre", Ok(()));
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
