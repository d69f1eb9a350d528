//! The request a route sends, read from the (expanded) configuration, and the HTTP
//! client that sends it.

use super::answer::Judge;
use super::callback::ReportFields;
use super::config::{self, AuthConfig, BodyKind, CallbackConfig, HttpGatewayConfig, HttpMethod};
use super::template::{Placeholder, Template};
use super::{Callback, HttpGateway};
use crate::ChannelError;
use crate::secret::{Secret, SecretSource};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::Value;

/// The largest answer read from a provider (the rest is ignored).
pub const ANSWER_LEN_MAX: usize = 64 * 1024;

pub enum Body {
    None,
    Form(Vec<(String, Template)>),
    Query(Vec<(String, Template)>),
    Json(JsonTemplate),
}

/// A JSON shape whose strings are templates.
pub enum JsonTemplate {
    Text(Template),
    Fixed(Value),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

pub enum Auth {
    Basic {
        user: String,
        secret: Secret,
    },
    Bearer(Secret),
    Header {
        name: HeaderName,
        prefix: String,
        secret: Secret,
    },
    Field {
        name: String,
        secret: Secret,
    },
}

impl Auth {
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::Basic { .. } => "basic",
            Auth::Bearer(_) => "bearer",
            Auth::Header { .. } => "header",
            Auth::Field { .. } => "field",
        }
    }
}

pub struct Plan {
    pub method: reqwest::Method,
    pub url: Template,
    pub body: Body,
    pub headers: Vec<(HeaderName, Template)>,
    pub auth: Option<Auth>,
    pub judge: Judge,
}

impl Plan {
    pub fn read(config: &HttpGatewayConfig) -> Result<Plan, String> {
        let url = config
            .url
            .as_deref()
            .ok_or("`url` (or a preset) is needed")?;
        check_scheme(url)?;
        let url = Template::parse(url).map_err(|error| format!("url: {error}"))?;
        let body = body(
            config.body.unwrap_or(BodyKind::None),
            config.fields.as_ref(),
        )?;
        let mut headers = Vec::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            let value =
                Template::parse(value).map_err(|error| format!("header {name}: {error}"))?;
            headers.push((name, value));
        }
        let auth = config.auth.as_ref().map(auth).transpose()?;
        if matches!(auth, Some(Auth::Field { .. })) && matches!(body, Body::None) {
            return Err("an auth field needs a body (form, json or query)".into());
        }
        Ok(Plan {
            method: match config.method.unwrap_or(HttpMethod::Post) {
                HttpMethod::Get => reqwest::Method::GET,
                HttpMethod::Post => reqwest::Method::POST,
                HttpMethod::Put => reqwest::Method::PUT,
            },
            url,
            body,
            headers,
            auth,
            judge: judge(config)?,
        })
    }
}

/// Only TLS leaves the machine: `http://` is for the loopback (a local relay, tests).
fn check_scheme(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| {
            lower.strip_prefix(prefix).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(':') || rest.starts_with('/')
            })
        });
    if lower.starts_with("https://") || loopback {
        Ok(())
    } else {
        Err("the url must start with https:// (http:// only to the loopback)".into())
    }
}

fn body(kind: BodyKind, fields: Option<&Value>) -> Result<Body, String> {
    let pairs = |fields: Option<&Value>| -> Result<Vec<(String, Template)>, String> {
        let Some(Value::Object(fields)) = fields else {
            return Err("a form or query body needs `fields`, a table of templates".into());
        };
        fields
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => Template::parse(text)
                    .map(|template| (name.clone(), template))
                    .map_err(|error| format!("field {name}: {error}")),
                _ => Err(format!("field {name}: form and query values are text")),
            })
            .collect()
    };
    match kind {
        BodyKind::None if fields.is_some() => Err("`fields` needs a body kind".into()),
        BodyKind::None => Ok(Body::None),
        BodyKind::Form => Ok(Body::Form(pairs(fields)?)),
        BodyKind::Query => Ok(Body::Query(pairs(fields)?)),
        BodyKind::Json => match fields {
            Some(fields @ Value::Object(_)) => Ok(Body::Json(json_template(fields)?)),
            _ => Err("a JSON body needs `fields`, a table".into()),
        },
    }
}

fn json_template(value: &Value) -> Result<JsonTemplate, String> {
    Ok(match value {
        Value::String(text) => {
            JsonTemplate::Text(Template::parse(text).map_err(|error| format!("fields: {error}"))?)
        }
        Value::Array(items) => {
            JsonTemplate::Array(items.iter().map(json_template).collect::<Result<_, _>>()?)
        }
        Value::Object(fields) => JsonTemplate::Object(
            fields
                .iter()
                .map(|(name, value)| Ok((name.clone(), json_template(value)?)))
                .collect::<Result<_, String>>()?,
        ),
        fixed => JsonTemplate::Fixed(fixed.clone()),
    })
}

fn read_secret(source: &SecretSource) -> Result<Secret, String> {
    source.read().map_err(|error| error.to_string())
}

fn auth(config: &AuthConfig) -> Result<Auth, String> {
    Ok(match config {
        AuthConfig::Basic { user, secret } => Auth::Basic {
            user: user.clone(),
            secret: read_secret(secret)?,
        },
        AuthConfig::Bearer { secret } => Auth::Bearer(read_secret(secret)?),
        AuthConfig::Header {
            name,
            prefix,
            secret,
        } => Auth::Header {
            name: HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?,
            prefix: prefix.clone().unwrap_or_default(),
            secret: read_secret(secret)?,
        },
        AuthConfig::Field { name, secret } => Auth::Field {
            name: name.clone(),
            secret: read_secret(secret)?,
        },
    })
}

fn judge(config: &HttpGatewayConfig) -> Result<Judge, String> {
    let success = config.success.clone().unwrap_or_default();
    if success.json_pointer.is_some() != success.json_equals.is_some() {
        return Err("success: json_pointer and json_equals go together".into());
    }
    let (id_pointer, id_header) = match &config.provider_id {
        Some(id) if id.json_pointer.is_some() == id.header.is_some() => {
            return Err("provider_id: give exactly one of json_pointer and header".into());
        }
        Some(id) => (id.json_pointer.clone(), id.header.clone()),
        None => (None, None),
    };
    Ok(Judge {
        success_statuses: success.statuses,
        transient_statuses: config.transient_statuses.clone(),
        json_pointer: success.json_pointer,
        json_equals: success.json_equals,
        json_transient: success.json_transient,
        body_contains: success.body_contains,
        body_lacks: success.body_lacks,
        id_pointer,
        id_header,
    })
}

pub(super) fn callback(config: &CallbackConfig) -> Result<Callback, String> {
    check_scheme(&config.url).map_err(|reason| format!("callback {reason}"))?;
    let signature = config
        .signature
        .ok_or("callback: `signature` (twilio, vonage or sceau) is needed")?;
    let secret = config
        .secret
        .as_ref()
        .ok_or("callback: `secret` (the signature's key) is needed")?;
    let (Some(id_field), Some(status_field)) = (&config.id_field, &config.status_field) else {
        return Err("callback: `id_field` and `status_field` are needed".into());
    };
    let delivered = config.delivered.clone().unwrap_or_default();
    if delivered.is_empty() {
        return Err("callback: `delivered` needs at least one status value".into());
    }
    let tolerance_s = config.tolerance_s.unwrap_or(config::TOLERANCE_S_DEFAULT);
    if !(1..=3600).contains(&tolerance_s) {
        return Err("callback: tolerance_s lies between 1 and 3600".into());
    }
    Ok(Callback {
        signature,
        secret: read_secret(secret).map_err(|reason| format!("callback: {reason}"))?,
        method: config.signature_method.unwrap_or_default(),
        tolerance_s,
        fields: ReportFields {
            id_field: id_field.clone(),
            status_field: status_field.clone(),
            delivered,
            failed: config.failed.clone().unwrap_or_default(),
        },
        url: config.url.clone(),
    })
}

/// The client: rustls, certificates always verified (the system's roots, plus the
/// configured CA), no redirects followed, no proxy from the environment.
pub fn client(config: &HttpGatewayConfig) -> Result<reqwest::Client, String> {
    let timeout_ms = config.timeout_ms.unwrap_or(config::TIMEOUT_MS_DEFAULT);
    if !(1..=config::TIMEOUT_MS_MAX).contains(&timeout_ms) {
        return Err(format!(
            "timeout_ms lies between 1 and {}",
            config::TIMEOUT_MS_MAX
        ));
    }
    let timeout = std::time::Duration::from_millis(timeout_ms);
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        // No proxy from the environment: the credentials and the text go to the provider
        // named, nowhere else.
        .no_proxy()
        .https_only(false);
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path)
            .map_err(|_| format!("the CA file {} cannot be read", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|certificates| !certificates.is_empty())
            .ok_or_else(|| format!("the CA file {} holds no PEM certificate", path.display()))?;
        builder = builder.tls_certs_merge(certificates);
    }
    builder
        .build()
        .map_err(|_| "the HTTP client cannot be built".into())
}

impl HttpGateway {
    /// The request for one message.
    pub(super) fn build(
        &self,
        values: &dyn Fn(Placeholder) -> String,
    ) -> Result<reqwest::RequestBuilder, ChannelError> {
        let mut url = reqwest::Url::parse(&self.url.render_url(values))
            .map_err(|_| ChannelError::Permanent("the rendered url is not a URL".into()))?;
        let secret_field = match &self.auth {
            Some(Auth::Field { name, secret }) => Some((name.as_str(), secret.expose())),
            _ => None,
        };
        if let Body::Query(fields) = &self.body {
            let mut query = url.query_pairs_mut();
            for (name, value) in fields {
                query.append_pair(name, &value.render(values));
            }
            if let Some((name, secret)) = secret_field {
                query.append_pair(name, secret);
            }
        }
        let mut request = self.client.request(self.method.clone(), url);
        for (name, value) in &self.headers {
            request = request.header(name, header_value(&value.render(values), false)?);
        }
        request = self.authorise(request)?;
        match &self.body {
            Body::None | Body::Query(_) => {}
            Body::Form(fields) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in fields {
                    form.append_pair(name, &value.render(values));
                }
                if let Some((name, secret)) = secret_field {
                    form.append_pair(name, secret);
                }
                request = request
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish());
            }
            Body::Json(template) => {
                let mut json = render_json(template, values);
                if let (Some((name, secret)), Value::Object(fields)) = (secret_field, &mut json) {
                    fields.insert(name.to_owned(), Value::String(secret.to_owned()));
                }
                let bytes = serde_json::to_vec(&json).map_err(|_| {
                    ChannelError::Permanent("the JSON body cannot be written".into())
                })?;
                request = request.header(CONTENT_TYPE, "application/json").body(bytes);
            }
        }
        Ok(request)
    }

    fn authorise(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ChannelError> {
        use base64::Engine;
        Ok(match &self.auth {
            Some(Auth::Basic { user, secret }) => {
                let pair = format!("{user}:{}", secret.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                request.header(
                    AUTHORIZATION,
                    header_value(&format!("Basic {encoded}"), true)?,
                )
            }
            Some(Auth::Bearer(secret)) => request.header(
                AUTHORIZATION,
                header_value(&format!("Bearer {}", secret.expose()), true)?,
            ),
            Some(Auth::Header {
                name,
                prefix,
                secret,
            }) => request.header(
                name,
                header_value(&format!("{prefix}{}", secret.expose()), true)?,
            ),
            Some(Auth::Field { .. }) | None => request,
        })
    }
}

fn header_value(text: &str, sensitive: bool) -> Result<HeaderValue, ChannelError> {
    let mut value = HeaderValue::from_str(text)
        .map_err(|_| ChannelError::Permanent("a header cannot hold its value".into()))?;
    value.set_sensitive(sensitive);
    Ok(value)
}

fn render_json(template: &JsonTemplate, values: &dyn Fn(Placeholder) -> String) -> Value {
    match template {
        JsonTemplate::Text(text) => match text.only_placeholder() {
            Some(placeholder) if placeholder.is_number() => {
                let rendered = values(placeholder);
                rendered
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(rendered))
            }
            _ => Value::String(text.render(values)),
        },
        JsonTemplate::Fixed(value) => value.clone(),
        JsonTemplate::Array(items) => {
            Value::Array(items.iter().map(|item| render_json(item, values)).collect())
        }
        JsonTemplate::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), render_json(value, values)))
                .collect(),
        ),
    }
}

/// What went wrong on the way, never with the URL or anything sent (they may hold a
/// secret).
pub fn transport_error(error: reqwest::Error) -> ChannelError {
    if error.is_timeout() {
        ChannelError::Transient("the provider did not answer in time".into())
    } else if error.is_connect() {
        ChannelError::Transient("the provider cannot be reached".into())
    } else if error.is_builder() {
        ChannelError::Permanent("the request cannot be built".into())
    } else {
        ChannelError::Transient("the connection to the provider failed".into())
    }
}

/// The answer's status, headers and at most `ANSWER_LEN_MAX` bytes of its body.
pub async fn read_answer(
    mut response: reqwest::Response,
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), ChannelError> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let mut body = Vec::new();
    while body.len() < ANSWER_LEN_MAX {
        match response.chunk().await.map_err(transport_error)? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    body.truncate(ANSWER_LEN_MAX);
    Ok((status, headers, body))
}

impl Body {
    pub fn templates(&self) -> Box<dyn Iterator<Item = &Template> + '_> {
        match self {
            Body::None => Box::new(std::iter::empty()),
            Body::Form(fields) | Body::Query(fields) => {
                Box::new(fields.iter().map(|(_, template)| template))
            }
            Body::Json(template) => Box::new(template.templates()),
        }
    }
}

impl JsonTemplate {
    fn templates(&self) -> Box<dyn Iterator<Item = &Template> + '_> {
        match self {
            JsonTemplate::Text(template) => Box::new(std::iter::once(template)),
            JsonTemplate::Fixed(_) => Box::new(std::iter::empty()),
            JsonTemplate::Array(items) => Box::new(items.iter().flat_map(JsonTemplate::templates)),
            JsonTemplate::Object(fields) => {
                Box::new(fields.iter().flat_map(|(_, value)| value.templates()))
            }
        }
    }
}
