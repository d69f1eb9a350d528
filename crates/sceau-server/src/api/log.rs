//! The transparency log over HTTP, read-only and without sign-in, so that anyone can
//! follow it: the newest checkpoint (a C2SP signed note), the key that verifies it, the
//! entries, and inclusion and consistency proofs (RFC 9162 §2.1).

use crate::AppState;
use crate::error::ApiError;
use crate::transparency::TILE_WIDTH;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sceau_app::AppError;
use serde::Deserialize;
use serde_json::json;

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
    let index: u64 = index.parse().map_err(|_| AppError::NoEntry)?;
    let entry = state.service.log_entry(index).await?;
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
    let Query(query) =
        query.map_err(|_| AppError::InvalidQuery("give index and size as decimal numbers"))?;
    let proof = state
        .service
        .log_inclusion_proof(query.index, query.size)
        .await?;
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
    let Query(query) =
        query.map_err(|_| AppError::InvalidQuery("give old and new as decimal numbers"))?;
    let proof = state
        .service
        .log_consistency_proof(query.old, query.new)
        .await?;
    Ok(axum::Json(json!({
        "old": query.old, "new": query.new, "hashes": hashes(&proof),
    }))
    .into_response())
}

/// A tile's address: `entries` or a level, its index, and its width if partial.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TileAddress {
    /// `None` for an entry bundle.
    level: Option<u8>,
    index: u64,
    width: u64,
}

/// Reads `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N written as zero-padded groups of
/// three digits, `x` before every group but the last (`x001/x234/067`).
pub(crate) fn parse_tile(path: &str) -> Option<TileAddress> {
    let mut segments: Vec<&str> = path.split('/').collect();
    let first = segments.first().copied()?;
    let level = match first {
        "entries" => None,
        text => Some(
            text.parse::<u8>()
                .ok()
                .filter(|level| *level <= 7 && level.to_string() == text)?,
        ),
    };
    segments.remove(0);
    // A partial tile ends in ".p/<W>", W from 1 to 255 without leading zeros.
    let mut width = TILE_WIDTH;
    if let [.., last_group, width_text] = segments.as_slice()
        && let Some(group) = last_group.strip_suffix(".p")
    {
        let parsed: u64 = width_text
            .parse()
            .ok()
            .filter(|w| (1..TILE_WIDTH).contains(w) && w.to_string() == *width_text)?;
        width = parsed;
        let at = segments.len() - 2;
        segments[at] = group;
        segments.pop();
    }
    let (last, groups) = segments.split_last()?;
    let mut index: u64 = 0;
    for group in groups {
        let digits = group.strip_prefix('x')?;
        index = index
            .checked_mul(1000)?
            .checked_add(three_digits(digits)?)?;
    }
    index = index.checked_mul(1000)?.checked_add(three_digits(last)?)?;
    Some(TileAddress {
        level,
        index,
        width,
    })
}

fn three_digits(text: &str) -> Option<u64> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// `GET /log/tile/{path}`: a hash tile (`<L>/<N>[.p/<W>]`: the hashes of the tree's
/// complete nodes at height 8·L, indices N·256 on) or an entry bundle (`entries/<N>…`:
/// each entry after its length, two bytes big-endian), as C2SP tlog-tiles lays them
/// out. A tile exists once all its hashes or entries do; a full tile never changes.
pub async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let address = parse_tile(&path).ok_or(AppError::NoTile)?;
    let body = state
        .service
        .log_tile(address.level, address.index, address.width)
        .await?;
    let cache = if address.width == TILE_WIDTH {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_read_as_tlog_tiles_writes_them() {
        let tile = |level, index, width| TileAddress {
            level,
            index,
            width,
        };
        assert_eq!(parse_tile("0/000"), Some(tile(Some(0), 0, 256)));
        assert_eq!(
            parse_tile("1/x001/x234/067"),
            Some(tile(Some(1), 1_234_067, 256))
        );
        assert_eq!(parse_tile("0/002.p/88"), Some(tile(Some(0), 2, 88)));
        assert_eq!(
            parse_tile("entries/x001/000.p/5"),
            Some(tile(None, 1_000, 5))
        );
        for bad in [
            "",
            "0",
            "8/000",
            "00/000",
            "0/00",
            "0/0000",
            "0/x000",
            "0/000.p",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "x/000",
            "0/001/002",
            "entries/abc",
        ] {
            assert_eq!(parse_tile(bad), None, "{bad:?}");
        }
    }
}
