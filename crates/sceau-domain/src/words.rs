//! An amount of money spelled in words, in English or in French, for the "amount in words"
//! zone of an electronic check (the words line of a paper cheque).
//!
//! [`amount_in_words`] takes any amount from zero to [`AMOUNT_MINOR_MAX`] and gives back
//! `Err` for anything else; it never panics.
//!
//! # Style, both languages
//! - The major part is always written, even when it is zero, so that the currency is always
//!   named: "zero euros and fifty cents", "zéro euro et cinquante centimes". A minor part of
//!   zero is left out: "one euro", "un euro". Zero is "zero euros", "zéro euro".
//! - The two parts are joined by "and" / "et"; nothing else uses "and" in English.
//! - The noun is singular for one (and, in French, for zero) and plural otherwise.
//! - Common currencies have their own names (see `CURRENCY_NAMES`); every other ISO 4217
//!   currency is written as units named by their code, with the minor part as a fraction of
//!   the unit: "twelve units (AED) and thirty-four hundredths", "douze unités (AED) et
//!   trente-quatre centièmes". Exponents 1 to 4 give tenths, hundredths, thousandths and
//!   ten-thousandths (dixièmes, centièmes, millièmes, dix-millièmes).
//!
//! # English
//! American cheque style: no "and" inside a number ("one hundred one"), hyphens from
//! twenty-one to ninety-nine, short scale (thousand, million, billion = 10^9, trillion =
//! 10^12, quadrillion = 10^15). Demonyms are capitalised: "one Kuwaiti dinar and five fils".
//!
//! # French
//! The traditional spelling that French banks print on cheques, not the 1990 reform:
//! - hyphens only between tens and units below one hundred ("vingt-deux",
//!   "quatre-vingt-dix-sept"), none around "cent", "mille", "million";
//! - "et" in 21, 31, 41, 51, 61 and 71 ("vingt et un", "soixante et onze"), not in 81 and 91
//!   ("quatre-vingt-un", "quatre-vingt-onze");
//! - "vingt" (in "quatre-vingts") and "cent" take an "s" when multiplied and ending the
//!   numeral or followed by a noun ("quatre-vingts euros", "deux cents millions"), not when
//!   followed by another number or by "mille", which is an adjective ("quatre-vingt mille",
//!   "deux cent mille", "deux cent un");
//! - "mille" is invariable and never preceded by "un"; "million", "milliard", "billion" and
//!   "billiard" are nouns that take an "s" ("deux millions");
//! - the long scale, official in France since 1961: million = 10^6, milliard = 10^9,
//!   billion = 10^12, billiard = 10^15 ("un billion", not "mille milliards");
//! - a numeral ending with one of those nouns takes "de" / "d'" before the currency
//!   ("un million d'euros", "trois milliards de dollars américains", but "un million deux
//!   euros");
//! - the final "un" agrees with a feminine currency ("une livre sterling", "vingt et une
//!   couronnes"), but not before "mille" or a noun ("vingt et un mille livres sterling",
//!   "un million de livres sterling");
//! - the hundredth of a euro or a dollar is a "centime", never a "cent", which would read as
//!   one hundred ("deux cents" is 200).

use crate::limits::AMOUNT_MINOR_MAX;
use crate::money::{Currency, Money};

/// The language the amount is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    French,
}

/// Why an amount cannot be written in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    #[error("a negative amount cannot be written on a check")]
    Negative,
    #[error("amount is too large")]
    TooLarge,
    #[error("the currency's minor unit has no name (more than four decimals)")]
    UnsupportedExponent,
}

impl WordsError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            WordsError::Negative => "amount_negative",
            WordsError::TooLarge => "amount_too_large",
            WordsError::UnsupportedExponent => "unsupported_exponent",
        }
    }
}

/// Spells `amount` in `language`: 1234.56 EUR in English is "one thousand two hundred
/// thirty-four euros and fifty-six cents". See the module documentation for the style.
pub fn amount_in_words(amount: Money, language: Language) -> Result<String, WordsError> {
    if amount.minor > AMOUNT_MINOR_MAX {
        return Err(WordsError::TooLarge);
    }
    let minor_total = u64::try_from(amount.minor).map_err(|_| WordsError::Negative)?;
    let minor_per_major = amount.currency.minor_per_major().unsigned_abs();
    let major_count = minor_total / minor_per_major;
    let minor_count = minor_total % minor_per_major;
    let major_part = counted(
        major_count,
        &major_noun(amount.currency, language),
        language,
    );
    if minor_count == 0 {
        return Ok(major_part);
    }
    let minor_part = counted(
        minor_count,
        &minor_noun(amount.currency, language)?,
        language,
    );
    let and = match language {
        Language::English => "and",
        Language::French => "et",
    };
    Ok(format!("{major_part} {and} {minor_part}"))
}

/// A noun that a number counts, in one language.
#[derive(Debug)]
struct Noun {
    singular: String,
    plural: String,
    /// French grammatical gender; English ignores it.
    feminine: bool,
}

/// "twenty-one euros", "un million d'euros", "vingt et une couronnes".
fn counted(count: u64, noun: &Noun, language: Language) -> String {
    match language {
        Language::English => {
            let form = if count == 1 {
                &noun.singular
            } else {
                &noun.plural
            };
            format!("{} {form}", english_number(count))
        }
        Language::French => {
            let numeral = french_number(count, noun.feminine);
            let ends_with_noun = thousands_groups(count)
                .last()
                .is_some_and(|(_, power)| *power >= 2);
            if ends_with_noun {
                // The numeral ends with a noun (million, milliard...), which takes "de".
                format!("{numeral} {}{}", french_de(&noun.plural), noun.plural)
            } else {
                let form = if count <= 1 {
                    &noun.singular
                } else {
                    &noun.plural
                };
                format!("{numeral} {form}")
            }
        }
    }
}

/// "d'" before a vowel ("d'euros", "d'unités"), "de " otherwise ("de dollars", "de yens").
fn french_de(noun: &str) -> &'static str {
    let starts_with_vowel = noun
        .chars()
        .next()
        .is_some_and(|first| "aeéèêiouAEÉIOU".contains(first));
    if starts_with_vowel { "d'" } else { "de " }
}

// ---------------------------------------------------------------------------------------
// Currency names

/// The names of a common currency, written for its ISO 4217 exponent.
struct CurrencyNames {
    code: &'static str,
    exponent: u8,
    /// Major singular and plural, then minor singular and plural (empty without decimals).
    english: [&'static str; 4],
    french: [&'static str; 4],
    /// Gender of the French major name; the French minor names here are all masculine.
    french_feminine: bool,
}

#[rustfmt::skip]
const CURRENCY_NAMES: &[CurrencyNames] = &[
    CurrencyNames { code: "EUR", exponent: 2, french_feminine: false,
        english: ["euro", "euros", "cent", "cents"],
        french: ["euro", "euros", "centime", "centimes"] },
    CurrencyNames { code: "USD", exponent: 2, french_feminine: false,
        english: ["US dollar", "US dollars", "cent", "cents"],
        french: ["dollar américain", "dollars américains", "centime", "centimes"] },
    CurrencyNames { code: "GBP", exponent: 2, french_feminine: true,
        english: ["pound sterling", "pounds sterling", "penny", "pence"],
        french: ["livre sterling", "livres sterling", "penny", "pence"] },
    CurrencyNames { code: "CHF", exponent: 2, french_feminine: false,
        english: ["Swiss franc", "Swiss francs", "centime", "centimes"],
        french: ["franc suisse", "francs suisses", "centime", "centimes"] },
    CurrencyNames { code: "JPY", exponent: 0, french_feminine: false,
        english: ["yen", "yen", "", ""],
        french: ["yen", "yens", "", ""] },
    CurrencyNames { code: "CAD", exponent: 2, french_feminine: false,
        english: ["Canadian dollar", "Canadian dollars", "cent", "cents"],
        french: ["dollar canadien", "dollars canadiens", "centime", "centimes"] },
    CurrencyNames { code: "AUD", exponent: 2, french_feminine: false,
        english: ["Australian dollar", "Australian dollars", "cent", "cents"],
        french: ["dollar australien", "dollars australiens", "centime", "centimes"] },
    CurrencyNames { code: "SEK", exponent: 2, french_feminine: true,
        english: ["Swedish krona", "Swedish kronor", "öre", "öre"],
        french: ["couronne suédoise", "couronnes suédoises", "öre", "öre"] },
    CurrencyNames { code: "NOK", exponent: 2, french_feminine: true,
        english: ["Norwegian krone", "Norwegian kroner", "øre", "øre"],
        french: ["couronne norvégienne", "couronnes norvégiennes", "øre", "øre"] },
    CurrencyNames { code: "DKK", exponent: 2, french_feminine: true,
        english: ["Danish krone", "Danish kroner", "øre", "øre"],
        french: ["couronne danoise", "couronnes danoises", "øre", "øre"] },
    CurrencyNames { code: "PLN", exponent: 2, french_feminine: false,
        english: ["Polish zloty", "Polish zlotys", "grosz", "groszy"],
        french: ["zloty", "zlotys", "grosz", "groszy"] },
    CurrencyNames { code: "CZK", exponent: 2, french_feminine: true,
        english: ["Czech koruna", "Czech korunas", "haler", "halers"],
        french: ["couronne tchèque", "couronnes tchèques", "haler", "halers"] },
    CurrencyNames { code: "XOF", exponent: 0, french_feminine: false,
        english: ["CFA franc", "CFA francs", "", ""],
        french: ["franc CFA", "francs CFA", "", ""] },
    CurrencyNames { code: "XAF", exponent: 0, french_feminine: false,
        english: ["CFA franc", "CFA francs", "", ""],
        french: ["franc CFA", "francs CFA", "", ""] },
    CurrencyNames { code: "XPF", exponent: 0, french_feminine: false,
        english: ["CFP franc", "CFP francs", "", ""],
        french: ["franc CFP", "francs CFP", "", ""] },
    CurrencyNames { code: "MAD", exponent: 2, french_feminine: false,
        english: ["Moroccan dirham", "Moroccan dirhams", "centime", "centimes"],
        french: ["dirham marocain", "dirhams marocains", "centime", "centimes"] },
    CurrencyNames { code: "TND", exponent: 3, french_feminine: false,
        english: ["Tunisian dinar", "Tunisian dinars", "millime", "millimes"],
        french: ["dinar tunisien", "dinars tunisiens", "millime", "millimes"] },
    CurrencyNames { code: "KWD", exponent: 3, french_feminine: false,
        english: ["Kuwaiti dinar", "Kuwaiti dinars", "fils", "fils"],
        french: ["dinar koweïtien", "dinars koweïtiens", "fils", "fils"] },
    CurrencyNames { code: "BHD", exponent: 3, french_feminine: false,
        english: ["Bahraini dinar", "Bahraini dinars", "fils", "fils"],
        french: ["dinar bahreïni", "dinars bahreïnis", "fils", "fils"] },
    CurrencyNames { code: "CNY", exponent: 2, french_feminine: false,
        english: ["yuan", "yuan", "fen", "fen"],
        french: ["yuan", "yuans", "fen", "fen"] },
    CurrencyNames { code: "INR", exponent: 2, french_feminine: true,
        english: ["Indian rupee", "Indian rupees", "paisa", "paise"],
        french: ["roupie indienne", "roupies indiennes", "paisa", "paise"] },
];

/// The four names of `currency` in `language` and the gender of the major one, when it is
/// one of the common currencies and has the exponent its names were written for.
fn names_of(currency: Currency, language: Language) -> Option<(&'static [&'static str; 4], bool)> {
    let entry = CURRENCY_NAMES
        .iter()
        .find(|entry| entry.code == currency.code() && entry.exponent == currency.exponent())?;
    Some(match language {
        Language::English => (&entry.english, false),
        Language::French => (&entry.french, entry.french_feminine),
    })
}

fn noun(singular: &str, plural: &str, feminine: bool) -> Noun {
    Noun {
        singular: singular.to_string(),
        plural: plural.to_string(),
        feminine,
    }
}

/// The currency's own name, or "unit (XYZ)" / "unité (XYZ)".
fn major_noun(currency: Currency, language: Language) -> Noun {
    if let Some(([singular, plural, _, _], feminine)) = names_of(currency, language) {
        return noun(singular, plural, feminine);
    }
    let code = currency.code();
    match language {
        Language::English => noun(&format!("unit ({code})"), &format!("units ({code})"), false),
        Language::French => noun(
            &format!("unité ({code})"),
            &format!("unités ({code})"),
            true,
        ),
    }
}

/// The minor unit's own name, or the fraction of the major unit it is ("hundredth").
fn minor_noun(currency: Currency, language: Language) -> Result<Noun, WordsError> {
    let named =
        names_of(currency, language).filter(|([_, _, singular, _], _)| !singular.is_empty());
    if let Some(([_, _, singular, plural], _)) = named {
        return Ok(noun(singular, plural, false));
    }
    let (singular, plural) = match (language, currency.exponent()) {
        (Language::English, 1) => ("tenth", "tenths"),
        (Language::English, 2) => ("hundredth", "hundredths"),
        (Language::English, 3) => ("thousandth", "thousandths"),
        (Language::English, 4) => ("ten-thousandth", "ten-thousandths"),
        (Language::French, 1) => ("dixième", "dixièmes"),
        (Language::French, 2) => ("centième", "centièmes"),
        (Language::French, 3) => ("millième", "millièmes"),
        (Language::French, 4) => ("dix-millième", "dix-millièmes"),
        _ => return Err(WordsError::UnsupportedExponent),
    };
    Ok(noun(singular, plural, false))
}

// ---------------------------------------------------------------------------------------
// Numbers

/// The non-zero groups of three digits of `number`, most significant first, each with its
/// power of a thousand: 1_002_345 gives [(1, 2), (2, 1), (345, 0)]; 1_000 gives [(1, 1)].
fn thousands_groups(number: u64) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut rest = number;
    let mut power = 0;
    while rest > 0 {
        // A remainder of a division by 1000 always fits in a usize.
        let group = (rest % 1000) as usize;
        if group > 0 {
            groups.push((group, power));
        }
        rest /= 1000;
        power += 1;
    }
    groups.reverse();
    groups
}

const ENGLISH_BELOW_TWENTY: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const ENGLISH_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Short scale names by power of a thousand; u64 reaches quintillions.
const ENGLISH_SCALES: [&str; 7] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
];

fn english_number(number: u64) -> String {
    if number == 0 {
        return ENGLISH_BELOW_TWENTY[0].to_string();
    }
    let mut words = Vec::new();
    for (group, power) in thousands_groups(number) {
        words.push(english_below_thousand(group));
        if power > 0 {
            words.push(ENGLISH_SCALES[power].to_string());
        }
    }
    words.join(" ")
}

/// 1..=999: "one hundred one", "twenty-one".
fn english_below_thousand(group: usize) -> String {
    let hundreds = group / 100;
    let rest = group % 100;
    let mut words = Vec::new();
    if hundreds > 0 {
        words.push(format!("{} hundred", ENGLISH_BELOW_TWENTY[hundreds]));
    }
    if rest >= 20 {
        let tens = ENGLISH_TENS[rest / 10];
        match rest % 10 {
            0 => words.push(tens.to_string()),
            unit => words.push(format!("{tens}-{}", ENGLISH_BELOW_TWENTY[unit])),
        }
    } else if rest > 0 {
        words.push(ENGLISH_BELOW_TWENTY[rest].to_string());
    }
    words.join(" ")
}

const FRENCH_BELOW_SEVENTEEN: [&str; 17] = [
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze",
    "douze", "treize", "quatorze", "quinze", "seize",
];

/// Tens from twenty to sixty; seventy to ninety-nine are built on "soixante" and
/// "quatre-vingt".
const FRENCH_TENS: [&str; 7] = [
    "",
    "",
    "vingt",
    "trente",
    "quarante",
    "cinquante",
    "soixante",
];

/// Long scale nouns by power of a thousand, from the million up; u64 reaches trillions.
const FRENCH_SCALES: [(&str, &str); 7] = [
    ("", ""),
    ("", ""),
    ("million", "millions"),
    ("milliard", "milliards"),
    ("billion", "billions"),
    ("billiard", "billiards"),
    ("trillion", "trillions"),
];

/// `feminine` makes a final "un" agree: "vingt et une".
fn french_number(number: u64, feminine: bool) -> String {
    if number == 0 {
        return FRENCH_BELOW_SEVENTEEN[0].to_string();
    }
    let mut words = Vec::new();
    for (group, power) in thousands_groups(number) {
        match power {
            0 => words.push(french_below_thousand(group, true, feminine)),
            1 => {
                // "mille", never "un mille"; before the adjective "mille", vingt and cent
                // stay singular and "un" stays masculine: "quatre-vingt mille".
                if group > 1 {
                    words.push(french_below_thousand(group, false, false));
                }
                words.push("mille".to_string());
            }
            _ => {
                // Before a noun, vingt and cent take their "s": "quatre-vingts millions".
                words.push(french_below_thousand(group, true, false));
                let (singular, plural) = FRENCH_SCALES[power];
                words.push(if group > 1 { plural } else { singular }.to_string());
            }
        }
    }
    words.join(" ")
}

/// 1..=999. `plural_allowed` is false before "mille", where a multiplied "vingt" or
/// "cent" does not take its "s".
fn french_below_thousand(group: usize, plural_allowed: bool, feminine: bool) -> String {
    let hundreds = group / 100;
    let rest = group % 100;
    let mut words = Vec::new();
    if hundreds > 1 {
        words.push(FRENCH_BELOW_SEVENTEEN[hundreds].to_string());
    }
    if hundreds > 0 {
        let plural = hundreds > 1 && rest == 0 && plural_allowed;
        words.push(if plural { "cents" } else { "cent" }.to_string());
    }
    if rest > 0 {
        words.push(french_below_hundred(rest, plural_allowed, feminine));
    }
    words.join(" ")
}

/// 1..=99 in the traditional spelling.
fn french_below_hundred(number: usize, plural_allowed: bool, feminine: bool) -> String {
    let tens = number / 10;
    let unit = number % 10;
    match tens {
        0 | 1 => french_below_twenty(number, feminine),
        2..=6 => {
            let ten = FRENCH_TENS[tens];
            match unit {
                0 => ten.to_string(),
                1 => format!("{ten} et {}", french_below_twenty(1, feminine)),
                _ => format!("{ten}-{}", french_below_twenty(unit, feminine)),
            }
        }
        7 if unit == 1 => "soixante et onze".to_string(),
        7 => format!("soixante-{}", french_below_twenty(10 + unit, feminine)),
        8 if unit == 0 && plural_allowed => "quatre-vingts".to_string(),
        8 if unit == 0 => "quatre-vingt".to_string(),
        _ => format!(
            "quatre-vingt-{}",
            french_below_twenty(number - 80, feminine)
        ),
    }
}

/// 1..=19: "un" or "une", "dix-sept".
fn french_below_twenty(number: usize, feminine: bool) -> String {
    match number {
        1 if feminine => "une".to_string(),
        17..=19 => format!("dix-{}", FRENCH_BELOW_SEVENTEEN[number - 10]),
        _ => FRENCH_BELOW_SEVENTEEN[number].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{English, French};
    use proptest::prelude::*;

    fn currency(code: &str) -> Currency {
        code.parse()
            .unwrap_or_else(|_| unreachable!("test currency {code}"))
    }

    fn check(minor: i64, code: &str, language: Language, expected: &str) {
        let written = amount_in_words(Money::new(minor, currency(code)), language);
        assert_eq!(
            written.as_deref(),
            Ok(expected),
            "{minor} minor units of {code} in {language:?}"
        );
    }

    #[test]
    #[rustfmt::skip]
    fn english_amounts() {
        check(123_456, "EUR", English, "one thousand two hundred thirty-four euros and fifty-six cents");
        check(100, "EUR", English, "one euro");
        check(200, "EUR", English, "two euros");
        check(1, "EUR", English, "zero euros and one cent");
        check(0, "EUR", English, "zero euros");
        check(101, "EUR", English, "one euro and one cent");
        check(100, "JPY", English, "one hundred yen");
        check(1, "JPY", English, "one yen");
        check(101, "JPY", English, "one hundred one yen");
        check(21, "JPY", English, "twenty-one yen");
        check(90, "JPY", English, "ninety yen");
        check(100_000, "JPY", English, "one hundred thousand yen");
        check(1_000_001, "JPY", English, "one million one yen");
        check(1_005, "KWD", English, "one Kuwaiti dinar and five fils");
        check(2_999, "BHD", English, "two Bahraini dinars and nine hundred ninety-nine fils");
        check(12_345, "TND", English, "twelve Tunisian dinars and three hundred forty-five millimes");
        check(101, "GBP", English, "one pound sterling and one penny");
        check(202, "GBP", English, "two pounds sterling and two pence");
        check(1_000_000, "USD", English, "ten thousand US dollars");
        check(150, "CHF", English, "one Swiss franc and fifty centimes");
        check(1_999, "SEK", English, "nineteen Swedish kronor and ninety-nine öre");
        check(100, "NOK", English, "one Norwegian krone");
        check(250, "PLN", English, "two Polish zlotys and fifty groszy");
        check(1_500, "XOF", English, "one thousand five hundred CFA francs");
        check(1, "XAF", English, "one CFA franc");
        check(10_050, "INR", English, "one hundred Indian rupees and fifty paise");
        check(1_234, "AED", English, "twelve units (AED) and thirty-four hundredths");
        check(100, "AED", English, "one unit (AED)");
        check(1_001, "IQD", English, "one unit (IQD) and one thousandth");
        check(10_001, "CLF", English, "one unit (CLF) and one ten-thousandth");
        check(25_000, "CLF", English, "two units (CLF) and five thousand ten-thousandths");
        check(7, "BIF", English, "seven units (BIF)");
        check(
            999_999_999_999_999,
            "JPY",
            English,
            "nine hundred ninety-nine trillion nine hundred ninety-nine billion \
             nine hundred ninety-nine million nine hundred ninety-nine thousand \
             nine hundred ninety-nine yen",
        );
    }

    #[test]
    #[rustfmt::skip]
    fn english_maximum_for_each_exponent() {
        check(AMOUNT_MINOR_MAX, "JPY", English, "one quadrillion yen");
        check(AMOUNT_MINOR_MAX, "EUR", English, "ten trillion euros");
        check(AMOUNT_MINOR_MAX, "KWD", English, "one trillion Kuwaiti dinars");
        check(AMOUNT_MINOR_MAX, "CLF", English, "one hundred billion units (CLF)");
        check(
            AMOUNT_MINOR_MAX - 1,
            "EUR",
            English,
            "nine trillion nine hundred ninety-nine billion nine hundred ninety-nine million \
             nine hundred ninety-nine thousand nine hundred ninety-nine euros and ninety-nine cents",
        );
    }

    #[test]
    #[rustfmt::skip]
    fn french_numbers_below_one_hundred() {
        check(100, "EUR", French, "un euro");
        check(200, "EUR", French, "deux euros");
        check(1_600, "EUR", French, "seize euros");
        check(1_700, "EUR", French, "dix-sept euros");
        check(2_000, "EUR", French, "vingt euros");
        check(2_100, "EUR", French, "vingt et un euros");
        check(2_200, "EUR", French, "vingt-deux euros");
        check(3_100, "EUR", French, "trente et un euros");
        check(4_100, "EUR", French, "quarante et un euros");
        check(5_100, "EUR", French, "cinquante et un euros");
        check(6_100, "EUR", French, "soixante et un euros");
        check(7_000, "EUR", French, "soixante-dix euros");
        check(7_100, "EUR", French, "soixante et onze euros");
        check(7_200, "EUR", French, "soixante-douze euros");
        check(7_700, "EUR", French, "soixante-dix-sept euros");
        check(8_000, "EUR", French, "quatre-vingts euros");
        check(8_100, "EUR", French, "quatre-vingt-un euros");
        check(8_200, "EUR", French, "quatre-vingt-deux euros");
        check(9_000, "EUR", French, "quatre-vingt-dix euros");
        check(9_100, "EUR", French, "quatre-vingt-onze euros");
        check(9_900, "EUR", French, "quatre-vingt-dix-neuf euros");
    }

    #[test]
    #[rustfmt::skip]
    fn french_hundreds_and_thousands() {
        check(100, "JPY", French, "cent yens");
        check(101, "JPY", French, "cent un yens");
        check(180, "JPY", French, "cent quatre-vingts yens");
        check(200, "JPY", French, "deux cents yens");
        check(201, "JPY", French, "deux cent un yens");
        check(280, "JPY", French, "deux cent quatre-vingts yens");
        check(1_000, "JPY", French, "mille yens");
        check(1_001, "JPY", French, "mille un yens");
        check(2_000, "JPY", French, "deux mille yens");
        check(21_000, "JPY", French, "vingt et un mille yens");
        check(80_000, "JPY", French, "quatre-vingt mille yens");
        check(80_080, "JPY", French, "quatre-vingt mille quatre-vingts yens");
        check(100_000, "JPY", French, "cent mille yens");
        check(200_000, "JPY", French, "deux cent mille yens");
        check(280_000, "JPY", French, "deux cent quatre-vingt mille yens");
        check(300_200, "JPY", French, "trois cent mille deux cents yens");
        check(123_456, "EUR", French, "mille deux cent trente-quatre euros et cinquante-six centimes");
    }

    #[test]
    #[rustfmt::skip]
    fn french_millions_and_above_are_nouns() {
        check(1_000_000, "JPY", French, "un million de yens");
        check(2_000_000, "JPY", French, "deux millions de yens");
        check(80_000_000, "JPY", French, "quatre-vingts millions de yens");
        check(200_000_000, "JPY", French, "deux cents millions de yens");
        check(100_000_000, "JPY", French, "cent millions de yens");
        check(1_000_002, "JPY", French, "un million deux yens");
        check(1_001_000, "JPY", French, "un million mille yens");
        check(1_080_000, "JPY", French, "un million quatre-vingt mille yens");
        check(21_000_000, "JPY", French, "vingt et un millions de yens");
        check(1_000_000_000, "JPY", French, "un milliard de yens");
        check(80_000_000_000, "JPY", French, "quatre-vingts milliards de yens");
        check(1_000_000_000_000, "JPY", French, "un billion de yens");
        check(AMOUNT_MINOR_MAX, "JPY", French, "un billiard de yens");
        check(100_000_000, "EUR", French, "un million d'euros");
        check(200_000_000, "EUR", French, "deux millions d'euros");
        check(100_000_050, "EUR", French, "un million d'euros et cinquante centimes");
        check(100_000_200, "EUR", French, "un million deux euros");
        check(300_000_000_000, "USD", French, "trois milliards de dollars américains");
        check(
            999_999_999_999_999,
            "JPY",
            French,
            "neuf cent quatre-vingt-dix-neuf billions neuf cent quatre-vingt-dix-neuf milliards \
             neuf cent quatre-vingt-dix-neuf millions neuf cent quatre-vingt-dix-neuf mille \
             neuf cent quatre-vingt-dix-neuf yens",
        );
    }

    #[test]
    #[rustfmt::skip]
    fn french_maximum_for_each_exponent() {
        check(AMOUNT_MINOR_MAX, "EUR", French, "dix billions d'euros");
        check(AMOUNT_MINOR_MAX, "KWD", French, "un billion de dinars koweïtiens");
        check(AMOUNT_MINOR_MAX, "CLF", French, "cent milliards d'unités (CLF)");
    }

    #[test]
    #[rustfmt::skip]
    fn french_zero_cents_and_minor_units() {
        check(0, "EUR", French, "zéro euro");
        check(0, "JPY", French, "zéro yen");
        check(1, "EUR", French, "zéro euro et un centime");
        check(50, "EUR", French, "zéro euro et cinquante centimes");
        check(101, "EUR", French, "un euro et un centime");
        check(180, "EUR", French, "un euro et quatre-vingts centimes");
        check(1_005, "KWD", French, "un dinar koweïtien et cinq fils");
        check(1_200, "TND", French, "un dinar tunisien et deux cents millimes");
        check(150, "CHF", French, "un franc suisse et cinquante centimes");
        check(1_500, "XOF", French, "mille cinq cents francs CFA");
        check(101, "GBP", French, "une livre sterling et un penny");
        check(1_234, "AED", French, "douze unités (AED) et trente-quatre centièmes");
        check(1_001, "IQD", French, "une unité (IQD) et un millième");
        check(10_001, "CLF", French, "une unité (CLF) et un dix-millième");
        check(25_000, "CLF", French, "deux unités (CLF) et cinq mille dix-millièmes");
    }

    #[test]
    #[rustfmt::skip]
    fn french_feminine_currencies() {
        check(0, "GBP", French, "zéro livre sterling");
        check(100, "GBP", French, "une livre sterling");
        check(2_100, "GBP", French, "vingt et une livres sterling");
        check(8_100, "GBP", French, "quatre-vingt-une livres sterling");
        check(10_100, "GBP", French, "cent une livres sterling");
        check(2_100_000, "GBP", French, "vingt et un mille livres sterling");
        check(100_000_000, "GBP", French, "un million de livres sterling");
        check(100_000_100, "GBP", French, "un million une livres sterling");
        check(7_100, "SEK", French, "soixante et onze couronnes suédoises");
        check(100, "INR", French, "une roupie indienne");
        check(100_000_000_000, "CZK", French, "un milliard de couronnes tchèques");
    }

    #[test]
    fn refuses_negative_and_too_large_amounts() {
        let euro = currency("EUR");
        for language in [English, French] {
            let words = |minor| amount_in_words(Money::new(minor, euro), language);
            assert_eq!(words(-1), Err(WordsError::Negative));
            assert_eq!(words(i64::MIN), Err(WordsError::Negative));
            assert_eq!(words(AMOUNT_MINOR_MAX + 1), Err(WordsError::TooLarge));
            assert_eq!(words(i64::MAX), Err(WordsError::TooLarge));
        }
    }

    #[test]
    fn currency_names_match_the_iso_table() {
        for entry in CURRENCY_NAMES {
            let code = entry.code;
            assert_eq!(currency(code).exponent(), entry.exponent, "{code}");
            for names in [entry.english, entry.french] {
                assert!(names[0..2].iter().all(|name| !name.is_empty()), "{code}");
                let has_minor = entry.exponent > 0;
                assert!(
                    names[2..4].iter().all(|name| name.is_empty() != has_minor),
                    "{code}"
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Independent readers: they parse the words back into an amount, with their own
    // tables of number words, and check the grammar rules on the way.

    /// Codes used by the properties: every named currency, and fallbacks of each exponent.
    fn property_codes() -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = CURRENCY_NAMES.iter().map(|entry| entry.code).collect();
        codes.extend(["AED", "IQD", "CLF", "UYW", "BIF", "HKD"]);
        codes
    }

    fn english_word_value(word: &str) -> Option<u64> {
        let words = [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ];
        if let Some(value) = words.iter().position(|candidate| *candidate == word) {
            return Some(value as u64);
        }
        let tens = [
            "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        ];
        tens.iter()
            .position(|candidate| *candidate == word)
            .map(|index| 20 + 10 * index as u64)
    }

    fn english_scale(word: &str) -> Option<u64> {
        match word {
            "thousand" => Some(1_000),
            "million" => Some(1_000_000),
            "billion" => Some(1_000_000_000),
            "trillion" => Some(1_000_000_000_000),
            "quadrillion" => Some(1_000_000_000_000_000),
            _ => None,
        }
    }

    fn is_english_number_word(word: &str) -> bool {
        word == "hundred"
            || english_scale(word).is_some()
            || word
                .split('-')
                .all(|part| english_word_value(part).is_some())
    }

    /// Reads the leading English numeral of `text`: its value and the rest of the text.
    fn read_english_numeral(text: &str) -> Result<(u64, &str), String> {
        let mut total = 0;
        let mut group = 0;
        let mut rest = text;
        let mut read_any = false;
        while let Some(word) = rest
            .split(' ')
            .next()
            .filter(|word| is_english_number_word(word))
        {
            rest = rest.get(word.len()..).unwrap_or("").trim_start_matches(' ');
            read_any = true;
            if word == "hundred" {
                if !(1..10).contains(&group) {
                    return Err(format!("hundred after {group} in {text:?}"));
                }
                group *= 100;
            } else if let Some(scale) = english_scale(word) {
                if group == 0 {
                    return Err(format!("{word} without a multiplier in {text:?}"));
                }
                total += group * scale;
                group = 0;
            } else if let Some((tens, unit)) = word.split_once('-') {
                let (tens, unit) = (english_word_value(tens), english_word_value(unit));
                match (tens, unit) {
                    (Some(tens @ 20..), Some(unit @ 1..=9)) if tens % 10 == 0 => {
                        group += tens + unit
                    }
                    _ => return Err(format!("bad compound {word:?} in {text:?}")),
                }
            } else {
                let value = english_word_value(word).unwrap_or(0);
                if group % 100 >= 20 && value < 10 {
                    return Err(format!("unit not hyphenated after tens in {text:?}"));
                }
                group += value;
            }
        }
        if !read_any {
            return Err(format!("no number at the start of {text:?}"));
        }
        Ok((total + group, rest))
    }

    /// Reads "numeral noun" and checks that the noun is the right form for the number.
    fn read_english_part(text: &str, noun: &Noun) -> Result<u64, String> {
        let (count, rest) = read_english_numeral(text)?;
        let expected = if count == 1 {
            &noun.singular
        } else {
            &noun.plural
        };
        if rest != expected {
            return Err(format!(
                "expected {expected:?} after {count}, found {rest:?}"
            ));
        }
        Ok(count)
    }

    fn read_english_amount(text: &str, currency: Currency) -> Result<i64, String> {
        let major_noun = major_noun(currency, English);
        let (major, minor) = match text.split_once(" and ") {
            None => (read_english_part(text, &major_noun)?, 0),
            Some((major_text, minor_text)) => {
                let minor_noun =
                    minor_noun(currency, English).map_err(|error| error.to_string())?;
                (
                    read_english_part(major_text, &major_noun)?,
                    read_english_part(minor_text, &minor_noun)?,
                )
            }
        };
        combine(major, minor, currency)
    }

    fn combine(major: u64, minor: u64, currency: Currency) -> Result<i64, String> {
        let per_major = currency.minor_per_major().unsigned_abs();
        if minor >= per_major {
            return Err(format!("minor part {minor} is not below {per_major}"));
        }
        i64::try_from(major * per_major + minor).map_err(|error| error.to_string())
    }

    fn french_word_value(word: &str) -> Option<u64> {
        let value = match word {
            "zéro" => 0,
            "un" | "une" => 1,
            "deux" => 2,
            "trois" => 3,
            "quatre" => 4,
            "cinq" => 5,
            "six" => 6,
            "sept" => 7,
            "huit" => 8,
            "neuf" => 9,
            "dix" => 10,
            "onze" => 11,
            "douze" => 12,
            "treize" => 13,
            "quatorze" => 14,
            "quinze" => 15,
            "seize" => 16,
            "vingt" | "vingts" => 20,
            "trente" => 30,
            "quarante" => 40,
            "cinquante" => 50,
            "soixante" => 60,
            "cent" | "cents" => 100,
            _ => return None,
        };
        Some(value)
    }

    fn french_noun_scale(word: &str) -> Option<u64> {
        match word {
            "million" | "millions" => Some(1_000_000),
            "milliard" | "milliards" => Some(1_000_000_000),
            "billion" | "billions" => Some(1_000_000_000_000),
            "billiard" | "billiards" => Some(1_000_000_000_000_000),
            _ => None,
        }
    }

    fn is_french_number_word(word: &str) -> bool {
        word == "mille" || french_word_value(word).is_some() || french_noun_scale(word).is_some()
    }

    /// Splits the leading French numeral of `text` into its words (hyphens split too) and
    /// returns them with the rest of the text. "et" belongs to the numeral only before
    /// "un", "une" or "onze".
    fn split_french_numeral(text: &str) -> (Vec<&str>, &str) {
        let mut words = Vec::new();
        let mut rest = text;
        loop {
            let mut next = rest.splitn(3, ' ');
            let (Some(word), after) = (next.next(), next.next()) else {
                break;
            };
            let is_number = if word == "et" {
                after.is_some_and(|after| ["un", "une", "onze"].contains(&after))
            } else {
                !word.is_empty() && word.split('-').all(is_french_number_word)
            };
            if !is_number {
                break;
            }
            words.extend(word.split('-'));
            rest = rest.get(word.len()..).unwrap_or("").trim_start_matches(' ');
        }
        (words, rest)
    }

    /// Whether the word before `index` is vingt (not in quatre-vingt), trente, quarante,
    /// cinquante or soixante: the tens that take "et" before "un" and "onze".
    fn after_simple_ten(words: &[&str], index: usize) -> bool {
        let previous = index.checked_sub(1).and_then(|index| words.get(index));
        let before_previous = index.checked_sub(2).and_then(|index| words.get(index));
        let simple_tens = ["vingt", "trente", "quarante", "cinquante", "soixante"];
        previous.is_some_and(|word| simple_tens.contains(word))
            && before_previous != Some(&"quatre")
    }

    /// Reads the leading French numeral of `text`, checking the agreement rules.
    fn read_french_numeral(text: &str, feminine: bool) -> Result<(u64, Vec<&str>, &str), String> {
        let (words, rest) = split_french_numeral(text);
        if words.is_empty() {
            return Err(format!("no number at the start of {text:?}"));
        }
        let mut total = 0;
        let mut group = 0;
        for (index, word) in words.iter().copied().enumerate() {
            let previous = index
                .checked_sub(1)
                .and_then(|index| words.get(index))
                .copied();
            let next = words.get(index + 1).copied();
            let ends_numeral_or_before_noun =
                next.is_none_or(|next| french_noun_scale(next).is_some());
            match word {
                "et" => {
                    if !after_simple_ten(&words, index) {
                        return Err(format!("misplaced et in {text:?}"));
                    }
                }
                "cent" | "cents" => {
                    if group >= 10 {
                        return Err(format!("cent after {group} in {text:?}"));
                    }
                    let multiplied = group >= 2;
                    let expected = multiplied && ends_numeral_or_before_noun;
                    if (word == "cents") != expected {
                        return Err(format!("wrong plural of cent in {text:?}"));
                    }
                    if group == 1 {
                        return Err(format!("un cent in {text:?}"));
                    }
                    group = group.max(1) * 100;
                }
                "vingt" | "vingts" if previous == Some("quatre") => {
                    if (word == "vingts") != ends_numeral_or_before_noun {
                        return Err(format!("wrong plural of quatre-vingt in {text:?}"));
                    }
                    group += 76;
                }
                "vingts" => return Err(format!("vingts without quatre in {text:?}")),
                "mille" => {
                    if group == 1 {
                        return Err(format!("un mille in {text:?}"));
                    }
                    total += group.max(1) * 1_000;
                    group = 0;
                }
                _ => {
                    if let Some(scale) = french_noun_scale(word) {
                        let plural = word.ends_with('s');
                        if group == 0 || plural != (group > 1) {
                            return Err(format!("wrong {word} after {group} in {text:?}"));
                        }
                        total += group * scale;
                        group = 0;
                        continue;
                    }
                    let value = french_word_value(word).unwrap_or(0);
                    if (value == 1 || value == 11) && after_simple_ten(&words, index) {
                        return Err(format!("missing et before {word} in {text:?}"));
                    }
                    if value == 1 {
                        let in_last_group =
                            words.get(index + 1..).unwrap_or(&[]).iter().all(|later| {
                                *later != "mille" && french_noun_scale(later).is_none()
                            });
                        let expected = if in_last_group && feminine {
                            "une"
                        } else {
                            "un"
                        };
                        if word != expected {
                            return Err(format!("expected {expected} in {text:?}"));
                        }
                    }
                    group += value;
                }
            }
        }
        Ok((total + group, words, rest))
    }

    /// Reads "numeral [de] noun", checking "de" and the noun's number.
    fn read_french_part<'text>(text: &'text str, noun: &Noun) -> Result<(u64, &'text str), String> {
        let (count, words, rest) = read_french_numeral(text, noun.feminine)?;
        let ends_with_noun = words
            .last()
            .is_some_and(|word| french_noun_scale(word).is_some());
        let rest = if ends_with_noun {
            rest.strip_prefix("d'")
                .or_else(|| rest.strip_prefix("de "))
                .ok_or_else(|| format!("missing de in {text:?}"))?
        } else {
            rest
        };
        let expected = if count <= 1 {
            &noun.singular
        } else {
            &noun.plural
        };
        let rest = rest
            .strip_prefix(expected.as_str())
            .ok_or_else(|| format!("expected {expected:?} after {count} in {text:?}"))?;
        Ok((count, rest))
    }

    fn read_french_amount(text: &str, currency: Currency) -> Result<i64, String> {
        let (major, rest) = read_french_part(text, &major_noun(currency, French))?;
        if rest.is_empty() {
            return combine(major, 0, currency);
        }
        let minor_text = rest
            .strip_prefix(" et ")
            .ok_or_else(|| format!("unexpected {rest:?} in {text:?}"))?;
        let minor_noun = minor_noun(currency, French).map_err(|error| error.to_string())?;
        let (minor, rest) = read_french_part(minor_text, &minor_noun)?;
        if !rest.is_empty() || minor == 0 {
            return Err(format!("bad minor part in {text:?}"));
        }
        combine(major, minor, currency)
    }

    #[test]
    fn readers_read_the_table_examples() {
        let euro = currency("EUR");
        assert_eq!(
            read_english_amount(
                "one thousand two hundred thirty-four euros and fifty-six cents",
                euro
            ),
            Ok(123_456)
        );
        assert_eq!(
            read_french_amount("quatre-vingt mille quatre-vingts euros", euro),
            Ok(8_008_000)
        );
        assert_eq!(
            read_french_amount("vingt et un mille euros et un centime", euro),
            Ok(2_100_001)
        );
        // The readers refuse what the rules forbid.
        assert!(read_french_amount("quatre-vingt euros", euro).is_err());
        assert!(read_french_amount("deux cent euros", euro).is_err());
        assert!(read_french_amount("deux cents mille euros", euro).is_err());
        assert!(read_french_amount("vingt-un euros", euro).is_err());
        assert!(read_french_amount("un million euros", euro).is_err());
        assert!(read_french_amount("un mille euros", euro).is_err());
        assert!(read_english_amount("twenty one euros", euro).is_err());
        assert!(read_english_amount("one euros", euro).is_err());
    }

    fn amounts() -> impl Strategy<Value = i64> {
        prop_oneof![
            0..=AMOUNT_MINOR_MAX,
            0..=10_000_i64,
            0..=100_000_000_i64,
            // Round amounts, where "de" and the plural of vingt and cent show.
            (0..=1_000_i64, 0..=12_u32).prop_map(|(number, power)| number * 10_i64.pow(power)),
            Just(AMOUNT_MINOR_MAX),
        ]
    }

    proptest! {
        #[test]
        fn every_amount_is_written_and_read_back(
            minor in amounts(),
            code_index in 0..property_codes().len(),
        ) {
            let code = property_codes()[code_index];
            let currency = currency(code);
            let money = Money::new(minor, currency);
            for language in [English, French] {
                let written = amount_in_words(money, language);
                prop_assert!(written.is_ok(), "{minor} {code} {language:?}: {written:?}");
                let text = written.unwrap_or_default();
                prop_assert!(!text.contains("  "), "double space in {text:?}");
                prop_assert_eq!(text.trim(), text.as_str());
                let read = match language {
                    English => read_english_amount(&text, currency),
                    French => read_french_amount(&text, currency),
                };
                prop_assert_eq!(read, Ok(minor), "{}", text);
            }
        }
    }
}
