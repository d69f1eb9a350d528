//! The published API description checked against what the code answers. In debug
//! builds (every test run), each refusal a route answers is looked up in `openapi.json`
//! under that route, method and status, and its code among that answer's words: an
//! answer the description does not list becomes a 500 `undescribed_refusal` naming what
//! is missing, so whichever test reaches it fails. The whole suite is the walk; what no
//! test reaches is covered by the table of `tests/openapi.rs`. Release builds do not
//! carry this check.

use crate::error::ApiError;
use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::OnceLock;

/// Refusal bodies are small; a larger one is not an `ErrorBody`.
const BODY_BYTES_MAX: usize = 64 * 1024;

/// The middleware: passes every answer through, except a refusal that `openapi.json`
/// does not describe.
pub async fn check(request: Request, next: Next) -> Response {
    let method = match request.method().as_str() {
        "HEAD" => "get".to_owned(),
        other => other.to_ascii_lowercase(),
    };
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().replace("{*", "{"));
    let response = next.run(request).await;
    let status = response.status();
    // Outside any route (the fallback) or a method the route does not have: axum's own
    // answers, described once for every path.
    let Some(path) = path else {
        return response;
    };
    if status.as_u16() < 400 || status == StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_BYTES_MAX).await else {
        return undescribed(format!(
            "{method} {path} answered {status} with a body too large to read"
        ));
    };
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let code = json
        .then(|| serde_json::from_slice::<Value>(&bytes).ok())
        .flatten()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned));
    match missing(&method, &path, status.as_u16(), code.as_deref()) {
        None => Response::from_parts(parts, Body::from(bytes)),
        Some(what) => undescribed(what),
    }
}

fn undescribed(what: String) -> Response {
    tracing::error!(%what, "an answer openapi.json does not describe");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "undescribed_refusal",
        format!("openapi.json does not describe this answer: {what}"),
    )
    .into_response()
}

fn description() -> &'static Value {
    static DESCRIPTION: OnceLock<Value> = OnceLock::new();
    DESCRIPTION.get_or_init(|| {
        serde_json::from_str(include_str!("../openapi.json")).unwrap_or(Value::Null)
    })
}

/// What `openapi.json` does not say of `method path` answering `status` with `code`
/// (a page's refusal has no code: its status alone is checked).
pub fn missing(method: &str, path: &str, status: u16, code: Option<&str>) -> Option<String> {
    let description = description();
    let operation = &description["paths"][path][method];
    if operation.is_null() {
        return Some(format!("{method} {path} is not described"));
    }
    let mut response = &operation["responses"][status.to_string()];
    if let Some(reference) = response["$ref"].as_str() {
        response = description
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(&Value::Null);
    }
    if response.is_null() {
        return Some(format!("{method} {path} answers {status}, not listed"));
    }
    let code = code?;
    let text = response.to_string();
    let mut words =
        text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    if words.any(|word| word == code) {
        None
    } else {
        Some(format!(
            "{method} {path} answers {status} {code}, not listed"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::missing;

    #[test]
    fn an_answer_is_described_when_its_route_status_and_code_are() {
        assert_eq!(
            missing(
                "get",
                "/v1/checkouts/{id}/evidence",
                409,
                Some("checkout_not_paid")
            ),
            None
        );
        // A status answer through a shared response ($ref).
        assert_eq!(
            missing("post", "/v1/numbers", 401, Some("unauthorized")),
            None
        );
        // A page's refusal: its status only.
        assert_eq!(missing("get", "/pay/{id}", 404, None), None);
    }

    #[test]
    fn an_answer_missing_from_the_description_is_named() {
        let what = missing(
            "get",
            "/v1/checkouts/{id}/evidence",
            409,
            Some("no_such_code"),
        );
        assert!(what.is_some_and(|what| what.contains("409 no_such_code")));
        let what = missing("get", "/v1/checkouts/{id}/evidence", 418, None);
        assert!(what.is_some_and(|what| what.contains("418")));
        let what = missing("delete", "/v1/checkouts/{id}/evidence", 404, None);
        assert!(what.is_some_and(|what| what.contains("not described")));
        // A word inside another is not the code.
        let what = missing(
            "get",
            "/v1/checkouts/{id}/evidence",
            409,
            Some("checkout_not"),
        );
        assert!(what.is_some(), "`checkout_not` is only part of a code");
    }
}
