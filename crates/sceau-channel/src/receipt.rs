//! The text of an SMPP delivery receipt (SMPP 3.4, Appendix B), and the forms an id
//! takes in it.
//!
//! The standard text is `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done
//! date:YYMMDDhhmm stat:DDDDDDD err:E text:...`. Operators vary it: fields missing or in
//! another order, keys and values in either case, a space after the colon, dates with
//! seconds, the text in UTF-16. [`parse`] reads only what a report needs (`id`, `stat`,
//! `err`), each field's first occurrence, and stops at `text:`: what follows is the start
//! of the message sent, which may hold a secret; it is never read, kept or logged.
//!
//! The id in a receipt is not always written as the SMSC gave it in `submit_sm_resp`:
//! some write in decimal an id they gave in hex (or the reverse), change its case, or pad
//! it with zeros. The store keeps [`normalize_id`] of the id it was given and looks a
//! receipt's id up under each of [`id_candidates`].

use crate::ReportOutcome;

/// What a receipt's text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptText {
    /// The message's id, as the receipt writes it.
    pub id: String,
    pub stat: Stat,
    /// The network's error code, as the receipt writes it (`000` for none).
    pub err: Option<String>,
}

/// A receipt's `stat:` (SMPP 3.4's message states).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
    Enroute,
    /// A state no table names, upper-cased.
    Other(String),
}

impl Stat {
    /// The state as SMPP 3.4 writes it (`DELIVRD`, `UNDELIV`, ...), or as the receipt
    /// wrote a state no table names.
    pub fn word(&self) -> &str {
        match self {
            Stat::Delivered => "DELIVRD",
            Stat::Expired => "EXPIRED",
            Stat::Deleted => "DELETED",
            Stat::Undeliverable => "UNDELIV",
            Stat::Accepted => "ACCEPTD",
            Stat::Unknown => "UNKNOWN",
            Stat::Rejected => "REJECTD",
            Stat::Enroute => "ENROUTE",
            Stat::Other(word) => word,
        }
    }

    /// What the state means for the message's part.
    pub fn outcome(&self) -> ReportOutcome {
        match self {
            Stat::Delivered => ReportOutcome::Delivered,
            Stat::Expired | Stat::Deleted | Stat::Undeliverable | Stat::Rejected => {
                ReportOutcome::Failed
            }
            Stat::Accepted | Stat::Unknown | Stat::Enroute | Stat::Other(_) => {
                ReportOutcome::Pending
            }
        }
    }
}

/// The words a `stat:` is written with: the specification's seven letters, and the
/// whole words some operators use.
const STATES: [(&str, Stat); 14] = [
    ("DELIVRD", Stat::Delivered),
    ("DELIVERED", Stat::Delivered),
    ("EXPIRED", Stat::Expired),
    ("DELETED", Stat::Deleted),
    ("UNDELIV", Stat::Undeliverable),
    ("UNDELIVERABLE", Stat::Undeliverable),
    ("UNDELIVERED", Stat::Undeliverable),
    ("ACCEPTD", Stat::Accepted),
    ("ACCEPTED", Stat::Accepted),
    ("UNKNOWN", Stat::Unknown),
    ("REJECTD", Stat::Rejected),
    ("REJECTED", Stat::Rejected),
    ("ENROUTE", Stat::Enroute),
    ("EN_ROUTE", Stat::Enroute),
];

/// Only the start of a text is read: the fields come first, and a receipt is a short
/// message (`message_payload` may carry more).
const INPUT_BYTES_MAX: usize = 1024;
/// SMPP 3.4's `message_id` is at most 64 characters; no state or error code is longer.
const VALUE_BYTES_MAX: usize = 64;

/// The receipt's id, state and error, or `None` when the text has no id or no state.
/// Never panics; reads at most [`INPUT_BYTES_MAX`] octets.
pub fn parse(bytes: &[u8]) -> Option<ReceiptText> {
    let bytes = narrow(&bytes[..bytes.len().min(INPUT_BYTES_MAX)]);
    let (mut id, mut stat, mut err) = (None, None, None);
    for (key, value) in fields(&bytes) {
        let slot = match key.to_ascii_lowercase().as_slice() {
            b"id" => &mut id,
            b"stat" => &mut stat,
            b"err" => &mut err,
            b"text" => break,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    Some(ReceiptText {
        id: printable(id?)?,
        stat: stat_of(&printable(stat?)?),
        err: err.and_then(printable),
    })
}

/// The text as one octet per character: a receipt sent in UTF-16 (every other octet
/// zero) loses its zeros.
fn narrow(bytes: &[u8]) -> Vec<u8> {
    let (pairs, rest) = bytes.as_chunks::<2>();
    let utf16 = !pairs.is_empty() && rest.is_empty() && pairs.iter().all(|pair| pair[0] == 0);
    if utf16 {
        pairs.iter().map(|pair| pair[1]).collect()
    } else {
        bytes.to_vec()
    }
}

/// The `key:value` fields, in order. Words are separated by white space (or NUL); a
/// value written after a space (`id: 12`) is the next word unless that word is a field
/// itself. Words without a colon (`submit` of `submit date:`) are skipped.
fn fields(bytes: &[u8]) -> Vec<(&[u8], &[u8])> {
    let words: Vec<&[u8]> = bytes
        .split(|b| b.is_ascii_whitespace() || *b == 0)
        .filter(|word| !word.is_empty())
        .collect();
    let mut fields = Vec::new();
    let mut index = 0;
    while let Some(word) = words.get(index) {
        index += 1;
        let Some(colon) = word.iter().position(|b| *b == b':') else {
            continue;
        };
        let (key, value) = (&word[..colon], &word[colon + 1..]);
        let next = words.get(index).filter(|next| !next.contains(&b':'));
        match next {
            Some(next) if value.is_empty() => {
                index += 1;
                fields.push((key, *next));
            }
            _ => fields.push((key, value)),
        }
    }
    fields
}

/// A value that may be kept and shown: printable ASCII, not empty, not overlong.
fn printable(value: &[u8]) -> Option<String> {
    let fits = !value.is_empty() && value.len() <= VALUE_BYTES_MAX;
    let graphic = value.iter().all(u8::is_ascii_graphic);
    (fits && graphic).then(|| String::from_utf8_lossy(value).into_owned())
}

fn stat_of(value: &str) -> Stat {
    let upper = value.to_ascii_uppercase();
    STATES
        .iter()
        .find(|(word, _)| *word == upper)
        .map_or(Stat::Other(upper), |(_, stat)| stat.clone())
}

/// What the store keeps for an id an SMSC gave: lower case, leading zeros stripped
/// (`"0"` stays `"0"`), surrounding white space dropped. Normalizing twice changes
/// nothing.
pub fn normalize_id(id: &str) -> String {
    let lower = id.trim().to_ascii_lowercase();
    let stripped = lower.trim_start_matches(|c: char| c == '0' || c.is_whitespace());
    if stripped.is_empty() && !lower.is_empty() {
        "0".to_owned()
    } else {
        stripped.to_owned()
    }
}

/// The normalized forms under which the id a receipt names may have been stored, most
/// likely first: the id itself; if it is all decimal digits, its hexadecimal form; if it
/// is all hexadecimal digits, its decimal form (each when the number fits 128 bits).
/// No duplicates; none for an empty id.
pub fn id_candidates(id: &str) -> Vec<String> {
    let normal = normalize_id(id);
    if normal.is_empty() {
        return Vec::new();
    }
    let mut candidates = vec![normal.clone()];
    let hex_of_decimal = normal
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| normal.parse::<u128>().ok())
        .flatten()
        .map(|number| format!("{number:x}"));
    let decimal_of_hex = normal
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| u128::from_str_radix(&normal, 16).ok())
        .flatten()
        .map(|number| number.to_string());
    for candidate in [hex_of_decimal, decimal_of_hex].into_iter().flatten() {
        if !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<(&str, Stat, Option<&str>)>) {
        let expected = expected.map(|(id, stat, err)| ReceiptText {
            id: id.to_owned(),
            stat,
            err: err.map(str::to_owned),
        });
        assert_eq!(parse(text.as_bytes()), expected, "{text:?}");
    }

    #[test]
    fn the_specification_s_receipt() {
        check(
            "id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 \
             stat:DELIVRD err:000 text:Your seal: 4821",
            Some(("0123456789", Stat::Delivered, Some("000"))),
        );
    }

    #[test]
    fn kannel_and_operators_variants() {
        // Kannel's, with a 32-digit hex id and a one-digit error.
        check(
            "id:bd778cd76ae9e79da2ddc8188c68f8c1 sub:001 dlvrd:0 submit date:0610191533 \
             done date:0610191539 stat:UNDELIV err:1 text:This is an Acti",
            Some((
                "bd778cd76ae9e79da2ddc8188c68f8c1",
                Stat::Undeliverable,
                Some("1"),
            )),
        );
        // Upper case keys and values, dates with seconds, an id in hex.
        check(
            "ID:1A2B3C SUB:001 DLVRD:001 SUBMIT DATE:231115120059 DONE DATE:231115120102 \
             STAT:DELIVRD ERR:000 TEXT:",
            Some(("1A2B3C", Stat::Delivered, Some("000"))),
        );
        // Lower case state, no err, fields reordered, the id in decimal with zeros.
        check(
            "stat:delivrd dlvrd:1 id:0001715004",
            Some(("0001715004", Stat::Delivered, None)),
        );
        // A space after the colons; a CR LF between fields; whole words for states.
        check(
            "id: 42 sub: 001\r\nstat: Rejected err: 0B",
            Some(("42", Stat::Rejected, Some("0B"))),
        );
        check("id:7 stat:EXPIRED", Some(("7", Stat::Expired, None)));
        check("id:7 stat:deleted", Some(("7", Stat::Deleted, None)));
        check("id:7 stat:ACCEPTD", Some(("7", Stat::Accepted, None)));
        check("id:7 stat:UNKNOWN", Some(("7", Stat::Unknown, None)));
        check("id:7 stat:ENROUTE", Some(("7", Stat::Enroute, None)));
        check(
            "id:7 stat:queued",
            Some(("7", Stat::Other("QUEUED".into()), None)),
        );
        // An empty err is no err.
        check(
            "id:7 stat:DELIVRD err: text:x",
            Some(("7", Stat::Delivered, None)),
        );
    }

    #[test]
    fn the_message_s_text_is_never_read() {
        check(
            "id:9 stat:UNDELIV err:001 text:stat:DELIVRD id:1",
            Some(("9", Stat::Undeliverable, Some("001"))),
        );
        check("id:9 text:stat:DELIVRD", None);
        check("id:9 sub:001 dlvrd:001 text: stat:DELIVRD", None);
    }

    #[test]
    fn a_receipt_in_utf_16_is_read() {
        let text = "id:5 stat:DELIVRD err:000";
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(parse(&utf16), parse(text.as_bytes()));
        assert!(parse(&utf16).is_some());
    }

    #[test]
    fn garbage_and_truncated_texts_are_no_receipt() {
        for text in [
            "",
            "hello",
            ":",
            "::::",
            "id:",
            "id: stat:",
            "id:12",
            "stat:DELIVRD",
            "id:12 sub:001 dlvrd:0 submit date:23111",
            "id:12 sub:001 dlvrd:0 submit date:2311151200 done date:2311151201 stat:",
        ] {
            check(text, None);
        }
        check(
            "id:12 stat:DELI",
            Some(("12", Stat::Other("DELI".into()), None)),
        );
        for bytes in [
            &b"\xff\xfe\x00"[..],
            b"id:\xff stat:DELIVRD",
            b"\0\0\0\0",
            b"id\0:1",
        ] {
            assert_eq!(parse(bytes), None, "{bytes:?}");
        }
        check(&format!("id:{} stat:DELIVRD", "1".repeat(65)), None);
        let longest = "1".repeat(64);
        check(
            &format!("id:{longest} stat:DELIVRD"),
            Some((longest.as_str(), Stat::Delivered, None)),
        );
    }

    #[test]
    fn only_the_start_of_a_long_input_is_read() {
        let padding = "x".repeat(INPUT_BYTES_MAX);
        check(&format!("{padding} id:1 stat:DELIVRD"), None);
        let long = format!("id:1 stat:DELIVRD text:{}", "y".repeat(1 << 20));
        check(&long, Some(("1", Stat::Delivered, None)));
    }

    #[test]
    fn states_give_outcomes() {
        let cases = [
            (Stat::Delivered, ReportOutcome::Delivered),
            (Stat::Expired, ReportOutcome::Failed),
            (Stat::Deleted, ReportOutcome::Failed),
            (Stat::Undeliverable, ReportOutcome::Failed),
            (Stat::Rejected, ReportOutcome::Failed),
            (Stat::Accepted, ReportOutcome::Pending),
            (Stat::Unknown, ReportOutcome::Pending),
            (Stat::Enroute, ReportOutcome::Pending),
            (Stat::Other("QUEUED".into()), ReportOutcome::Pending),
        ];
        for (stat, outcome) in cases {
            assert_eq!(stat.outcome(), outcome, "{stat:?}");
        }
    }

    #[test]
    fn ids_normalize() {
        for (id, normal) in [
            ("1A2B3C", "1a2b3c"),
            ("0001715004", "1715004"),
            ("0", "0"),
            ("000", "0"),
            (" 00Ab-9 ", "ab-9"),
            ("", ""),
            ("  ", ""),
            ("0 0\u{2003}7", "7"),
        ] {
            assert_eq!(normalize_id(id), normal, "{id:?}");
            assert_eq!(normalize_id(normal), normal, "{id:?}");
        }
    }

    #[test]
    fn an_id_is_looked_up_in_hex_and_decimal() {
        let check = |id: &str, expected: &[&str]| assert_eq!(id_candidates(id), expected, "{id:?}");
        check("1A2B3C", &["1a2b3c", "1715004"]);
        check("1715004", &["1715004", "1a2b3c", "24203268"]);
        check("0001715004", &["1715004", "1a2b3c", "24203268"]);
        check("10", &["10", "a", "16"]);
        check("000", &["0"]);
        check("msg-42", &["msg-42"]);
        check("", &[]);
        check(
            "ffffffffffffffffffffffffffffffff",
            &[
                "ffffffffffffffffffffffffffffffff",
                "340282366920938463463374607431768211455",
            ],
        );
        // Past 128 bits: the id alone.
        check(
            "1ffffffffffffffffffffffffffffffff",
            &["1ffffffffffffffffffffffffffffffff"],
        );
        let nines = "9".repeat(40);
        check(&nines, &[nines.as_str()]);
        // What the store keeps for an SMSC's hex id is among the forms of its decimal receipt.
        assert!(id_candidates("1715004").contains(&normalize_id("001A2B3C")));
        assert!(id_candidates("1a2b3c").contains(&normalize_id("1715004")));
    }
}
