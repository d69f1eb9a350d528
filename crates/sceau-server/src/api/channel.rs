//! What SMS gateways call back: `POST /channel/{route}/status`, a delivery report for a
//! message the route took. Nothing in it is trusted before the provider's signature (or
//! sceau's own) checks; the route's gateway does the checking and the reading, this
//! handler only hands the reports to the recorder.

use super::RawBody;
use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use sceau_channel::http_gateway::CallbackRequest;

pub async fn status_callback(
    State(state): State<AppState>,
    Path(route): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<StatusCode, ApiError> {
    let callbacks = &state.channel_callbacks;
    let Some(gateway) = callbacks.gateways.get(&route) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_route",
            "no route of this name takes status callbacks",
        ));
    };
    let Some(url) = gateway.callback_url() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_route",
            "no route of this name takes status callbacks",
        ));
    };
    // The provider signed the address it called: the configured public one, with the
    // query string the request came with.
    let url = match uri.query() {
        Some(query) => format!("{url}?{query}"),
        None => url.to_owned(),
    };
    let request = CallbackRequest {
        url,
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
        now_s: state.service.now_s(),
    };
    let reports = gateway.check_callback(&request).map_err(|refusal| {
        let status = match refusal {
            sceau_channel::http_gateway::CallbackRefusal::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        ApiError::new(status, refusal.code(), refusal.to_string())
    })?;
    let sink = callbacks.sink.as_ref().ok_or_else(busy)?;
    for report in reports {
        // A full queue: the provider calls again later.
        sink.try_send(report).map_err(|_| busy())?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "too many reports waiting; call again later",
    )
}
