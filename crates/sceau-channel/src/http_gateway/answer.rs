//! What a provider's answer means: sent (with its ids), worth retrying, or refused for
//! good. Judged on the status AND the body, since some providers answer 200 on failure.
//! Errors say the status and, at most, a short code read from the body: never the body
//! itself (it may echo the text, which holds a secret).

use crate::ChannelError;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judge {
    /// `None`: any 2xx.
    pub success_statuses: Option<Vec<u16>>,
    /// `None`: 408, 425, 429 and every 5xx.
    pub transient_statuses: Option<Vec<u16>>,
    pub json_pointer: Option<String>,
    pub json_equals: Option<String>,
    pub json_transient: Vec<String>,
    pub body_contains: Option<String>,
    pub body_lacks: Option<String>,
    pub id_pointer: Option<String>,
    pub id_header: Option<String>,
}

impl Judge {
    /// The provider's ids of the message (empty when the answer names none), or why
    /// the message was not taken.
    pub fn judge(
        &self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<String>, ChannelError> {
        let transient = match &self.transient_statuses {
            Some(statuses) => statuses.contains(&status),
            None => matches!(status, 408 | 425 | 429 | 500..=599),
        };
        if transient {
            return Err(ChannelError::Transient(format!(
                "provider answered HTTP {status}"
            )));
        }
        let success = match &self.success_statuses {
            Some(statuses) => statuses.contains(&status),
            None => (200..=299).contains(&status),
        };
        if !success {
            return Err(ChannelError::Permanent(format!(
                "provider answered HTTP {status}"
            )));
        }
        let text = String::from_utf8_lossy(body);
        if let Some(needed) = &self.body_contains
            && !text.contains(needed.as_str())
        {
            return Err(failure_body(status, "lacks the success text"));
        }
        if let Some(refused) = &self.body_lacks
            && text.contains(refused.as_str())
        {
            return Err(failure_body(status, "holds the failure text"));
        }
        let json: Option<Value> = serde_json::from_slice(body).ok();
        self.check_json(status, json.as_ref())?;
        Ok(self.ids(headers, json.as_ref()))
    }

    fn check_json(&self, status: u16, json: Option<&Value>) -> Result<(), ChannelError> {
        let (Some(pointer), Some(expected)) = (&self.json_pointer, &self.json_equals) else {
            return Ok(());
        };
        let Some(json) = json else {
            return Err(failure_body(status, "is not JSON"));
        };
        let found: Vec<Option<String>> = select(json, pointer).into_iter().map(scalar).collect();
        if found.is_empty() {
            return Err(failure_body(status, &format!("has nothing at {pointer}")));
        }
        for value in found {
            match value {
                Some(value) if value == *expected => {}
                Some(value) if self.json_transient.contains(&value) => {
                    return Err(ChannelError::Transient(format!(
                        "provider answered HTTP {status} with {} at {pointer}",
                        shown(&value)
                    )));
                }
                value => {
                    let value = value.as_deref().map(shown).unwrap_or("a non-scalar".into());
                    return Err(failure_body(status, &format!("has {value} at {pointer}")));
                }
            }
        }
        Ok(())
    }

    fn ids(&self, headers: &[(String, String)], json: Option<&Value>) -> Vec<String> {
        if let Some(name) = &self.id_header {
            return headers
                .iter()
                .filter(|(header, value)| header.eq_ignore_ascii_case(name) && !value.is_empty())
                .map(|(_, value)| value.clone())
                .take(1)
                .collect();
        }
        match (&self.id_pointer, json) {
            (Some(pointer), Some(json)) => select(json, pointer)
                .into_iter()
                .filter_map(scalar)
                .filter(|id| !id.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn failure_body(status: u16, what: &str) -> ChannelError {
    ChannelError::Permanent(format!(
        "provider answered HTTP {status} but its body {what}"
    ))
}

/// A value from the body as an error may show it: a short code ("4", "29") only, as a
/// longer value may be an echo of what was sent (a secret, a seal).
fn shown(value: &str) -> String {
    let code = value.len() <= CODE_LEN_MAX && value.chars().all(|c| c.is_ascii_alphanumeric());
    if code {
        format!("\"{value}\"")
    } else {
        "an unexpected value".into()
    }
}

const CODE_LEN_MAX: usize = 4;

/// The values a JSON pointer names; a `*` step stands for every element of an array.
pub fn select<'a>(value: &'a Value, pointer: &str) -> Vec<&'a Value> {
    let mut current = vec![value];
    if pointer.is_empty() {
        return current;
    }
    let Some(steps) = pointer.strip_prefix('/') else {
        return Vec::new();
    };
    for step in steps.split('/') {
        let step = step.replace("~1", "/").replace("~0", "~");
        current = current
            .into_iter()
            .flat_map(|value| match (value, step.as_str()) {
                (Value::Array(items), "*") => items.iter().collect(),
                (Value::Array(items), index) => index
                    .parse::<usize>()
                    .ok()
                    .and_then(|index| items.get(index))
                    .into_iter()
                    .collect(),
                (Value::Object(fields), name) => fields.get(name).into_iter().collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    current
}

/// A string, number or boolean as text.
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn vonage() -> Judge {
        Judge {
            json_pointer: Some("/messages/*/status".into()),
            json_equals: Some("0".into()),
            json_transient: vec!["1".into()],
            id_pointer: Some("/messages/*/message-id".into()),
            ..Judge::default()
        }
    }

    fn check(judge: &Judge, status: u16, body: &str, expected: Result<Vec<&str>, &str>) {
        let got = judge.judge(status, &[], body.as_bytes());
        match (got, expected) {
            (Ok(ids), Ok(expected)) => assert_eq!(ids, expected),
            (Err(ChannelError::Transient(_)), Err("transient")) => {}
            (Err(ChannelError::Permanent(_)), Err("permanent")) => {}
            (got, expected) => panic!("{got:?} where {expected:?} was expected"),
        }
    }

    #[test]
    fn status_and_body_decide_together() {
        let judge = vonage();
        let two_parts =
            r#"{"messages":[{"status":"0","message-id":"A1"},{"status":"0","message-id":"A2"}]}"#;
        check(&judge, 200, two_parts, Ok(vec!["A1", "A2"]));
        check(
            &judge,
            200,
            r#"{"messages":[{"status":"4","error-text":"Bad Credentials"}]}"#,
            Err("permanent"),
        );
        check(
            &judge,
            200,
            r#"{"messages":[{"status":"0"},{"status":"1"}]}"#,
            Err("transient"),
        );
        check(&judge, 200, "not json", Err("permanent"));
        check(&judge, 200, r#"{"messages":[]}"#, Err("permanent"));
        check(&judge, 429, "", Err("transient"));
        check(&judge, 503, "", Err("transient"));
        check(&judge, 400, "", Err("permanent"));
        let plain = Judge {
            body_lacks: Some("ERROR".into()),
            ..Judge::default()
        };
        check(&plain, 200, "OK 17", Ok(vec![]));
        check(&plain, 200, "ERROR: no credit", Err("permanent"));
    }

    #[test]
    fn errors_never_show_the_body() {
        let judge = vonage();
        let echoed = r#"{"messages":[{"status":"Your seal is 48291735"}]}"#;
        let error = judge
            .judge(200, &[], echoed.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(!error.contains("48291735"), "{error}");
    }

    #[test]
    fn pointers_select_through_arrays() {
        let json: Value = serde_json::from_str(r#"{"a":[{"b":1},{"b":"x"}],"c/d":true}"#).unwrap();
        let scalars = |pointer| {
            select(&json, pointer)
                .into_iter()
                .filter_map(scalar)
                .collect::<Vec<_>>()
        };
        assert_eq!(scalars("/a/*/b"), ["1", "x"]);
        assert_eq!(scalars("/a/1/b"), ["x"]);
        assert_eq!(scalars("/c~1d"), ["true"]);
        assert!(scalars("/missing").is_empty());
        assert!(scalars("no-slash").is_empty());
    }
}
