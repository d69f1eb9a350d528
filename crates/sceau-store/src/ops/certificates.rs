//! The white room's certificates: recorded at enrolment or on their own, revoked, and
//! (disposable ones) used once.

use crate::StoreError;
use crate::evidence;
use crate::model::*;
use crate::shared::{use_refused, use_verdict};
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, broken, first, record, scalar};

macro_rules! columns {
    () => {
        "serial, kind, client_id, key_label, der, not_before, not_after, names_serial, \
         used_at, revoked_at, revocation_reason, created_at"
    };
}

impl Decode for CertificateRecord {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let kind: String = row.column("kind")?;
        Ok(CertificateRecord {
            serial: row.column("serial")?,
            kind: CertificateKind::parse(&kind).ok_or_else(|| corrupt("certificate kind"))?,
            client_id: row.column("client_id")?,
            key_label: row.column("key_label")?,
            der: row.column("der")?,
            not_before_s: row.column("not_before")?,
            not_after_s: row.column("not_after")?,
            names_serial: row.column("names_serial")?,
            used_at_s: row.column("used_at")?,
            revoked_at_s: row.column("revoked_at")?,
            revocation_reason: row.column("revocation_reason")?,
            created_at_s: row.column("created_at")?,
        })
    }
}

static INSERT: Sql = Sql::new(concat!(
    "INSERT INTO certificates (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, $9)"
));

/// Inserts `certificate` (for `client_id` when given, else its own) and its record.
pub(crate) async fn insert(
    tx: &impl Tx,
    certificate: &NewCertificate,
    client_id: Option<i64>,
) -> Result<(), Fail> {
    let client_id = client_id.or(certificate.client_id);
    let values = args![
        &certificate.serial,
        certificate.kind.as_str(),
        client_id,
        &certificate.key_label,
        &certificate.der,
        certificate.not_before_s,
        certificate.not_after_s,
        &certificate.names_serial,
        certificate.now_s
    ];
    match tx.execute(&INSERT, values).await {
        Err(fail)
            if fail.is_unique_violation("certificates.key_label", "certificates_key_label_key") =>
        {
            Err(StoreError::Conflict("certificate_key_taken").into())
        }
        Err(fail) if fail.is_unique_violation("certificates.serial", "certificates_pkey") => {
            Err(StoreError::Conflict("certificate_serial_taken").into())
        }
        Err(fail) => Err(fail),
        Ok(_) => {
            record(tx, evidence::certificate_issued(certificate, client_id)).await?;
            Ok(())
        }
    }
}

static PIN: Sql = Sql::new(
    "INSERT INTO pki_root (id, root_sha256, created_at) VALUES (1, $1, $2) \
     ON CONFLICT (id) DO NOTHING",
);
static PINNED: Sql = Sql::new("SELECT root_sha256 FROM pki_root WHERE id = 1");

/// Pins the PKI's root on first use; the root pinned, whichever it is.
pub(crate) async fn pin_root(
    tx: &impl Tx,
    root_sha256: &[u8; 32],
    now_s: i64,
) -> Result<[u8; 32], Fail> {
    tx.execute(&PIN, args![root_sha256, now_s]).await?;
    scalar(tx, &PINNED, args![], "root_sha256")
        .await?
        .ok_or_else(|| broken("the PKI root was not pinned"))
}

static BY_SERIAL: Sql = Sql::new(concat!(
    "SELECT ",
    columns!(),
    " FROM certificates WHERE serial = $1"
));

/// A certificate by serial.
pub(crate) async fn certificate(
    tx: &impl Tx,
    serial: &str,
) -> Result<Option<CertificateRecord>, Fail> {
    first(tx, &BY_SERIAL, args![serial]).await
}

static OF_CLIENT: Sql = Sql::new(concat!(
    "SELECT ",
    columns!(),
    " FROM certificates WHERE client_id = $1 ORDER BY created_at, serial"
));

/// A client's certificates, oldest first.
pub(crate) async fn client_certificates(
    tx: &impl Tx,
    client_id: i64,
) -> Result<Vec<CertificateRecord>, Fail> {
    all(tx, &OF_CLIENT, args![client_id]).await
}

static REVOKE: Sql = Sql::new(
    "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 \
     WHERE serial = $1 AND revoked_at IS NULL",
);

/// Revokes a certificate for `reason` (an RFC 5280 reason code), once; its record names
/// who revoked it (`None`: the service itself).
pub(crate) async fn revoke(
    tx: &impl Tx,
    serial: &str,
    reason: u8,
    by: Option<&ActedBy>,
    now_s: i64,
) -> Result<RevokeOutcome, Fail> {
    let changed = tx.execute(&REVOKE, args![serial, now_s, reason]).await?;
    Ok(match certificate(tx, serial).await? {
        None => RevokeOutcome::Unknown,
        Some(record) if changed == 1 => {
            let revoked = evidence::certificate_revoked(&record, false, by, now_s);
            crate::tx::record(tx, revoked).await?;
            RevokeOutcome::Revoked(record)
        }
        Some(record) => RevokeOutcome::AlreadyRevoked(record),
    })
}

static REVOKED: Sql = Sql::new(concat!(
    "SELECT ",
    columns!(),
    " FROM certificates WHERE revoked_at IS NOT NULL AND not_after >= $1 ORDER BY serial"
));

/// The revoked certificates not yet expired at `now_s` (a CRL's entries).
pub(crate) async fn revocations(tx: &impl Tx, now_s: i64) -> Result<Vec<CertificateRecord>, Fail> {
    all(tx, &REVOKED, args![now_s]).await
}

/// The certificate, held against a revocation until the transaction ends (PostgreSQL:
/// a revocation's update waits for it, or it for the revocation).
static HELD: Sql = Sql::each(
    concat!(
        "SELECT ",
        columns!(),
        " FROM certificates WHERE serial = $1 FOR SHARE"
    ),
    concat!(
        "SELECT ",
        columns!(),
        " FROM certificates WHERE serial = ?1"
    ),
);

/// The certificate `serial`, which no revocation can change before this transaction
/// ends (SQLite has one writer; PostgreSQL holds its row).
pub(crate) async fn certificate_held(
    tx: &impl Tx,
    serial: &str,
) -> Result<Option<CertificateRecord>, Fail> {
    first(tx, &HELD, args![serial]).await
}

/// The certificate, locked while its one use is judged (PostgreSQL: two instances using
/// it at once take turns, and the second finds it used).
static FOR_USE: Sql = Sql::each(
    concat!(
        "SELECT ",
        columns!(),
        " FROM certificates WHERE serial = $1 FOR UPDATE"
    ),
    concat!(
        "SELECT ",
        columns!(),
        " FROM certificates WHERE serial = ?1"
    ),
);
static USE: Sql = Sql::new(
    "UPDATE certificates SET used_at = $2, revoked_at = $3, revocation_reason = $4 \
     WHERE serial = $1 AND used_at IS NULL AND revoked_at IS NULL",
);

/// A disposable certificate's one use: [`use_verdict`] decides, this applies it. Only a
/// certificate of `kind` (disposable, or a station's) may be used.
pub(crate) async fn use_once(
    tx: &impl Tx,
    serial: &str,
    kind: CertificateKind,
    now_s: i64,
) -> Result<UseOutcome, Fail> {
    let Some(found) = first::<CertificateRecord>(tx, &FOR_USE, args![serial]).await? else {
        return Ok(UseOutcome::Unknown);
    };
    let used = match use_verdict(&found, kind, now_s) {
        Ok(used) => used,
        Err(refusal) => return Ok(use_refused(refusal)),
    };
    let values = args![serial, used.used_at_s, used.revoked_at_s, used.reason];
    if tx.execute(&USE, values).await? != 1 {
        return Ok(UseOutcome::AlreadyUsed);
    }
    Ok(match certificate(tx, serial).await? {
        Some(record) => {
            crate::tx::record(
                tx,
                evidence::certificate_revoked(&record, true, None, now_s),
            )
            .await?;
            UseOutcome::Granted(record)
        }
        None => UseOutcome::Unknown,
    })
}
