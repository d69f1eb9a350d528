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
        Value::Array(items) => {
            out.push(b'[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            // Members sorted by their names' UTF-16 code units (RFC 8785 §3.2.3). For
            // ASCII names that is their byte order, the order the map already has.
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            if !sorted.iter().all(|(name, _)| name.is_ascii())
                || !sorted.is_sorted_by(|(a, _), (b, _)| a <= b)
            {
                sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            }
            out.push(b'{');
            for (at, (name, item)) in sorted.into_iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write(item, out)?;
            }
            out.push(b'}');
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
