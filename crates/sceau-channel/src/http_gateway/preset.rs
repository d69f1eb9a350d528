//! Presets: the generic description of Twilio's Messages and Calls APIs and of Vonage's
//! SMS API, filled from a few keys; and the spoken form of a text for a voice route.

use super::config::{
    AuthConfig, BodyKind, CallbackConfig, ConfigError, HttpGatewayConfig, HttpMethod, Preset,
    ProviderIdConfig, SignatureKind, SuccessConfig,
};
use serde_json::{Map, Value, json};

const TWILIO_BASE: &str = "https://api.twilio.com";
const VONAGE_BASE: &str = "https://rest.nexmo.com";
/// Twilio keeps an SMS in its queue at most this long (`ValidityPeriod`).
const TWILIO_VALIDITY_S_MAX: i64 = 14_400;
/// Vonage's `ttl` lies between 20 seconds and 7 days.
const VONAGE_TTL_S_MIN: i64 = 20;
const VONAGE_TTL_S_MAX: i64 = 604_800;

/// The configuration with its preset expanded into the generic keys (unchanged when
/// there is none).
pub fn expand(route: &str, config: &HttpGatewayConfig) -> Result<HttpGatewayConfig, ConfigError> {
    let refuse = |reason: &str| ConfigError {
        route: route.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(preset) = config.preset else {
        let preset_only = config.base_url.is_some()
            || config.account.is_some()
            || config.secret.is_some()
            || config.messaging_service.is_some()
            || config.voice_language.is_some();
        if preset_only {
            return Err(refuse(
                "base_url, account, secret, messaging_service and voice_language are preset keys; without a preset, use url and auth",
            ));
        }
        return Ok(config.clone());
    };
    let generic = config.method.is_some()
        || config.url.is_some()
        || config.body.is_some()
        || config.fields.is_some()
        || config.auth.is_some()
        || config.success.is_some()
        || config.provider_id.is_some()
        || config.transient_statuses.is_some()
        || config.call.is_some();
    if generic {
        return Err(refuse(
            "a preset describes the request itself (and whether it places calls): remove method, url, body, fields, auth, success, provider_id, transient_statuses and call",
        ));
    }
    let account = config
        .account
        .as_deref()
        .filter(|account| !account.is_empty() && account.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| refuse("the preset needs `account` (letters and digits)"))?;
    let secret = config
        .secret
        .clone()
        .ok_or_else(|| refuse("the preset needs `secret` (a file or an environment variable)"))?;
    let base = config.base_url.as_deref().unwrap_or(match preset {
        Preset::Vonage => VONAGE_BASE,
        _ => TWILIO_BASE,
    });
    let base = base.trim_end_matches('/');
    let mut expanded = config.clone();
    (
        expanded.preset,
        expanded.base_url,
        expanded.account,
        expanded.secret,
    ) = (None, None, None, None);
    (expanded.messaging_service, expanded.voice_language) = (None, None);
    expanded.method = Some(HttpMethod::Post);
    match preset {
        Preset::Twilio => twilio(&mut expanded, config, base, account, secret).map_err(refuse)?,
        Preset::TwilioVoice => {
            twilio_voice(&mut expanded, config, base, account, secret).map_err(refuse)?
        }
        Preset::Vonage => vonage(&mut expanded, config, base, account, secret).map_err(refuse)?,
    }
    Ok(expanded)
}

fn twilio(
    expanded: &mut HttpGatewayConfig,
    config: &HttpGatewayConfig,
    base: &str,
    account: &str,
    secret: crate::secret::SecretSource,
) -> Result<(), &'static str> {
    let mut fields = Map::new();
    fields.insert("To".into(), json!("{to}"));
    fields.insert("Body".into(), json!("{text}"));
    fields.insert("ValidityPeriod".into(), json!("{valid_for_s}"));
    match (&config.from, &config.messaging_service) {
        (Some(_), None) => fields.insert("From".into(), json!("{from}")),
        (None, Some(service)) => {
            fields.insert("MessagingServiceSid".into(), json!(literal(service)))
        }
        _ => return Err("Twilio needs exactly one of `from` and `messaging_service`"),
    };
    twilio_common(expanded, base, account, secret, "Messages.json", fields);
    expanded.valid_for_s_max = Some(
        config
            .valid_for_s_max
            .unwrap_or(TWILIO_VALIDITY_S_MAX)
            .min(TWILIO_VALIDITY_S_MAX),
    );
    if let Some(callback) = &mut expanded.callback {
        fill_callback(
            callback,
            "MessageSid",
            "MessageStatus",
            &["delivered", "read"],
            &["undelivered", "failed", "canceled"],
        );
    }
    Ok(())
}

fn twilio_voice(
    expanded: &mut HttpGatewayConfig,
    config: &HttpGatewayConfig,
    base: &str,
    account: &str,
    secret: crate::secret::SecretSource,
) -> Result<(), &'static str> {
    if config.from.is_none() || config.messaging_service.is_some() {
        return Err("a Twilio voice route needs `from` (a voice number) and no messaging_service");
    }
    let mut fields = Map::new();
    fields.insert("To".into(), json!("{to}"));
    fields.insert("From".into(), json!("{from}"));
    fields.insert("Twiml".into(), json!("{twiml}"));
    twilio_common(expanded, base, account, secret, "Calls.json", fields);
    if let Some(callback) = &mut expanded.callback {
        fill_callback(
            callback,
            "CallSid",
            "CallStatus",
            &["completed"],
            &["busy", "no-answer", "failed", "canceled"],
        );
    }
    Ok(())
}

fn twilio_common(
    expanded: &mut HttpGatewayConfig,
    base: &str,
    account: &str,
    secret: crate::secret::SecretSource,
    resource: &str,
    mut fields: Map<String, Value>,
) {
    if expanded.callback.is_some() {
        fields.insert("StatusCallback".into(), json!("{callback_url}"));
    }
    expanded.url = Some(format!(
        "{}/2010-04-01/Accounts/{account}/{resource}",
        literal(base)
    ));
    expanded.body = Some(BodyKind::Form);
    expanded.fields = Some(Value::Object(fields));
    if let Some(callback) = &mut expanded.callback {
        callback.signature.get_or_insert(SignatureKind::Twilio);
        callback.secret.get_or_insert_with(|| secret.clone());
    }
    expanded.auth = Some(AuthConfig::Basic {
        user: account.to_owned(),
        secret,
    });
    expanded.provider_id = Some(ProviderIdConfig {
        json_pointer: Some("/sid".into()),
        header: None,
    });
}

fn vonage(
    expanded: &mut HttpGatewayConfig,
    config: &HttpGatewayConfig,
    base: &str,
    account: &str,
    secret: crate::secret::SecretSource,
) -> Result<(), &'static str> {
    if config.from.is_none()
        || config.messaging_service.is_some()
        || config.voice_language.is_some()
    {
        return Err("Vonage needs `from` (and takes no messaging_service or voice_language)");
    }
    let mut fields = Map::new();
    fields.insert("api_key".into(), json!(literal(account)));
    fields.insert("from".into(), json!("{from}"));
    fields.insert("to".into(), json!("{to_digits}"));
    fields.insert("text".into(), json!("{text}"));
    fields.insert("type".into(), json!("{sms_type}"));
    fields.insert("ttl".into(), json!("{valid_for_ms}"));
    fields.insert("client-ref".into(), json!("{message_id}"));
    if let Some(callback) = &mut expanded.callback {
        fields.insert("callback".into(), json!("{callback_url}"));
        callback.signature.get_or_insert(SignatureKind::Vonage);
        fill_callback(
            callback,
            "messageId",
            "status",
            &["delivered"],
            &["failed", "expired", "rejected"],
        );
    }
    expanded.url = Some(format!("{}/sms/json", literal(base)));
    expanded.body = Some(BodyKind::Json);
    expanded.fields = Some(Value::Object(fields));
    expanded.auth = Some(AuthConfig::Field {
        name: "api_secret".into(),
        secret,
    });
    expanded.success = Some(SuccessConfig {
        json_pointer: Some("/messages/*/status".into()),
        json_equals: Some("0".into()),
        // 1: throttled; 5: Vonage's own internal error.
        json_transient: vec!["1".into(), "5".into()],
        ..SuccessConfig::default()
    });
    expanded.provider_id = Some(ProviderIdConfig {
        json_pointer: Some("/messages/*/message-id".into()),
        header: None,
    });
    expanded.valid_for_s_min = Some(
        config
            .valid_for_s_min
            .unwrap_or(VONAGE_TTL_S_MIN)
            .max(VONAGE_TTL_S_MIN),
    );
    expanded.valid_for_s_max = Some(
        config
            .valid_for_s_max
            .unwrap_or(VONAGE_TTL_S_MAX)
            .min(VONAGE_TTL_S_MAX),
    );
    Ok(())
}

fn fill_callback(
    callback: &mut CallbackConfig,
    id: &str,
    status: &str,
    delivered: &[&str],
    failed: &[&str],
) {
    let owned = |values: &[&str]| values.iter().map(|value| (*value).to_owned()).collect();
    callback.id_field.get_or_insert_with(|| id.to_owned());
    callback
        .status_field
        .get_or_insert_with(|| status.to_owned());
    callback.delivered.get_or_insert_with(|| owned(delivered));
    callback.failed.get_or_insert_with(|| owned(failed));
}

/// Text put in a template as itself (its braces doubled).
fn literal(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// A text as a voice reads it best: every run of four digits or more (a seal, a code)
/// read digit by digit, the digits separated so that none is lost.
pub fn spoken(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let run = chars[index..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if run >= 4 {
            let digits: Vec<String> = chars[index..index + run]
                .iter()
                .map(char::to_string)
                .collect();
            out.push_str(&digits.join(", "));
            index += run;
        } else if run > 0 {
            out.extend(&chars[index..index + run]);
            index += run;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

/// TwiML that reads the text twice, with a pause between, its codes digit by digit.
pub fn voice_twiml(text: &str, language: Option<&str>) -> String {
    let say = match language {
        Some(language) => format!("<Say language=\"{}\">", xml_escape(language)),
        None => "<Say>".to_owned(),
    };
    let words = xml_escape(&spoken(text));
    format!("<Response>{say}{words}</Say><Pause length=\"1\"/>{say}{words}</Say></Response>")
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Vonage's `type`: "text" when every character is in the GSM 03.38 alphabet (or its
/// extension table), "unicode" otherwise.
pub fn sms_type(text: &str) -> &'static str {
    match crate::sms_text::coding_of(text) {
        crate::sms_text::Coding::Gsm7 => "text",
        crate::sms_text::Coding::Ucs2 => "unicode",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        assert_eq!(spoken(text), expected);
    }

    #[test]
    fn codes_are_read_digit_by_digit_and_short_numbers_as_numbers() {
        check(
            "Seal 48291735 for 12.50 EUR",
            "Seal 4, 8, 2, 9, 1, 7, 3, 5 for 12.50 EUR",
        );
        check("code 1234", "code 1, 2, 3, 4");
        check("no digits", "no digits");
        check("", "");
    }

    #[test]
    fn the_twiml_reads_the_text_twice_and_escapes_it() {
        let twiml = voice_twiml("Pay <Shop & Co> 1234", Some("fr-FR"));
        assert_eq!(
            twiml,
            "<Response><Say language=\"fr-FR\">Pay &lt;Shop &amp; Co&gt; 1, 2, 3, 4</Say><Pause length=\"1\"/><Say language=\"fr-FR\">Pay &lt;Shop &amp; Co&gt; 1, 2, 3, 4</Say></Response>"
        );
    }

    #[test]
    fn gsm_texts_are_text_and_others_unicode() {
        assert_eq!(sms_type("Seal 1234 {€}[ é"), "text");
        assert_eq!(sms_type("Печать 1234"), "unicode");
        assert_eq!(sms_type("emoji 🙂"), "unicode");
    }
}
