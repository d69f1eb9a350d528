//! The notary's envelopes: opened for a disposable certificate, then the signed manifest
//! and each file judged by `sceau_domain::envelope` and applied here. A refusal keeps
//! its reason and is evidence (ETSI EN 319 522's SubmissionRejection).

use crate::StoreError;
use crate::evidence;
use crate::model::*;
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, broken, first, record};
use sceau_domain::envelope::{self, Arrival, Envelope, Manifest};

macro_rules! select {
    () => {
        "SELECT id, public_id, client_id, state, certificate_serial, certificate_expires_at, \
         manifest, manifest_sha256, refusal, created_at, updated_at FROM envelopes "
    };
}

impl Decode for EnvelopeView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let state: String = row.column("state")?;
        Ok(EnvelopeView {
            id: row.column("id")?,
            public_id: row.column("public_id")?,
            client_id: row.column("client_id")?,
            state: EnvelopeState::parse(&state).ok_or_else(|| corrupt("envelope state"))?,
            certificate_serial: row.column("certificate_serial")?,
            certificate_expires_at_s: row.column("certificate_expires_at")?,
            manifest: row.column("manifest")?,
            manifest_sha256: row.column("manifest_sha256")?,
            refusal: row.column("refusal")?,
            files: Vec::new(),
            destinations: Vec::new(),
            created_at_s: row.column("created_at")?,
            updated_at_s: row.column("updated_at")?,
        })
    }
}

impl Decode for EnvelopeFileView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let position: i64 = row.column("position")?;
        let size: i64 = row.column("size")?;
        Ok(EnvelopeFileView {
            position: u32::try_from(position).map_err(|_| corrupt("envelope file position"))?,
            name: row.column("name")?,
            size: u64::try_from(size).map_err(|_| corrupt("envelope file size"))?,
            sha256: row.column("sha256")?,
            received_at_s: row.column("received_at")?,
        })
    }
}

impl Decode for EnvelopeDestinationView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(EnvelopeDestinationView {
            email: row.column("email")?,
            phone: row.column("phone")?,
        })
    }
}

static BY_PUBLIC_ID: Sql = Sql::new(concat!(select!(), "WHERE public_id = $1"));
static FILES: Sql = Sql::new(
    "SELECT position, name, size, sha256, received_at FROM envelope_files \
     WHERE envelope_id = $1 ORDER BY position",
);
static DESTINATIONS: Sql = Sql::new(
    "SELECT email, phone FROM envelope_destinations WHERE envelope_id = $1 ORDER BY position",
);

/// An envelope by its public id, with its files and destinations.
pub(crate) async fn envelope(tx: &impl Tx, public_id: &str) -> Result<Option<EnvelopeView>, Fail> {
    let Some(mut view) = first::<EnvelopeView>(tx, &BY_PUBLIC_ID, args![public_id]).await? else {
        return Ok(None);
    };
    view.files = all(tx, &FILES, args![view.id]).await?;
    view.destinations = all(tx, &DESTINATIONS, args![view.id]).await?;
    Ok(Some(view))
}

static OF_CLIENT: Sql = Sql::new(concat!(
    select!(),
    "WHERE client_id = $1 ORDER BY id DESC LIMIT $2"
));

/// A client's latest envelopes, newest first, up to `limit`, each with its files.
pub(crate) async fn client_envelopes(
    tx: &impl Tx,
    client_id: i64,
    limit: u32,
) -> Result<Vec<EnvelopeView>, Fail> {
    let mut views: Vec<EnvelopeView> = all(tx, &OF_CLIENT, args![client_id, limit]).await?;
    for view in &mut views {
        view.files = all(tx, &FILES, args![view.id]).await?;
        view.destinations = all(tx, &DESTINATIONS, args![view.id]).await?;
    }
    Ok(views)
}

static INSERT: Sql = Sql::new(
    "INSERT INTO envelopes (public_id, client_id, state, certificate_serial, \
     certificate_expires_at, created_at, updated_at) VALUES ($1, $2, 'open', $3, $4, $5, $5)",
);

/// Opens an envelope for its disposable certificate.
pub(crate) async fn create(tx: &impl Tx, new: &NewEnvelope) -> Result<EnvelopeView, Fail> {
    let values = args![
        &new.public_id,
        new.client_id,
        &new.certificate_serial,
        new.certificate_expires_at_s,
        new.now_s
    ];
    tx.execute(&INSERT, values).await?;
    envelope(tx, &new.public_id)
        .await?
        .ok_or_else(|| broken("envelope not found"))
}

fn facts(view: &EnvelopeView) -> Envelope {
    Envelope {
        client_id: view.client_id,
        state: view.state,
        certificate_expires_at_s: view.certificate_expires_at_s,
    }
}

static MOVED: Sql =
    Sql::new("UPDATE envelopes SET state = $2, updated_at = $3 WHERE id = $1 AND state = $4");
static REFUSED: Sql = Sql::new(
    "UPDATE envelopes SET state = 'refused', refusal = $2, updated_at = $3 \
     WHERE id = $1 AND state = $4",
);
static MANIFEST_KEPT: Sql = Sql::new(
    "UPDATE envelopes SET state = 'receiving', manifest = $2, manifest_sha256 = $3, \
     updated_at = $4 WHERE id = $1 AND state = 'open'",
);
static FILE_ROW: Sql = Sql::new(
    "INSERT INTO envelope_files (envelope_id, position, name, size, sha256) \
     VALUES ($1, $2, $3, $4, $5)",
);
static DESTINATION_ROW: Sql = Sql::new(
    "INSERT INTO envelope_destinations (envelope_id, position, email, phone) \
     VALUES ($1, $2, $3, $4)",
);

/// Moves `view` from its state to `to` (on condition it is still in it).
async fn moved(
    tx: &impl Tx,
    view: &EnvelopeView,
    to: EnvelopeState,
    now_s: i64,
) -> Result<(), Fail> {
    let values = args![view.id, to.as_str(), now_s, view.state.as_str()];
    match tx.execute(&MOVED, values).await? {
        1 => Ok(()),
        _ => Err(broken("envelope changed under its lock")),
    }
}

/// Refuses `view` for `refusal`, with its evidence (`sent_sha256`: the manifest's bytes
/// as the station sent them, when the refusal is of the manifest).
async fn refuse(
    tx: &impl Tx,
    view: &EnvelopeView,
    refusal: Refusal,
    sent_sha256: Option<&[u8; 32]>,
    now_s: i64,
) -> Result<(), Fail> {
    let values = args![view.id, refusal.code(), now_s, view.state.as_str()];
    if tx.execute(&REFUSED, values).await? != 1 {
        return Err(broken("envelope changed under its lock"));
    }
    record(
        tx,
        evidence::envelope_refused(view, refusal, sent_sha256, now_s),
    )
    .await?;
    Ok(())
}

/// A signed manifest: [`envelope::on_manifest`] decides, this applies the plan. Accepted,
/// the manifest, its files and its destinations are kept and the files awaited.
pub(crate) async fn sign_manifest(
    tx: &impl Tx,
    signed: &SignedManifest,
) -> Result<(ManifestPlan, Option<EnvelopeView>), Fail> {
    let view = envelope(tx, &signed.public_id).await?;
    let plan = envelope::on_manifest(
        view.as_ref().map(facts).as_ref(),
        signed.client_id,
        &signed.check,
        signed.now_s,
    );
    let (Some(view), now_s) = (view, signed.now_s) else {
        return Ok((plan, None));
    };
    match (plan, &signed.manifest) {
        (ManifestPlan::Accept, Some(manifest)) => keep_manifest(tx, &view, manifest, now_s).await?,
        (ManifestPlan::Accept, None) => return Err(broken("an accepted manifest is missing")),
        (ManifestPlan::Refuse(refusal), _) => {
            refuse(tx, &view, refusal, Some(&signed.sent_sha256), now_s).await?;
        }
        (ManifestPlan::Expire, _) => moved(tx, &view, EnvelopeState::Expired, now_s).await?,
        (ManifestPlan::NotFound | ManifestPlan::NotOpen, _) => return Ok((plan, Some(view))),
    }
    Ok((plan, envelope(tx, &signed.public_id).await?))
}

async fn keep_manifest(
    tx: &impl Tx,
    view: &EnvelopeView,
    manifest: &Manifest,
    now_s: i64,
) -> Result<(), Fail> {
    let canonical = manifest
        .canonical()
        .map_err(|_| broken("an accepted manifest has no canonical form"))?;
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()).into();
    let values = args![view.id, &canonical, &digest, now_s];
    if tx.execute(&MANIFEST_KEPT, values).await? != 1 {
        return Err(broken("envelope changed under its lock"));
    }
    for (position, file) in manifest.files.iter().enumerate() {
        let values = args![
            view.id,
            position,
            file.name.as_str(),
            file.size,
            &file.sha256
        ];
        tx.execute(&FILE_ROW, values).await?;
    }
    for (position, destination) in manifest.destinations.iter().enumerate() {
        let email = destination.email.as_ref().map(|email| email.as_str());
        let phone = destination.phone.as_ref().map(|phone| phone.as_str());
        tx.execute(&DESTINATION_ROW, args![view.id, position, email, phone])
            .await?;
    }
    Ok(())
}

static FILE_RECEIVED: Sql = Sql::new(
    "UPDATE envelope_files SET received_at = $3 \
     WHERE envelope_id = $1 AND position = $2 AND received_at IS NULL",
);

/// A file that arrived whole: [`envelope::on_file`] decides, this applies the plan.
pub(crate) async fn receive_file(
    tx: &impl Tx,
    received: &ReceivedFile,
) -> Result<(FilePlan, Option<EnvelopeView>), Fail> {
    let view = envelope(tx, &received.public_id).await?;
    let entries: Vec<envelope::FileEntry> = match &view {
        Some(view) => view.files.iter().map(entry).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let arrived: Vec<bool> = view
        .iter()
        .flat_map(|view| view.files.iter().map(|file| file.received_at_s.is_some()))
        .collect();
    let now_s = received.now_s;
    let plan = envelope::on_file(
        view.as_ref().map(facts).as_ref(),
        received.client_id,
        &entries,
        &arrived,
        &received.arrival,
        now_s,
    );
    let Some(view) = view else {
        return Ok((plan, None));
    };
    match plan {
        FilePlan::Keep { .. } => {
            let Arrival { index, .. } = received.arrival;
            if tx
                .execute(&FILE_RECEIVED, args![view.id, index, now_s])
                .await?
                != 1
            {
                return Err(broken("envelope file changed under its lock"));
            }
        }
        FilePlan::Refuse(refusal) => refuse(tx, &view, refusal, None, now_s).await?,
        FilePlan::Expire => moved(tx, &view, EnvelopeState::Expired, now_s).await?,
        _ => return Ok((plan, Some(view))),
    }
    Ok((plan, envelope(tx, &received.public_id).await?))
}

/// A stored file row as the domain's entry (its name was checked when the manifest was).
fn entry(file: &EnvelopeFileView) -> Result<envelope::FileEntry, Fail> {
    let name = envelope::FileName::parse(&file.name)
        .map_err(|_| Fail::from(corrupt("envelope file name")))?;
    Ok(envelope::FileEntry {
        name,
        size: file.size,
        sha256: file.sha256,
    })
}
