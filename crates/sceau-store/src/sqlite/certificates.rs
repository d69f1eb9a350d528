//! The white room's certificates: recorded at enrolment or on their own, revoked, and
//! (disposable ones) used once.

use super::ops::is_unique_violation;
use super::read::corrupt;
use crate::StoreError;
use crate::evidence;
use crate::model::*;
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "serial, kind, client_id, key_label, der, not_before, not_after, \
     names_serial, used_at, revoked_at, revocation_reason, created_at";

fn certificate_row(row: &Row<'_>) -> rusqlite::Result<CertificateRecord> {
    let kind: String = row.get(1)?;
    let reason: Option<i64> = row.get(10)?;
    Ok(CertificateRecord {
        serial: row.get(0)?,
        kind: CertificateKind::parse(&kind).ok_or_else(|| corrupt("certificate kind"))?,
        client_id: row.get(2)?,
        key_label: row.get(3)?,
        der: row.get(4)?,
        not_before_s: row.get(5)?,
        not_after_s: row.get(6)?,
        names_serial: row.get(7)?,
        used_at_s: row.get(8)?,
        revoked_at_s: row.get(9)?,
        revocation_reason: reason
            .map(|code| u8::try_from(code).map_err(|_| corrupt("revocation reason")))
            .transpose()?,
        created_at_s: row.get(11)?,
    })
}

/// Inserts `certificate` (for `client_id` when given, else its own).
pub(super) fn insert(
    connection: &Connection,
    certificate: &NewCertificate,
    client_id: Option<i64>,
) -> Result<(), StoreError> {
    let inserted = connection
        .prepare_cached(&format!(
            "INSERT INTO certificates ({COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, NULL, ?9)"
        ))?
        .execute(params![
            certificate.serial,
            certificate.kind.as_str(),
            client_id.or(certificate.client_id),
            certificate.key_label,
            certificate.der,
            certificate.not_before_s,
            certificate.not_after_s,
            certificate.names_serial,
            certificate.now_s
        ]);
    match inserted {
        Err(error) if is_unique_violation(&error, "certificates.serial") => {
            Err(StoreError::Conflict("certificate_serial_taken"))
        }
        Err(error) if is_unique_violation(&error, "certificates.key_label") => {
            Err(StoreError::Conflict("certificate_key_taken"))
        }
        Err(error) => Err(error.into()),
        Ok(_) => {
            let client_id = client_id.or(certificate.client_id);
            super::evidence::write(
                connection,
                evidence::certificate_issued(certificate, client_id),
            )?;
            Ok(())
        }
    }
}

pub(super) fn pin_root(
    connection: &Connection,
    root_sha256: &[u8; 32],
    now_s: i64,
) -> Result<[u8; 32], StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO pki_root (id, root_sha256, created_at) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![&root_sha256[..], now_s])?;
    let pinned: Vec<u8> = connection
        .prepare_cached("SELECT root_sha256 FROM pki_root WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    pinned
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt("pki_root.root_sha256".into()))
}

pub(super) fn certificate(
    connection: &Connection,
    serial: &str,
) -> Result<Option<CertificateRecord>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE serial = ?1"
        ))?
        .query_row([serial], certificate_row)
        .optional()?)
}

pub(super) fn client_certificates(
    connection: &Connection,
    client_id: i64,
) -> Result<Vec<CertificateRecord>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE client_id = ?1 \
             ORDER BY created_at, serial"
        ))?
        .query_map([client_id], certificate_row)?
        .collect::<Result<_, _>>()?)
}

pub(super) fn revoke(
    connection: &Connection,
    serial: &str,
    reason: u8,
    now_s: i64,
) -> Result<RevokeOutcome, StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3 \
             WHERE serial = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![serial, now_s, reason])?;
    Ok(match certificate(connection, serial)? {
        None => RevokeOutcome::Unknown,
        Some(record) if changed == 1 => {
            super::evidence::write(
                connection,
                evidence::certificate_revoked(&record, false, now_s),
            )?;
            RevokeOutcome::Revoked(record)
        }
        Some(record) => RevokeOutcome::AlreadyRevoked(record),
    })
}

pub(super) fn revocations(
    connection: &Connection,
    now_s: i64,
) -> Result<Vec<CertificateRecord>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE revoked_at IS NOT NULL \
             AND not_after >= ?1 ORDER BY serial"
        ))?
        .query_map([now_s], certificate_row)?
        .collect::<Result<_, _>>()?)
}

pub(super) fn use_once(
    connection: &Connection,
    serial: &str,
    now_s: i64,
) -> Result<UseOutcome, StoreError> {
    let Some(record) = certificate(connection, serial)? else {
        return Ok(UseOutcome::Unknown);
    };
    let used = match crate::shared::use_verdict(&record, now_s) {
        Ok(used) => used,
        Err(refusal) => return Ok(crate::shared::use_refused(refusal)),
    };
    let changed = connection
        .prepare_cached(
            "UPDATE certificates SET used_at = ?2, revoked_at = ?3, revocation_reason = ?4 \
             WHERE serial = ?1 AND used_at IS NULL AND revoked_at IS NULL",
        )?
        .execute(params![
            serial,
            used.used_at_s,
            used.revoked_at_s,
            used.reason
        ])?;
    if changed != 1 {
        return Ok(UseOutcome::AlreadyUsed);
    }
    Ok(match certificate(connection, serial)? {
        Some(record) => {
            super::evidence::write(
                connection,
                evidence::certificate_revoked(&record, true, now_s),
            )?;
            UseOutcome::Granted(record)
        }
        None => UseOutcome::Unknown,
    })
}

use super::SqliteStore;
use crate::capabilities::Certificates;
use async_trait::async_trait;

#[async_trait]
impl Certificates for SqliteStore {
    async fn pin_pki_root(
        &self,
        root_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<[u8; 32], StoreError> {
        self.write(move |c| self::pin_root(c, &root_sha256, now_s))
            .await
    }

    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError> {
        self.write(move |c| self::insert(c, &certificate, None))
            .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial.to_owned();
        self.read(move |c| self::certificate(c, &serial)).await
    }

    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(move |c| self::client_certificates(c, client_id))
            .await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let serial = serial.to_owned();
        self.write(move |c| self::revoke(c, &serial, reason, now_s))
            .await
    }

    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(move |c| self::revocations(c, now_s)).await
    }

    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError> {
        let serial = serial.to_owned();
        self.write(move |c| self::use_once(c, &serial, now_s)).await
    }
}
