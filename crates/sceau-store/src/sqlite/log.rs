//! The transparency log on SQLite (see `crate::log` for what both backends share).

use crate::StoreError;
use crate::log::{
    ProofRequest, derivation, frontier_from_stored, frontier_to_stored, stored_level,
};
use crate::model::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

pub(super) fn append(
    connection: &Connection,
    entries: &[Vec<u8>],
    now_s: i64,
) -> Result<(), StoreError> {
    let mut insert =
        connection.prepare_cached("INSERT INTO log_pending (entry, created_at) VALUES (?1, ?2)")?;
    for entry in entries {
        insert.execute(params![entry, now_s])?;
    }
    Ok(())
}

fn size_of(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative")))
}

fn signed(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt("log size past i64".into()))
}

fn state(connection: &Connection) -> Result<(u64, Vec<u8>), StoreError> {
    let (size, frontier): (i64, Vec<u8>) = connection
        .prepare_cached("SELECT size, frontier FROM log_state WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok((size_of(size, "log_state.size")?, frontier))
}

/// Appends what waits to the tree: entries queued by [`append`] first, then the evidence
/// records written since the last integration, by id. Records need no queue of their
/// own here: SQLite has one writer, so a record's id is larger than every id committed
/// before it, and `log_state.evidence_through` (the last record appended) is all the
/// integrator needs to take them in order, once each.
pub(super) fn integrate(
    connection: &Connection,
    integrate: &IntegrateLog,
) -> Result<Option<LogCheckpoint>, StoreError> {
    let pending: Vec<(i64, Vec<u8>)> = connection
        .prepare_cached("SELECT id, entry FROM log_pending ORDER BY id LIMIT ?1")?
        .query_map([integrate.batch_max], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let room = i64::from(integrate.batch_max).saturating_sub(pending.len() as i64);
    let evidence_through: i64 = connection
        .prepare_cached("SELECT evidence_through FROM log_state WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    let records: Vec<(i64, Vec<u8>)> = connection
        .prepare_cached("SELECT id, hash FROM evidence WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map([evidence_through, room], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    if pending.is_empty() && records.is_empty() {
        return Ok(None);
    }
    let entries: Vec<(&[u8], Option<i64>)> = pending
        .iter()
        .map(|(_, entry)| (entry.as_slice(), None))
        .chain(
            records
                .iter()
                .map(|(id, hash)| (hash.as_slice(), Some(*id))),
        )
        .collect();
    let (size, stored) = state(connection)?;
    let mut frontier = frontier_from_stored(size, &stored)?;
    let leaves: Vec<[u8; 32]> = entries
        .iter()
        .map(|(entry, _)| sceau_log::leaf_hash(entry))
        .collect();
    let completed = frontier
        .append(&leaves)
        .map_err(|error| StoreError::Corrupt(format!("log append: {error}")))?;
    let mut insert_entry = connection.prepare_cached(
        "INSERT INTO log_entries (idx, entry, created_at, evidence_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (offset, (entry, evidence_id)) in entries.iter().enumerate() {
        insert_entry.execute(params![
            signed(size + offset as u64)?,
            entry,
            integrate.now_s,
            evidence_id
        ])?;
    }
    let mut insert_node = connection
        .prepare_cached("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    for node in completed.iter().filter(|node| stored_level(node.level)) {
        insert_node.execute(params![node.level, signed(node.index)?, &node.hash[..]])?;
    }
    let new_size = frontier.size();
    let evidence_through = records.last().map_or(evidence_through, |(id, _)| *id);
    connection
        .prepare_cached(
            "UPDATE log_state SET size = ?1, frontier = ?2, evidence_through = ?3 WHERE id = 1",
        )?
        .execute(params![
            signed(new_size)?,
            frontier_to_stored(&frontier),
            evidence_through
        ])?;
    if let Some((last_id, _)) = pending.last() {
        connection
            .prepare_cached("DELETE FROM log_pending WHERE id <= ?1")?
            .execute([last_id])?;
    }
    let root = frontier.root();
    let checkpoint = LogCheckpoint {
        size: new_size,
        root,
        note: (integrate.sign)(new_size, &root),
        created_at_s: integrate.now_s,
    };
    connection
        .prepare_cached(
            "INSERT INTO log_checkpoints (size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            signed(new_size)?,
            &root[..],
            checkpoint.note,
            integrate.now_s
        ])?;
    Ok(Some(checkpoint))
}

pub(super) fn checkpoint(connection: &Connection) -> Result<Option<LogCheckpoint>, StoreError> {
    let row: Option<(i64, Vec<u8>, String, i64)> = connection
        .prepare_cached(
            "SELECT size, root, note, created_at FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        )?
        .query_row([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    row.map(|(size, root, note, created_at_s)| {
        Ok(LogCheckpoint {
            size: size_of(size, "log_checkpoints.size")?,
            root: root
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("log_checkpoints.root".into()))?,
            note,
            created_at_s,
        })
    })
    .transpose()
}

pub(super) fn entry(connection: &Connection, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let Ok(index) = i64::try_from(index) else {
        return Ok(None);
    };
    Ok(connection
        .prepare_cached("SELECT entry FROM log_entries WHERE idx = ?1")?
        .query_row([index], |row| row.get(0))
        .optional()?)
}

pub(super) fn proof(
    connection: &Connection,
    request: &ProofRequest,
    largest: u64,
) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
    let (size, _) = state(connection)?;
    if largest > size {
        return Ok(None);
    }
    let Some(nodes) = request.nodes() else {
        return Ok(None);
    };
    let mut base = HashMap::new();
    for range in crate::log::base_ranges(&nodes) {
        let found = level_nodes(connection, range.base, range.start, range.count)?;
        for (offset, hash) in found.into_iter().enumerate() {
            base.insert((range.base, range.start + offset as u64), hash);
        }
    }
    request
        .with_nodes(crate::log::derive(&nodes, &base))
        .map(Some)
}

/// The complete nodes of `level` from `start`, in order, up to `count` (stopping at the
/// first missing): stored, or computed from the stored level below or from the entries
/// (see `crate::log::stored_level`).
pub(super) fn nodes(
    connection: &Connection,
    level: u8,
    start: u64,
    count: u32,
) -> Result<Vec<[u8; 32]>, StoreError> {
    level_nodes(connection, level, start, u64::from(count))
}

fn level_nodes(
    connection: &Connection,
    level: u8,
    start: u64,
    count: u64,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let Some(derivation) = derivation(level, start, count) else {
        return Ok(Vec::new());
    };
    let (Ok(base_start), Ok(base_count)) = (
        i64::try_from(derivation.start),
        i64::try_from(derivation.count),
    ) else {
        return Ok(Vec::new());
    };
    let base = if derivation.base == 0 {
        let entries: Vec<(i64, Vec<u8>)> = connection
            .prepare_cached(
                "SELECT idx, entry FROM log_entries WHERE idx >= ?1 AND idx < ?1 + ?2 ORDER BY idx",
            )?
            .query_map(params![base_start, base_count], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let leaves = entries
            .into_iter()
            .map(|(index, entry)| (index, sceau_log::leaf_hash(&entry).to_vec()))
            .collect();
        crate::log::contiguous(base_start, leaves)
    } else {
        let rows: Vec<(i64, Vec<u8>)> = connection
            .prepare_cached(
                "SELECT idx, hash FROM log_nodes WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
            )?
            .query_map(params![derivation.base, base_start, base_count], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        crate::log::contiguous(base_start, rows)
    };
    Ok(derivation.fold(base))
}

pub(super) fn entries(
    connection: &Connection,
    start: u64,
    count: u32,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let Ok(start) = i64::try_from(start) else {
        return Ok(Vec::new());
    };
    Ok(connection
        .prepare_cached(
            "SELECT entry FROM log_entries WHERE idx >= ?1 AND idx < ?1 + ?2 ORDER BY idx",
        )?
        .query_map(params![start, count], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}
