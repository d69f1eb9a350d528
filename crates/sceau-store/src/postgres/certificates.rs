//! The white room's certificates (the steps of `sqlite/certificates.rs`).

use super::{Conn, Fail, col, corrupt, exec, opt_row, rows};
use crate::StoreError;
use crate::evidence as records;
use crate::model::*;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

const COLUMNS: &str = "serial, kind, client_id, key_label, der, not_before, not_after, \
     names_serial, used_at, revoked_at, revocation_reason, created_at";

fn certificate_row(row: &Row) -> Result<CertificateRecord, Fail> {
    let kind: String = col(row, 1)?;
    let reason: Option<i16> = col(row, 10)?;
    Ok(CertificateRecord {
        serial: col(row, 0)?,
        kind: CertificateKind::parse(&kind).ok_or_else(|| corrupt("certificate kind"))?,
        client_id: col(row, 2)?,
        key_label: col(row, 3)?,
        der: col(row, 4)?,
        not_before_s: col(row, 5)?,
        not_after_s: col(row, 6)?,
        names_serial: col(row, 7)?,
        used_at_s: col(row, 8)?,
        revoked_at_s: col(row, 9)?,
        revocation_reason: reason
            .map(|code| u8::try_from(code).map_err(|_| corrupt("revocation reason")))
            .transpose()?,
        created_at_s: col(row, 11)?,
    })
}

/// Inserts `certificate` (for `client_id` when given, else its own).
pub(super) async fn insert(
    c: &Conn,
    certificate: &NewCertificate,
    client_id: Option<i64>,
) -> Result<(), Fail> {
    let sql = format!(
        "INSERT INTO certificates ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, $9)"
    );
    let inserted = exec(
        c,
        &sql,
        &[
            &certificate.serial,
            &certificate.kind.as_str(),
            &client_id.or(certificate.client_id),
            &certificate.key_label,
            &certificate.der,
            &certificate.not_before_s,
            &certificate.not_after_s,
            &certificate.names_serial,
            &certificate.now_s,
        ],
    )
    .await;
    match inserted {
        Err(Fail::Db(error)) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            let constraint = error.as_db_error().and_then(|db| db.constraint());
            Err(Fail::Store(StoreError::Conflict(
                if constraint == Some("certificates_key_label_key") {
                    "certificate_key_taken"
                } else {
                    "certificate_serial_taken"
                },
            )))
        }
        Err(other) => Err(other),
        Ok(_) => {
            let client_id = client_id.or(certificate.client_id);
            super::evidence::write(c, records::certificate_issued(certificate, client_id)).await?;
            Ok(())
        }
    }
}

pub(super) async fn pin_root(
    c: &Conn,
    root_sha256: &[u8; 32],
    now_s: i64,
) -> Result<[u8; 32], Fail> {
    exec(
        c,
        "INSERT INTO pki_root (id, root_sha256, created_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO NOTHING",
        &[&&root_sha256[..], &now_s],
    )
    .await?;
    let pinned: Vec<u8> = col(
        &super::one_row(c, "SELECT root_sha256 FROM pki_root WHERE id = 1", &[]).await?,
        0,
    )?;
    pinned
        .as_slice()
        .try_into()
        .map_err(|_| Fail::Store(StoreError::Corrupt("pki_root.root_sha256".into())))
}

pub(super) async fn certificate(c: &Conn, serial: &str) -> Result<Option<CertificateRecord>, Fail> {
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE serial = $1");
    opt_row(c, &sql, &[&serial])
        .await?
        .as_ref()
        .map(certificate_row)
        .transpose()
}

pub(super) async fn client_certificates(
    c: &Conn,
    client_id: i64,
) -> Result<Vec<CertificateRecord>, Fail> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates WHERE client_id = $1 ORDER BY created_at, serial"
    );
    rows(c, &sql, &[&client_id])
        .await?
        .iter()
        .map(certificate_row)
        .collect()
}

pub(super) async fn revoke(
    c: &Conn,
    serial: &str,
    reason: u8,
    now_s: i64,
) -> Result<RevokeOutcome, Fail> {
    let changed = exec(
        c,
        "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 \
         WHERE serial = $1 AND revoked_at IS NULL",
        &[&serial, &now_s, &i16::from(reason)],
    )
    .await?;
    Ok(match certificate(c, serial).await? {
        None => RevokeOutcome::Unknown,
        Some(record) if changed == 1 => {
            super::evidence::write(c, records::certificate_revoked(&record, false, now_s)).await?;
            RevokeOutcome::Revoked(record)
        }
        Some(record) => RevokeOutcome::AlreadyRevoked(record),
    })
}

pub(super) async fn revocations(c: &Conn, now_s: i64) -> Result<Vec<CertificateRecord>, Fail> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates WHERE revoked_at IS NOT NULL \
         AND not_after >= $1 ORDER BY serial"
    );
    rows(c, &sql, &[&now_s])
        .await?
        .iter()
        .map(certificate_row)
        .collect()
}

/// The one use: the row is locked while it is judged, so that two instances using the
/// same certificate at once take turns and the second finds it used.
pub(super) async fn use_once(c: &Conn, serial: &str, now_s: i64) -> Result<UseOutcome, Fail> {
    let sql = format!("SELECT {COLUMNS} FROM certificates WHERE serial = $1 FOR UPDATE");
    let Some(row) = opt_row(c, &sql, &[&serial]).await? else {
        return Ok(UseOutcome::Unknown);
    };
    let used = match crate::shared::use_verdict(&certificate_row(&row)?, now_s) {
        Ok(used) => used,
        Err(refusal) => return Ok(crate::shared::use_refused(refusal)),
    };
    exec(
        c,
        "UPDATE certificates SET used_at = $2, revoked_at = $3, revocation_reason = $4 \
         WHERE serial = $1",
        &[
            &serial,
            &used.used_at_s,
            &used.revoked_at_s,
            &i16::from(used.reason),
        ],
    )
    .await?;
    Ok(match certificate(c, serial).await? {
        Some(record) => {
            super::evidence::write(c, records::certificate_revoked(&record, true, now_s)).await?;
            UseOutcome::Granted(record)
        }
        None => UseOutcome::Unknown,
    })
}

use super::PostgresStore;
use super::command::Guard;
use crate::capabilities::Certificates;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Certificates for PostgresStore {
    async fn pin_pki_root(
        &self,
        root_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<[u8; 32], StoreError> {
        self.write(Guard::Nothing, (root_sha256, now_s), |c, d, _| {
            self::pin_root(c, &d.0, d.1).boxed()
        })
        .await
    }

    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError> {
        self.write(Guard::Nothing, certificate, |c, certificate, _| {
            self::insert(c, certificate, None).boxed()
        })
        .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial.to_owned();
        self.read(async move |c| self::certificate(c, &serial).await)
            .await
    }

    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(async |c| self::client_certificates(c, client_id).await)
            .await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        self.write(
            Guard::Nothing,
            (serial.to_owned(), reason, now_s),
            |c, d, _| self::revoke(c, &d.0, d.1, d.2).boxed(),
        )
        .await
    }

    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(async |c| self::revocations(c, now_s).await).await
    }

    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError> {
        self.write(Guard::Nothing, (serial.to_owned(), now_s), |c, d, _| {
            self::use_once(c, &d.0, d.1).boxed()
        })
        .await
    }
}
