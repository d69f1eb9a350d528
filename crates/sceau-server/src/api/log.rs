//! The transparency log over HTTP, read-only and without sign-in, so that anyone can
//! follow it: the newest checkpoint (a C2SP signed note), the key that verifies it, the
//! entries, and inclusion and consistency proofs (RFC 9162 §2.1).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

fn no_proof() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_proof",
        "no such proof: the sizes must be ordered and within the log's size",
    )
}

fn hashes(proof: &[[u8; 32]]) -> Vec<String> {
    proof
        .iter()
        .map(|hash| base64::engine::general_purpose::STANDARD.encode(hash))
        .collect()
}

/// `GET /log/checkpoint`: the newest signed checkpoint.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let checkpoint = state.service.log_checkpoint().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        checkpoint.note,
    )
        .into_response())
}

/// `GET /log/key`: the verifier key of the checkpoints (`origin+keyid+base64`).
pub async fn key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let key = state.service.log_verifier_key()?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{key}\n"),
    )
        .into_response())
}

/// `GET /log/entries/{index}`: the entry at `index`, as it was appended.
pub async fn entry(
    State(state): State<AppState>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no_entry", "no such entry");
    let index: u64 = index.parse().map_err(|_| not_found())?;
    let entry = state
        .service
        .store
        .log_entry(index)
        .await?
        .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // An entry never changes.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        entry,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct InclusionQuery {
    index: u64,
    size: u64,
}

/// `GET /log/proof/inclusion?index=I&size=N`: the audit path of entry I in the tree of
/// N entries.
pub async fn inclusion(
    State(state): State<AppState>,
    query: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request("invalid_query", "give index and size as decimal numbers")
    })?;
    let proof = state
        .service
        .store
        .log_inclusion_proof(query.index, query.size)
        .await?
        .ok_or_else(no_proof)?;
    Ok(axum::Json(json!({
        "index": query.index, "size": query.size, "hashes": hashes(&proof),
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    old: u64,
    new: u64,
}

/// `GET /log/proof/consistency?old=M&new=N`: the proof that the tree of N entries
/// extends the tree of M.
pub async fn consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request("invalid_query", "give old and new as decimal numbers")
    })?;
    let proof = state
        .service
        .store
        .log_consistency_proof(query.old, query.new)
        .await?
        .ok_or_else(no_proof)?;
    Ok(axum::Json(json!({
        "old": query.old, "new": query.new, "hashes": hashes(&proof),
    }))
    .into_response())
}
