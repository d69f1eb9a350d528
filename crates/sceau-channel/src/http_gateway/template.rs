//! Templates of the request a gateway gets: literal text with `{placeholders}`, parsed
//! once at start (an unknown placeholder refuses the configuration) and rendered per
//! message. Rendering never pastes text into a syntax: a URL gets each value
//! percent-encoded as one component, form and query values are encoded by the form
//! encoder, JSON values become JSON strings through the serialiser, headers refuse
//! control characters.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The destination in E.164 form, with its `+`.
    To,
    /// The destination's digits, without the `+`.
    ToDigits,
    /// The sender configured for the route.
    From,
    /// The text of the message (for a voice route, what is read out).
    Text,
    /// sceau's id of the message.
    MessageId,
    /// Seconds left before the secret in the message expires.
    ValidForS,
    /// The same in milliseconds.
    ValidForMs,
    /// The public URL of the route's status callback.
    CallbackUrl,
    /// The text as TwiML that reads it out twice, codes digit by digit.
    Twiml,
    /// "text" when the text fits the GSM 03.38 alphabet, else "unicode".
    SmsType,
}

impl Placeholder {
    pub const ALL: [(&'static str, Placeholder); 10] = [
        ("to", Placeholder::To),
        ("to_digits", Placeholder::ToDigits),
        ("from", Placeholder::From),
        ("text", Placeholder::Text),
        ("message_id", Placeholder::MessageId),
        ("valid_for_s", Placeholder::ValidForS),
        ("valid_for_ms", Placeholder::ValidForMs),
        ("callback_url", Placeholder::CallbackUrl),
        ("twiml", Placeholder::Twiml),
        ("sms_type", Placeholder::SmsType),
    ];

    fn named(name: &str) -> Option<Placeholder> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, placeholder)| *placeholder)
    }

    /// Whether the value is a number (a JSON template that is only this placeholder
    /// becomes a JSON number; `{message_id}` stays a string, as ids are).
    pub fn is_number(self) -> bool {
        matches!(self, Placeholder::ValidForS | Placeholder::ValidForMs)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Value(Placeholder),
}

/// A parsed template. `{{` and `}}` stand for literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown placeholder {{{0}}} (known: to, to_digits, from, text, message_id, valid_for_s, valid_for_ms, callback_url, twiml, sms_type)"
    )]
    Unknown(String),
    #[error("a brace is not closed; write {{{{ and }}}} for literal braces")]
    Unbalanced,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    literal.push(c);
                }
                ('{', _) => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(TemplateError::Unbalanced),
                        }
                    }
                    let placeholder = Placeholder::named(&name)
                        .ok_or_else(|| TemplateError::Unknown(name.clone()))?;
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value(placeholder));
                }
                ('}', _) => return Err(TemplateError::Unbalanced),
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// The placeholders the template uses.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Value(placeholder) => Some(*placeholder),
            Piece::Literal(_) => None,
        })
    }

    /// The placeholder if the template is exactly one.
    pub fn only_placeholder(&self) -> Option<Placeholder> {
        match self.pieces.as_slice() {
            [Piece::Value(placeholder)] => Some(*placeholder),
            _ => None,
        }
    }

    /// The text with each value as it is (for a value that an encoder encodes next).
    pub fn render(&self, values: &dyn Fn(Placeholder) -> String) -> String {
        self.render_with(values, &|value| value.to_owned())
    }

    /// The text with each value percent-encoded as one URL component (literal parts
    /// are kept as written).
    pub fn render_url(&self, values: &dyn Fn(Placeholder) -> String) -> String {
        self.render_with(values, &|value| {
            utf8_percent_encode(value, URL_COMPONENT).to_string()
        })
    }

    fn render_with(
        &self,
        values: &dyn Fn(Placeholder) -> String,
        escape: &dyn Fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Value(placeholder) => out.push_str(&escape(&values(*placeholder))),
            }
        }
        out
    }
}

/// Everything but RFC 3986's unreserved characters is encoded.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn values(placeholder: Placeholder) -> String {
        match placeholder {
            Placeholder::To => "+33612345678".into(),
            Placeholder::Text => "a&b=c/d €".into(),
            _ => "7".into(),
        }
    }

    fn check(source: &str, raw: &str, url: &str) {
        let template = Template::parse(source).unwrap();
        assert_eq!(template.render(&values), raw);
        assert_eq!(template.render_url(&values), url);
    }

    #[test]
    fn placeholders_are_filled_and_escaped_as_url_components() {
        check("to={to}", "to=+33612345678", "to=%2B33612345678");
        check("/m/{text}", "/m/a&b=c/d €", "/m/a%26b%3Dc%2Fd%20%E2%82%AC");
        check("{{literal}} {message_id}", "{literal} 7", "{literal} 7");
        check("{{", "{", "{");
        check("", "", "");
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_refused() {
        assert_eq!(
            Template::parse("{secret}"),
            Err(TemplateError::Unknown("secret".into()))
        );
        assert_eq!(Template::parse("a}b"), Err(TemplateError::Unbalanced));
        assert_eq!(Template::parse("a{to"), Err(TemplateError::Unbalanced));
        assert_eq!(
            Template::parse("{valid_for_s}").unwrap().only_placeholder(),
            Some(Placeholder::ValidForS)
        );
    }
}
