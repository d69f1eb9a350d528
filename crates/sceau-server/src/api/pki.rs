//! The time-stamp authority over HTTP (RFC 3161 §3.4) and the authority's certificates.

use super::RawBody;
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Media type of a time-stamp request.
pub const TIMESTAMP_QUERY: &str = "application/timestamp-query";
/// Media type of a time-stamp response.
pub const TIMESTAMP_REPLY: &str = "application/timestamp-reply";

fn unavailable() -> ApiError {
    sceau_app::AppError::PkiUnavailable.into()
}

/// `POST /tsa`: a DER TimeStampReq in, a DER TimeStampResp out. A request the TSA cannot
/// grant is answered 200 with a `rejection` status and the RFC's failure information;
/// only a request that is not a time-stamp query at all (another media type) gets an
/// HTTP error.
pub async fn time_stamp(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if media_type.as_deref() != Some(TIMESTAMP_QUERY) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send Content-Type: {TIMESTAMP_QUERY}"),
        ));
    }
    let pki = state.service.pki.clone().ok_or_else(unavailable)?;
    let now_s = state.service.now_s();
    let answer = match &state.time_stamper {
        // Tokens prepared here, signed in groups (see `time_stamps.rs`).
        Some(stamper) => stamper.answer(&body, now_s).await,
        None => tokio::task::spawn_blocking(move || pki.tsa.answer(&body, now_s))
            .await
            .map_err(|_| sceau_app::error::internal("time-stamp task failed"))?,
    };
    if let sceau_pki::Answer::Rejected { failure, .. } = &answer {
        tracing::info!(?failure, "time-stamp request rejected");
    }
    Ok((
        [(header::CONTENT_TYPE, TIMESTAMP_REPLY)],
        answer.response().to_vec(),
    )
        .into_response())
}

fn pem(issued: &sceau_pki::Issued) -> Result<Response, ApiError> {
    let text = issued
        .to_pem()
        .map_err(|_| sceau_app::error::internal("certificate encoding"))?;
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], text).into_response())
}

/// `GET /pki/root.pem`: the root CA certificate, the trust anchor of every signature
/// and time-stamp this server makes.
pub async fn root(State(state): State<AppState>) -> Result<Response, ApiError> {
    pem(state
        .service
        .pki
        .as_ref()
        .ok_or_else(unavailable)?
        .authority
        .root())
}

/// `GET /pki/issuing.pem`: the issuing CA certificate.
pub async fn issuing(State(state): State<AppState>) -> Result<Response, ApiError> {
    pem(state
        .service
        .pki
        .as_ref()
        .ok_or_else(unavailable)?
        .authority
        .issuing())
}

/// `GET /pki/issuing.crl`: the issuing CA's certificate revocation list (DER), as of
/// now: every certificate it revoked that has not expired yet.
pub async fn crl(State(state): State<AppState>) -> Result<Response, ApiError> {
    let der = state.service.crl().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pkix-crl"),
            (header::CACHE_CONTROL, "max-age=60"),
        ],
        der,
    )
        .into_response())
}

/// `GET /pki/tsa.pem`: the time-stamp authority's certificate.
pub async fn tsa_certificate(State(state): State<AppState>) -> Result<Response, ApiError> {
    pem(&state
        .service
        .pki
        .as_ref()
        .ok_or_else(unavailable)?
        .tsa_certificate)
}
