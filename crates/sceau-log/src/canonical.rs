//! Canonical JSON (RFC 8785, JCS) for the evidence records: one byte sequence per
//! value, so that anyone can re-canonicalize a record with any JSON library and find
//! the hash that the log holds.
//!
//! Records carry no floating-point numbers (amounts are decimal strings): a number must
//! be an integer that IEEE 754 doubles represent exactly (|n| <= 2^53), which JCS then
//! writes in plain decimal. Anything else is refused rather than rounded.

use serde_json::Value;

/// Largest integer a record may hold (2^53: exactly representable as a double).
pub const INTEGER_MAX: u64 = 1 << 53;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("log.canonical.number: {0} is not an integer within ±2^53")]
    Number(String),
    #[error("log.canonical.duplicate: the member {0:?} is named twice")]
    Duplicate(&'static str),
}

/// A value built to be written canonically at once, without `serde_json`'s maps and
/// their owned names: what the store's evidence records are made of, several per
/// payment on the store's writer. [`Object::canonical`] writes exactly the bytes that
/// [`canonical`] writes for the same document (the tests hold both to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canon {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer written as a JSON string in decimal (identifiers: exact in any
    /// language, whatever its numbers are), without a `String` made for it.
    IntString(i64),
    Str(String),
    Array(Vec<Canon>),
    Object(Object),
}

/// An object's members, by name, in any order (they are sorted when written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    members: Vec<(&'static str, Canon)>,
}

impl Object {
    pub fn from_members(members: Vec<(&'static str, Canon)>) -> Object {
        Object { members }
    }

    /// Adds a member (a name given twice makes writing fail).
    pub fn insert(&mut self, name: &'static str, value: impl Into<Canon>) {
        self.members.push((name, value.into()));
    }

    /// Adds the members of `other`.
    pub fn extend(&mut self, other: Object) {
        self.members.extend(other.members);
    }

    /// The JCS bytes of the object.
    pub fn canonical(self) -> Result<Vec<u8>, CanonicalError> {
        let mut out = Vec::with_capacity(512);
        write_object(self, &mut out)?;
        Ok(out)
    }
}

impl From<Object> for Canon {
    fn from(object: Object) -> Canon {
        Canon::Object(object)
    }
}

impl From<Vec<Canon>> for Canon {
    fn from(items: Vec<Canon>) -> Canon {
        Canon::Array(items)
    }
}

impl From<String> for Canon {
    fn from(text: String) -> Canon {
        Canon::Str(text)
    }
}

impl From<&str> for Canon {
    fn from(text: &str) -> Canon {
        Canon::Str(text.to_owned())
    }
}

impl From<&String> for Canon {
    fn from(text: &String) -> Canon {
        Canon::Str(text.clone())
    }
}

impl From<bool> for Canon {
    fn from(value: bool) -> Canon {
        Canon::Bool(value)
    }
}

impl From<i64> for Canon {
    fn from(value: i64) -> Canon {
        Canon::Int(value)
    }
}

impl From<u32> for Canon {
    fn from(value: u32) -> Canon {
        Canon::Int(i64::from(value))
    }
}

impl<T: Into<Canon>> From<Option<T>> for Canon {
    fn from(value: Option<T>) -> Canon {
        value.map_or(Canon::Null, Into::into)
    }
}

fn write_canon(value: Canon, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Canon::Null => out.extend_from_slice(b"null"),
        Canon::Bool(true) => out.extend_from_slice(b"true"),
        Canon::Bool(false) => out.extend_from_slice(b"false"),
        Canon::Int(n) if n.unsigned_abs() <= INTEGER_MAX => write_integer(n, out),
        Canon::Int(n) => return Err(CanonicalError::Number(n.to_string())),
        Canon::IntString(n) => {
            out.push(b'"');
            write_integer(n, out);
            out.push(b'"');
        }
        Canon::Str(text) => write_string(&text, out),
        Canon::Array(items) => write_sequence(b'[', items, b']', out, write_canon)?,
        Canon::Object(object) => write_object(object, out)?,
    }
    Ok(())
}

/// `n` in decimal, as JCS writes an integer (and as Rust's `Display` does).
fn write_integer(n: i64, out: &mut Vec<u8>) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// The byte order of two names, compared inline (they are short and mostly differ at
/// their first byte: a call to `memcmp` per comparison cost more than the sort).
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

fn write_object(object: Object, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let mut members = object.members;
    // As in `write`: by UTF-16 code units, which for ASCII names is their byte order.
    if members.iter().all(|(name, _)| name.is_ascii()) {
        members.sort_unstable_by(|(a, _), (b, _)| name_order(a, b));
    } else {
        members.sort_unstable_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    }
    if let Some(pair) = members.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(CanonicalError::Duplicate(pair[0].0));
    }
    write_sequence(b'{', members, b'}', out, |(name, item), out| {
        write_member(name, item, out, write_canon)
    })
}

/// `open`, the items separated by commas, `close`: an array's or an object's body.
fn write_sequence<T>(
    open: u8,
    items: impl IntoIterator<Item = T>,
    close: u8,
    out: &mut Vec<u8>,
    mut write_item: impl FnMut(T, &mut Vec<u8>) -> Result<(), CanonicalError>,
) -> Result<(), CanonicalError> {
    out.push(open);
    for (at, item) in items.into_iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        write_item(item, out)?;
    }
    out.push(close);
    Ok(())
}

/// An object's member: its name, a colon, its value.
fn write_member<T>(
    name: &str,
    value: T,
    out: &mut Vec<u8>,
    write_value: impl FnOnce(T, &mut Vec<u8>) -> Result<(), CanonicalError>,
) -> Result<(), CanonicalError> {
    write_string(name, out);
    out.push(b':');
    write_value(value, out)
}

/// The JCS bytes of `value`.
pub fn canonical(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            let exact = number
                .as_i64()
                .filter(|n| n.unsigned_abs() <= INTEGER_MAX)
                .map(|n| n.to_string())
                .or_else(|| {
                    number
                        .as_u64()
                        .filter(|n| *n <= INTEGER_MAX)
                        .map(|n| n.to_string())
                });
            match exact {
                Some(text) => out.extend_from_slice(text.as_bytes()),
                None => return Err(CanonicalError::Number(number.to_string())),
            }
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => write_sequence(b'[', items, b']', out, write)?,
        Value::Object(members) => {
            // Members sorted by their names' UTF-16 code units (RFC 8785 §3.2.3). For
            // ASCII names that is their byte order, the order the map already has.
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            if !sorted.iter().all(|(name, _)| name.is_ascii())
                || !sorted.is_sorted_by(|(a, _), (b, _)| a <= b)
            {
                sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            }
            write_sequence(b'{', sorted, b'}', out, |(name, item), out| {
                write_member(name, item, out, write)
            })?;
        }
    }
    Ok(())
}

/// A string as ECMAScript's JSON.stringify writes it (RFC 8785 §3.2.2.2): `"` and `\`
/// escaped, the control characters as `\b \t \n \f \r` or `\u00xx`, the rest as is.
fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    if !text
        .bytes()
        .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
    {
        // Nothing to escape: the UTF-8 as it is.
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if u32::from(c) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut buffer = [0_u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: &Value) -> String {
        String::from_utf8(canonical(value).unwrap()).unwrap()
    }

    /// RFC 8785 §3.2.3's sorting example: names ordered by UTF-16 code units (the emoji,
    /// a surrogate pair, sorts before U+FB33).
    #[test]
    fn members_are_sorted_by_utf16_code_units() {
        let value: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        assert_eq!(
            text(&value),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\
             \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn strings_integers_and_nesting_are_written_as_jcs_writes_them() {
        let value = json!({
            "b": [true, false, null, 0, -1, 9007199254740992_u64],
            "a": {"z": "line\nbreak \"quoted\" \\ tab\t \u{1} é €"},
        });
        assert_eq!(
            text(&value),
            "{\"a\":{\"z\":\"line\\nbreak \\\"quoted\\\" \\\\ tab\\t \\u0001 é €\"},\
             \"b\":[true,false,null,0,-1,9007199254740992]}"
        );
        // Input order and whitespace do not matter.
        let spaced: Value =
            serde_json::from_str("{ \"b\" : [true,false,null,0,-1,9007199254740992],\n \"a\": {\"z\": \"line\\nbreak \\\"quoted\\\" \\\\ tab\\t \\u0001 é €\"} }")
                .unwrap();
        assert_eq!(canonical(&spaced).unwrap(), canonical(&value).unwrap());
    }

    /// `Object` writes what `canonical` writes for the same document, whatever the
    /// members' order, names or strings; names given twice and inexact integers are
    /// refused.
    #[test]
    fn objects_built_directly_are_written_as_canonical_writes_them() {
        let strings = [
            "",
            "plain",
            "line\nbreak \"quoted\" \\ tab\t \u{1}\u{1f} é € \u{1f600}",
            "\u{7f}\u{80}</script>",
        ];
        for (round, text) in strings.iter().enumerate() {
            let mut inner = Object::default();
            inner.insert("z", *text);
            inner.insert("a", -(round as i64));
            inner.insert("m", Option::<String>::None);
            let mut object = Object::from_members(vec![
                ("type", Canon::from("seal.sent")),
                (
                    "b",
                    Canon::from(vec![Canon::Bool(true), Canon::Null, Canon::Int(1 << 53)]),
                ),
            ]);
            object.insert("nested", inner);
            object.insert("\u{20ac}", Some(String::from(*text)));
            object.insert("\r", 7_u32);
            object.insert("1", false);
            object.insert("id", Canon::IntString(-(round as i64) * 1_000_003));
            object.insert("ab", i64::from(round as u8) - 2);
            object.insert("a", Canon::IntString(i64::MAX));
            let direct = object.clone().canonical().unwrap();
            let parsed: Value = serde_json::from_slice(&direct).unwrap();
            assert_eq!(canonical(&parsed).unwrap(), direct, "{text:?}");
        }
        let mut twice = Object::default();
        twice.insert("a", 1_u32);
        twice.insert("a", 2_u32);
        assert_eq!(twice.canonical(), Err(CanonicalError::Duplicate("a")));
        for bad in [(1_i64 << 53) + 1, -(1_i64 << 53) - 1, i64::MIN] {
            let mut object = Object::default();
            object.insert("n", bad);
            assert!(object.canonical().is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_that_are_not_exact_integers_are_refused() {
        for bad in [
            json!(1.5),
            json!(9007199254740993_u64),
            json!(-9007199254740993_i64),
        ] {
            assert!(canonical(&json!({ "n": bad })).is_err(), "{bad}");
        }
    }
}
