//! A message text as SMPP short messages: which alphabet, and how it is cut into parts.
//!
//! - **GSM 03.38** (3GPP TS 23.038's default alphabet, `data_coding` 0x00) when every
//!   character of the text is in its basic table or its extension table (the escape 0x1B
//!   followed by one septet: `^ { } \ [ ~ ] | €` and form feed, each counting two
//!   septets). The septets go *unpacked*, one per octet, as SMPP's `data_coding` 0 is read
//!   by Kannel and most SMSCs, which pack them for the air themselves.
//! - **UCS-2** (`data_coding` 0x08, big-endian UTF-16 code units) otherwise: one character
//!   outside both tables sends the whole text this way.
//! - **Characters outside the Basic Multilingual Plane** (emoji, rare CJK) are sent as
//!   UTF-16 surrogate pairs, two code units each: strict UCS-2 has no such characters,
//!   but handsets read `data_coding` 0x08 as UTF-16 and show them. A pair is never split
//!   across two parts.
//!
//! A text fits one short message up to 160 septets or 70 code units. A longer one is cut
//! into concatenated parts, each led by the 6-octet header `05 00 03 reference total
//! sequence` (the UDHI bit must then be set in `esm_class`), holding at most 153 septets
//! or 67 code units, so that each part, once packed by the SMSC, is 140 octets. A cut
//! never falls between an escape and its character, nor inside a surrogate pair: such
//! a part is one unit shorter. At most 255 parts (the header counts them in one octet).

use std::ops::Range;

/// The alphabet of the parts, as SMPP's `data_coding` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// GSM 03.38, unpacked septets.
    Gsm7,
    /// UCS-2 (UTF-16 with surrogate pairs outside the BMP), big-endian.
    Ucs2,
}

impl Coding {
    /// The value of `submit_sm`'s `data_coding`.
    pub fn data_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0x00,
            Coding::Ucs2 => 0x08,
        }
    }

    /// Octets of one unit (a septet, a UTF-16 code unit).
    fn unit_octets(self) -> usize {
        match self {
            Coding::Gsm7 => 1,
            Coding::Ucs2 => 2,
        }
    }

    /// Octets of text a lone short message holds.
    fn single_octets_max(self) -> usize {
        match self {
            Coding::Gsm7 => SINGLE_SEPTETS_MAX,
            Coding::Ucs2 => SINGLE_UNITS_MAX * 2,
        }
    }

    /// Octets of text a concatenated part holds, after its header.
    fn part_octets_max(self) -> usize {
        match self {
            Coding::Gsm7 => PART_SEPTETS_MAX,
            Coding::Ucs2 => PART_UNITS_MAX * 2,
        }
    }

    /// Whether a part may end just before `at` in the encoded text: not right after an
    /// escape, not before the low half of a surrogate pair.
    fn may_cut(self, octets: &[u8], at: usize) -> bool {
        match self {
            Coding::Gsm7 => at == 0 || octets.get(at - 1) != Some(&ESCAPE),
            Coding::Ucs2 => !octets
                .get(at)
                .is_some_and(|high| (0xDC..=0xDF).contains(high)),
        }
    }
}

/// A text ready for `submit_sm`: one `short_message` per part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub coding: Coding,
    /// Each part's whole `short_message`, the concatenation header included when there
    /// are several parts.
    pub parts: Vec<Vec<u8>>,
}

impl Encoded {
    /// Whether the parts start with a user data header: `esm_class` must then set UDHI
    /// (0x40).
    pub fn udhi(&self) -> bool {
        self.parts.len() > 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsTextError {
    #[error("the text is empty")]
    Empty,
    #[error("the text needs more than {PARTS_MAX} short messages")]
    TooLong,
}

/// Why parts are not a text as [`encode`] makes them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("no parts")]
    NoParts,
    #[error("part {0} has no concatenation header matching the others")]
    Header(usize),
    #[error("a septet outside GSM 03.38 or its extension table")]
    Septet,
    #[error("an odd number of octets in UCS-2")]
    OddLength,
    #[error("a lone UTF-16 surrogate")]
    Surrogate,
}

/// The escape to GSM 03.38's extension table.
const ESCAPE: u8 = 0x1B;
const SINGLE_SEPTETS_MAX: usize = 160;
const PART_SEPTETS_MAX: usize = 153;
const SINGLE_UNITS_MAX: usize = 70;
const PART_UNITS_MAX: usize = 67;
const PARTS_MAX: usize = 255;
/// `05 00 03 reference total sequence`: IE "concatenated short messages, 8-bit reference".
const UDH_OCTETS: usize = 6;
const UDH_LEAD: [u8; 3] = [0x05, 0x00, 0x03];
/// Each character is at most 3 octets of UTF-8 per septet or code unit it costs (4 for 2
/// in a surrogate pair): a longer text cannot fit, and is refused before any work.
const TEXT_BYTES_MAX: usize = 3 * PARTS_MAX * PART_SEPTETS_MAX;

// Packed, a part is 140 octets: the header padded to a septet boundary (7 septets) and
// 153 septets; or the header and 67 code units.
const _: () = assert!((UDH_OCTETS * 8).div_ceil(7) + PART_SEPTETS_MAX == SINGLE_SEPTETS_MAX);
const _: () = assert!(SINGLE_SEPTETS_MAX * 7 / 8 == 140);
const _: () = assert!(UDH_OCTETS + PART_UNITS_MAX * 2 == SINGLE_UNITS_MAX * 2);
const _: () = assert!(SINGLE_UNITS_MAX * 2 == 140);

/// GSM 03.38's basic table, by septet; 0x1B is the escape, never a character.
#[rustfmt::skip]
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É',
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// GSM 03.38's extension table: the septet after the escape, and its character.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The text as short messages; `reference` tells this text's parts from another's (the
/// caller varies it between messages to one phone).
pub fn encode(text: &str, reference: u8) -> Result<Encoded, SmsTextError> {
    if text.is_empty() {
        return Err(SmsTextError::Empty);
    }
    if text.len() > TEXT_BYTES_MAX {
        return Err(SmsTextError::TooLong);
    }
    let (coding, octets) = match gsm(text) {
        Some(septets) => (Coding::Gsm7, septets),
        None => (Coding::Ucs2, ucs2(text)),
    };
    if octets.len() <= coding.single_octets_max() {
        return Ok(Encoded {
            coding,
            parts: vec![octets],
        });
    }
    let ranges = part_ranges(coding, &octets)?;
    let total = u8::try_from(ranges.len()).map_err(|_| SmsTextError::TooLong)?;
    let parts = (1..=total)
        .zip(ranges)
        .map(|(sequence, range)| {
            let mut part = Vec::with_capacity(UDH_OCTETS + range.len());
            part.extend_from_slice(&UDH_LEAD);
            part.extend_from_slice(&[reference, total, sequence]);
            part.extend_from_slice(&octets[range]);
            part
        })
        .collect();
    Ok(Encoded { coding, parts })
}

/// The coding a text goes in: GSM 03.38 when every character is in it or its extension
/// table, UCS-2 otherwise (what [`encode`] decides, for routes that only name it).
pub fn coding_of(text: &str) -> Coding {
    match gsm(text) {
        Some(_) => Coding::Gsm7,
        None => Coding::Ucs2,
    }
}

/// The text's septets, one per octet, if every character is in GSM 03.38.
fn gsm(text: &str) -> Option<Vec<u8>> {
    let mut septets = Vec::with_capacity(text.len());
    for character in text.chars() {
        if let Some(septet) = basic_septet(character) {
            septets.push(septet);
        } else {
            let (septet, _) = EXTENSION.iter().find(|(_, c)| *c == character)?;
            septets.extend_from_slice(&[ESCAPE, *septet]);
        }
    }
    Some(septets)
}

fn basic_septet(character: char) -> Option<u8> {
    let septet = BASIC.iter().position(|c| *c == character)?;
    let septet = u8::try_from(septet).ok()?;
    (septet != ESCAPE).then_some(septet)
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Where each part of a long text starts and ends, in the encoded text.
fn part_ranges(coding: Coding, octets: &[u8]) -> Result<Vec<Range<usize>>, SmsTextError> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < octets.len() {
        if ranges.len() == PARTS_MAX {
            return Err(SmsTextError::TooLong);
        }
        let mut end = (start + coding.part_octets_max()).min(octets.len());
        if !coding.may_cut(octets, end) {
            end -= coding.unit_octets();
        }
        ranges.push(start..end);
        start = end;
    }
    Ok(ranges)
}

/// The text back from parts as [`encode`] makes them (in order, headers checked).
pub fn decode(coding: Coding, parts: &[Vec<u8>]) -> Result<String, DecodeError> {
    let octets = reassemble(parts)?;
    match coding {
        Coding::Gsm7 => decode_gsm(&octets),
        Coding::Ucs2 => decode_ucs2(&octets),
    }
}

/// The parts' text octets end to end, each concatenation header checked.
fn reassemble(parts: &[Vec<u8>]) -> Result<Vec<u8>, DecodeError> {
    let [first, others @ ..] = parts else {
        return Err(DecodeError::NoParts);
    };
    if others.is_empty() {
        return Ok(first.clone());
    }
    let reference = first.get(3).copied().ok_or(DecodeError::Header(0))?;
    let total = u8::try_from(parts.len()).map_err(|_| DecodeError::Header(PARTS_MAX))?;
    let mut octets = Vec::new();
    for ((index, part), sequence) in parts.iter().enumerate().zip(1..=total) {
        let header = [
            UDH_LEAD[0],
            UDH_LEAD[1],
            UDH_LEAD[2],
            reference,
            total,
            sequence,
        ];
        let text = part
            .strip_prefix(&header[..])
            .ok_or(DecodeError::Header(index))?;
        octets.extend_from_slice(text);
    }
    Ok(octets)
}

fn decode_gsm(septets: &[u8]) -> Result<String, DecodeError> {
    let mut text = String::with_capacity(septets.len());
    let mut septets = septets.iter();
    while let Some(&septet) = septets.next() {
        let character = if septet == ESCAPE {
            let escaped = septets.next().ok_or(DecodeError::Septet)?;
            EXTENSION
                .iter()
                .find(|(s, _)| s == escaped)
                .map(|(_, c)| *c)
        } else {
            BASIC.get(usize::from(septet)).copied()
        };
        text.push(character.ok_or(DecodeError::Septet)?);
    }
    Ok(text)
}

fn decode_ucs2(octets: &[u8]) -> Result<String, DecodeError> {
    let (pairs, rest) = octets.as_chunks::<2>();
    if !rest.is_empty() {
        return Err(DecodeError::OddLength);
    }
    let units = pairs.iter().map(|pair| u16::from_be_bytes(*pair));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| DecodeError::Surrogate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UDHI_PART: &[u8] = &UDH_LEAD;

    fn check(text: &str, coding: Coding, part_lengths: &[usize]) {
        let encoded = encode(text, 7).unwrap_or_else(|e| unreachable!("{text:?}: {e}"));
        assert_eq!(encoded.coding, coding, "{text:?}");
        let lengths: Vec<usize> = encoded.parts.iter().map(Vec::len).collect();
        assert_eq!(lengths, part_lengths, "{text:?}");
        assert_eq!(encoded.udhi(), part_lengths.len() > 1);
        assert_eq!(decode(coding, &encoded.parts).as_deref(), Ok(text));
        assert_invariants(&encoded);
    }

    /// What the proptest and the fuzz target hold of every encoding.
    fn assert_invariants(encoded: &Encoded) {
        let several = encoded.udhi();
        for (index, part) in encoded.parts.iter().enumerate() {
            let text = if several {
                assert!(part.starts_with(UDHI_PART), "{part:?}");
                assert_eq!(usize::from(part[4]), encoded.parts.len());
                assert_eq!(usize::from(part[5]), index + 1);
                &part[UDH_OCTETS..]
            } else {
                &part[..]
            };
            assert!(!text.is_empty());
            assert!(
                air_octets(encoded.coding, several, text.len()) <= 140,
                "{part:?}"
            );
            match encoded.coding {
                Coding::Gsm7 => assert_ne!(text.last(), Some(&ESCAPE), "{part:?}"),
                Coding::Ucs2 => assert!(!(0xDC..=0xDF).contains(&text[0]), "{part:?}"),
            }
        }
    }

    /// What a part weighs on the air, once the SMSC packs GSM septets.
    fn air_octets(coding: Coding, several: bool, text_octets: usize) -> usize {
        let header_octets = if several { UDH_OCTETS } else { 0 };
        match coding {
            Coding::Gsm7 => ((header_octets * 8).div_ceil(7) + text_octets) * 7 / 8,
            Coding::Ucs2 => header_octets + text_octets,
        }
    }

    #[test]
    fn every_extension_character_is_an_escape_and_its_septet() {
        for (septet, character) in EXTENSION {
            let text = character.to_string();
            let encoded = encode(&text, 0).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(encoded.coding, Coding::Gsm7, "{character:?}");
            assert_eq!(encoded.parts, vec![vec![ESCAPE, septet]], "{character:?}");
            assert_eq!(decode(Coding::Gsm7, &encoded.parts), Ok(text));
        }
    }

    #[test]
    fn gsm_text_with_escapes_is_gsm() {
        let encoded = encode("{€}[", 0).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(encoded.coding, Coding::Gsm7);
        assert_eq!(encoded.coding.data_coding(), 0x00);
        let septets = vec![0x1B, 0x28, 0x1B, 0x65, 0x1B, 0x29, 0x1B, 0x3C];
        assert_eq!(encoded.parts, vec![septets]);
        let encoded = encode(
            "Code 1234: @£$¥ èéùìò Øø ÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ ¤ ¡¿ ÄÖÑÜ§ äöñüà",
            0,
        );
        assert_eq!(encoded.map(|e| e.coding), Ok(Coding::Gsm7));
    }

    #[test]
    fn one_character_outside_gsm_makes_the_whole_text_ucs2() {
        check("Код 1234", Coding::Ucs2, &[16]);
        check("验证码 1234", Coding::Ucs2, &[16]);
        check("ç", Coding::Ucs2, &[2]);
        check("\u{1B}", Coding::Ucs2, &[2]);
        let encoded = encode("Код", 0).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(encoded.coding.data_coding(), 0x08);
        assert_eq!(
            encoded.parts,
            vec![vec![0x04, 0x1A, 0x04, 0x3E, 0x04, 0x34]]
        );
    }

    #[test]
    fn gsm_fits_one_message_up_to_160_septets() {
        check(&"a".repeat(160), Coding::Gsm7, &[160]);
        check(&format!("{}€", "a".repeat(158)), Coding::Gsm7, &[160]);
        check(&"a".repeat(161), Coding::Gsm7, &[6 + 153, 6 + 8]);
        check(
            &format!("{}€", "a".repeat(159)),
            Coding::Gsm7,
            &[6 + 153, 6 + 8],
        );
        check(&"a".repeat(153 * 3), Coding::Gsm7, &[159, 159, 159]);
    }

    #[test]
    fn ucs2_fits_one_message_up_to_70_units() {
        check(&"д".repeat(70), Coding::Ucs2, &[140]);
        check(&"д".repeat(71), Coding::Ucs2, &[6 + 134, 6 + 8]);
        check(&format!("{}😀", "д".repeat(68)), Coding::Ucs2, &[140]);
        check(
            &format!("{}😀", "д".repeat(69)),
            Coding::Ucs2,
            &[140, 6 + 8],
        );
    }

    #[test]
    fn an_escape_is_never_cut_from_its_character() {
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let encoded = encode(&text, 9).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(encoded.parts.len(), 2);
        assert_eq!(encoded.parts[0].len(), 6 + 152);
        assert_eq!(&encoded.parts[1][..8], &[5, 0, 3, 9, 2, 2, ESCAPE, 0x65]);
        assert_eq!(decode(Coding::Gsm7, &encoded.parts), Ok(text));
        // The escape at 153 and its character at 154 both fit.
        let text = format!("{}€{}", "a".repeat(151), "b".repeat(10));
        check(&text, Coding::Gsm7, &[6 + 153, 6 + 10]);
    }

    #[test]
    fn a_surrogate_pair_is_never_cut() {
        let text = format!("{}😀{}", "д".repeat(66), "д".repeat(10));
        let encoded = encode(&text, 1).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(encoded.parts.len(), 2);
        assert_eq!(encoded.parts[0].len(), 6 + 66 * 2);
        assert_eq!(&encoded.parts[1][6..10], &[0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode(Coding::Ucs2, &encoded.parts), Ok(text));
        let text = format!("{}😀{}", "д".repeat(65), "д".repeat(10));
        check(&text, Coding::Ucs2, &[140, 6 + 20]);
    }

    #[test]
    fn empty_and_overlong_texts_are_refused() {
        assert_eq!(encode("", 0), Err(SmsTextError::Empty));
        let longest = "a".repeat(255 * 153);
        let encoded = encode(&longest, 0).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(encoded.parts.len(), 255);
        assert_eq!(
            encode(&format!("{longest}a"), 0),
            Err(SmsTextError::TooLong)
        );
        // Escapes that cannot be cut push the last character into a 256th part.
        let escapes = "€".repeat(255 * 76) + "aa";
        assert_eq!(encode(&escapes, 0), Err(SmsTextError::TooLong));
        assert_eq!(
            encode(&"😀".repeat(255 * 33 + 1), 0),
            Err(SmsTextError::TooLong)
        );
        assert_eq!(
            encode(&"€".repeat(TEXT_BYTES_MAX), 0),
            Err(SmsTextError::TooLong)
        );
    }

    #[test]
    fn parts_not_made_by_encode_are_refused() {
        assert_eq!(decode(Coding::Gsm7, &[]), Err(DecodeError::NoParts));
        assert_eq!(
            decode(Coding::Gsm7, &[vec![0x80]]),
            Err(DecodeError::Septet)
        );
        assert_eq!(
            decode(Coding::Gsm7, &[vec![ESCAPE]]),
            Err(DecodeError::Septet)
        );
        assert_eq!(
            decode(Coding::Gsm7, &[vec![ESCAPE, 0x41]]),
            Err(DecodeError::Septet)
        );
        assert_eq!(
            decode(Coding::Ucs2, &[vec![0x00]]),
            Err(DecodeError::OddLength)
        );
        assert_eq!(
            decode(Coding::Ucs2, &[vec![0xD8, 0x3D]]),
            Err(DecodeError::Surrogate)
        );
        let encoded = encode(&"a".repeat(200), 4).unwrap_or_else(|e| unreachable!("{e}"));
        let mut swapped = encoded.parts.clone();
        swapped.swap(0, 1);
        assert_eq!(decode(Coding::Gsm7, &swapped), Err(DecodeError::Header(0)));
        let mut other_reference = encoded.parts.clone();
        other_reference[1][3] = 5;
        assert_eq!(
            decode(Coding::Gsm7, &other_reference),
            Err(DecodeError::Header(1))
        );
        let mut short = encoded.parts.clone();
        short.push(vec![5, 0, 3, 4, 2]);
        assert_eq!(decode(Coding::Gsm7, &short), Err(DecodeError::Header(0)));
    }

    fn texts() -> impl Strategy<Value = String> {
        let gsm: Vec<char> = BASIC
            .iter()
            .copied()
            .filter(|c| *c != '\u{1B}')
            .chain(EXTENSION.iter().map(|(_, c)| *c))
            .collect();
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(gsm), 1..700)
                .prop_map(|chars| chars.into_iter().collect()),
            proptest::collection::vec(
                proptest::sample::select(vec!['д', '验', '😀', 'a', '€']),
                1..300
            )
            .prop_map(|chars| chars.into_iter().collect()),
            "\\PC{1,400}",
        ]
    }

    proptest! {
        #[test]
        fn encode_then_decode_gives_the_text_back(text in texts(), reference in any::<u8>()) {
            let encoded = encode(&text, reference);
            prop_assert!(encoded.is_ok(), "{encoded:?}");
            let encoded = encoded.unwrap_or_else(|e| unreachable!("{e}"));
            assert_invariants(&encoded);
            prop_assert_eq!(decode(encoded.coding, &encoded.parts), Ok(text));
        }
    }
}
