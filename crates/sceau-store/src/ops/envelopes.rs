//! The notary's envelopes: opened for a disposable certificate, then the signed manifest
//! and each file judged by `sceau_domain::envelope` and applied here. A refusal keeps
//! its reason and is evidence (ETSI EN 319 522's SubmissionRejection).

use crate::StoreError;
use crate::evidence;
use crate::model::*;
use crate::ops::certificates;
use crate::ops::clients::{count_client_failure, forget_client_failures};
use crate::ops::outbox::{budget_allows, enqueue};
use crate::ops::reads::{client, session_client};
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, broken, first, record};
use sceau_domain::envelope::{self, Arrival, Envelope, Manifest};
use sceau_domain::reach::MessageKind;
use sceau_domain::signature::{self, SealTyped, SignaturePlan, SignatureState};

macro_rules! select {
    () => {
        "SELECT id, public_id, client_id, state, certificate_serial, certificate_expires_at, \
         manifest, manifest_sha256, manifest_signature, refusal, signer_serial, seal_nonce, seal_digits, \
         seal_issued_at, seal_expires_at, wrong_tries, waiting, container_sha256, \
         container_size, container_manifest, container_signature, retain_until, notarized_at, deleted_at, created_at, updated_at \
         FROM envelopes "
    };
}

/// An archived object from its two columns (both or neither).
fn object_of(
    sha256: Option<[u8; 32]>,
    size: Option<i64>,
) -> Result<Option<ArchivedObject>, StoreError> {
    match (sha256, size) {
        (Some(sha256), Some(size)) => Ok(Some(ArchivedObject {
            sha256,
            size: u64::try_from(size).map_err(|_| corrupt("archived object size"))?,
        })),
        (None, None) => Ok(None),
        _ => Err(corrupt("archived object")),
    }
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
            manifest_signature: row.column("manifest_signature")?,
            refusal: row.column("refusal")?,
            files: Vec::new(),
            destinations: Vec::new(),
            signer_serial: row.column("signer_serial")?,
            seal: match (
                row.column::<Option<[u8; 16]>>("seal_nonce")?,
                row.column::<Option<i64>>("seal_digits")?,
                row.column::<Option<i64>>("seal_issued_at")?,
                row.column::<Option<i64>>("seal_expires_at")?,
            ) {
                (Some(nonce), Some(digits), Some(issued_at_s), Some(expires_at_s)) => {
                    Some(StoredSeal {
                        nonce,
                        digits: u8::try_from(digits).map_err(|_| corrupt("seal digits"))?,
                        issued_at_s,
                        expires_at_s,
                    })
                }
                (None, None, None, None) => None,
                _ => return Err(corrupt("envelope seal")),
            },
            wrong_tries: u32::try_from(row.column::<i64>("wrong_tries")?)
                .map_err(|_| corrupt("wrong tries"))?,
            waiting: row.column("waiting")?,
            container: object_of(
                row.column("container_sha256")?,
                row.column("container_size")?,
            )?,
            container_manifest: row.column("container_manifest")?,
            container_signature: row.column("container_signature")?,
            retain_until_s: row.column("retain_until")?,
            notarized_at_s: row.column("notarized_at")?,
            deleted_at_s: row.column("deleted_at")?,
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
            signature: row.column("signature")?,
            signed_at_s: row.column("signed_at")?,
            signed_pdf: object_of(
                row.column("signed_pdf_sha256")?,
                row.column("signed_pdf_size")?,
            )?,
            pdf_note: row.column("pdf_note")?,
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
    "SELECT position, name, size, sha256, received_at, signature, signed_at, \
     signed_pdf_sha256, signed_pdf_size, pdf_note FROM envelope_files \
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

static OF_CLIENT_ONE_FILE: Sql = Sql::new(concat!(
    select!(),
    "WHERE client_id = $1 \
     AND (SELECT count(*) FROM envelope_files f WHERE f.envelope_id = envelopes.id) = 1 \
     ORDER BY id DESC LIMIT $2"
));

/// A client's latest envelopes, newest first, up to `limit`, each with its files; of one
/// file only if `one_file`.
pub(crate) async fn client_envelopes(
    tx: &impl Tx,
    client_id: i64,
    one_file: bool,
    limit: u32,
) -> Result<Vec<EnvelopeView>, Fail> {
    let statement = if one_file {
        &OF_CLIENT_ONE_FILE
    } else {
        &OF_CLIENT
    };
    let mut views: Vec<EnvelopeView> = all(tx, statement, args![client_id, limit]).await?;
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

pub(crate) static OPEN_OF_CLIENT: Sql = Sql::new(
    "SELECT count(*) AS n FROM envelopes WHERE client_id = $1 \
     AND state IN ('open', 'receiving') AND certificate_expires_at > $2",
);

/// Opens an envelope for its disposable certificate, recorded with it.
pub(crate) async fn create(tx: &impl Tx, new: &NewEnvelope) -> Result<EnvelopeView, Fail> {
    if new.certificate.kind != CertificateKind::Station || new.certificate.key_label.is_some() {
        return Err(broken("an envelope's certificate is a station's"));
    }
    let open: Option<i64> = crate::tx::scalar(
        tx,
        &OPEN_OF_CLIENT,
        args![new.client_id, new.certificate.now_s],
        "n",
    )
    .await?;
    if open.unwrap_or(0) >= i64::from(new.open_max) {
        return Err(StoreError::Conflict("too_many_open_envelopes").into());
    }
    certificates::insert(tx, &new.certificate, None).await?;
    let values = args![
        &new.public_id,
        new.client_id,
        &new.certificate.serial,
        new.certificate.not_after_s,
        new.certificate.now_s
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
     updated_at = $4, manifest_signature = $5 WHERE id = $1 AND state = 'open'",
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
        (ManifestPlan::Accept, Some(manifest)) => {
            keep_manifest(tx, &view, manifest, &signed.signature, now_s).await?
        }
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
    signature: &[u8],
    now_s: i64,
) -> Result<(), Fail> {
    let canonical = manifest
        .canonical()
        .map_err(|_| broken("an accepted manifest has no canonical form"))?;
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()).into();
    let values = args![view.id, &canonical, &digest, now_s, signature];
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

/// A file that arrived whole: [`envelope::on_file`] decides, this applies the plan. The
/// last file completes the submission: the station's certificate is used and revoked,
/// the submission's evidence recorded and the seal sent (if the client's budget allows
/// it: otherwise the envelope awaits a seal asked for again).
pub(crate) async fn receive_file(
    tx: &impl Tx,
    received: &ReceivedFile,
) -> Result<FileReceipt, Fail> {
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
    let receipt = |plan, view| FileReceipt {
        plan,
        view,
        seal_throttled: None,
    };
    let Some(view) = view else {
        return Ok(receipt(plan, None));
    };
    let mut throttled = None;
    let mut plan = plan;
    match plan {
        FilePlan::Keep { last } => {
            let Arrival { index, .. } = received.arrival;
            if tx
                .execute(&FILE_RECEIVED, args![view.id, index, now_s])
                .await?
                != 1
            {
                return Err(broken("envelope file changed under its lock"));
            }
            if last {
                match complete(tx, &view, received.seal.as_ref(), now_s).await? {
                    Completed::SealSent => {}
                    Completed::Throttled(too_many) => throttled = Some(too_many),
                    Completed::CertificateUnusable => {
                        plan = FilePlan::Refuse(Refusal::CertificateUnusable);
                    }
                }
            }
        }
        FilePlan::Refuse(refusal) => refuse(tx, &view, refusal, None, now_s).await?,
        FilePlan::Expire => moved(tx, &view, EnvelopeState::Expired, now_s).await?,
        _ => return Ok(receipt(plan, Some(view))),
    }
    Ok(FileReceipt {
        plan,
        view: envelope(tx, &received.public_id).await?,
        seal_throttled: throttled,
    })
}

enum Completed {
    SealSent,
    Throttled(sceau_domain::reach::TooMany),
    CertificateUnusable,
}

static SUBMITTED: Sql = Sql::new(
    "UPDATE envelopes SET state = 'awaiting_seal', signer_serial = $2, updated_at = $3 \
     WHERE id = $1 AND state = 'receiving'",
);

/// Every file is in: the station's certificate's one use (and its revocation), the
/// submission's evidence, and the seal.
async fn complete(
    tx: &impl Tx,
    view: &EnvelopeView,
    seal: Option<&PreparedEnvelopeSeal>,
    now_s: i64,
) -> Result<Completed, Fail> {
    let Some(seal) = seal else {
        return Err(broken("the last file came without its seal"));
    };
    let used = certificates::use_once(
        tx,
        &view.certificate_serial,
        CertificateKind::Station,
        now_s,
    )
    .await?;
    if !matches!(used, UseOutcome::Granted(_)) {
        refuse(tx, view, Refusal::CertificateUnusable, None, now_s).await?;
        return Ok(Completed::CertificateUnusable);
    }
    let values = args![view.id, &seal.signer_serial, now_s];
    if tx.execute(&SUBMITTED, values).await? != 1 {
        return Err(broken("envelope changed under its lock"));
    }
    let view = envelope(tx, &view.public_id)
        .await?
        .ok_or_else(|| broken("envelope vanished"))?;
    record(tx, evidence::envelope_submitted(&view, now_s)).await?;
    send_seal(tx, &view, seal, now_s).await
}

static SEAL_SET: Sql = Sql::new(
    "UPDATE envelopes SET seal_nonce = $2, seal_digits = $3, seal_issued_at = $4, \
     seal_expires_at = $5, updated_at = $6 WHERE id = $1 AND state = 'awaiting_seal'",
);

/// Sends `seal` for an envelope awaiting one, if the client's budget allows it.
async fn send_seal(
    tx: &impl Tx,
    view: &EnvelopeView,
    seal: &PreparedEnvelopeSeal,
    now_s: i64,
) -> Result<Completed, Fail> {
    let (address, kind) = (&seal.message.address, MessageKind::SignatureSeal);
    if let Err(too_many) = budget_allows(tx, address, kind, None, &seal.budget, now_s).await? {
        return Ok(Completed::Throttled(too_many));
    }
    let stored = &seal.seal;
    let values = args![
        view.id,
        &stored.nonce,
        stored.digits,
        stored.issued_at_s,
        stored.expires_at_s,
        now_s
    ];
    if tx.execute(&SEAL_SET, values).await? != 1 {
        return Err(broken("envelope changed under its lock"));
    }
    enqueue(tx, &seal.message, kind, None, now_s).await?;
    record(tx, evidence::envelope_seal_sent(view, stored, now_s)).await?;
    Ok(Completed::SealSent)
}

/// A new seal for an envelope awaiting one (the previous one, if any, is void).
pub(crate) async fn resend_seal(
    tx: &impl Tx,
    resend: &EnvelopeSealResend,
) -> Result<EnvelopeResendOutcome, Fail> {
    let Some(view) = envelope(tx, &resend.public_id)
        .await?
        .filter(|view| view.client_id == resend.client_id)
    else {
        return Ok(EnvelopeResendOutcome::NotFound);
    };
    if view.state != EnvelopeState::AwaitingSeal
        || view.signer_serial.as_deref() != Some(resend.seal.signer_serial.as_str())
    {
        return Ok(EnvelopeResendOutcome::NotAwaiting(Box::new(view)));
    }
    match send_seal(tx, &view, &resend.seal, resend.now_s).await? {
        Completed::Throttled(too_many) => Ok(EnvelopeResendOutcome::Throttled(too_many)),
        _ => {
            let view = envelope(tx, &resend.public_id)
                .await?
                .ok_or_else(|| broken("envelope vanished"))?;
            Ok(EnvelopeResendOutcome::Sent(Box::new(view)))
        }
    }
}

/// The envelope as the seal's rules see it (those of a signature request: an envelope
/// awaiting its seal is a request awaiting its seal).
fn seal_facts(view: &EnvelopeView) -> signature::Request {
    let state = match view.state {
        EnvelopeState::AwaitingSeal => SignatureState::AwaitingSeal,
        EnvelopeState::Failed => SignatureState::Failed,
        EnvelopeState::Notarized => SignatureState::Signed,
        _ => SignatureState::Sealed,
    };
    // No seal sent (the budget refused it): no seal can be right; judged as expired.
    let (issued_at_s, expires_at_s) = view
        .seal
        .as_ref()
        .map_or((0, 0), |seal| (seal.issued_at_s, seal.expires_at_s));
    signature::Request {
        client_id: view.client_id,
        state,
        issued_at_s,
        expires_at_s,
        wrong_tries: view.wrong_tries,
    }
}

static SEAL_JUDGED: Sql = Sql::new(
    "UPDATE envelopes SET wrong_tries = wrong_tries + $2, state = $3, updated_at = $5 \
     WHERE id = $1 AND state = $4",
);

/// A typed seal: [`signature::on_typed_seal`] decides, this applies its plan.
pub(crate) async fn type_seal(
    tx: &impl Tx,
    typed: &TypedEnvelopeSeal,
) -> Result<EnvelopeSealOutcome, Fail> {
    let now_s = typed.now_s;
    let session_client = session_client(tx, &typed.session_token_hash, now_s).await?;
    let view = envelope(tx, &typed.public_id).await?;
    let holder = match session_client {
        Some(client_id) => client(tx, client_id).await?,
        None => None,
    };
    let facts = view.as_ref().map(seal_facts);
    let plan = signature::on_typed_seal(&SealTyped {
        request: facts.as_ref(),
        session_client,
        client_may_pay: holder.is_some_and(|holder| !holder.stopped(now_s)),
        matched: view.as_ref().is_some_and(|view| (typed.check)(view)),
        now_s,
    });
    let Some(view) = view else {
        return Ok(EnvelopeSealOutcome::NotFound);
    };
    let Some((tries_added, state)) = plan.change() else {
        return Ok(match plan {
            SignaturePlan::NotAwaiting => EnvelopeSealOutcome::NotAwaiting(Box::new(view)),
            SignaturePlan::ClientStopped => EnvelopeSealOutcome::ClientStopped,
            SignaturePlan::Expired => EnvelopeSealOutcome::Expired,
            _ => EnvelopeSealOutcome::NotFound,
        });
    };
    let to = match state {
        SignatureState::AwaitingSeal => EnvelopeState::AwaitingSeal,
        SignatureState::Sealed => EnvelopeState::Sealed,
        _ => EnvelopeState::Failed,
    };
    let values = args![
        view.id,
        tries_added,
        to.as_str(),
        view.state.as_str(),
        now_s
    ];
    if tx.execute(&SEAL_JUDGED, values).await? != 1 {
        return Err(broken("envelope changed under its writer"));
    }
    record(
        tx,
        evidence::envelope_seal_judged(&view, plan.tries_left(), now_s),
    )
    .await?;
    let client_id = view.client_id;
    let reread = async || {
        envelope(tx, &view.public_id)
            .await?
            .map(Box::new)
            .ok_or_else(|| broken("envelope vanished"))
    };
    Ok(match plan {
        SignaturePlan::Wrong { tries_left } => EnvelopeSealOutcome::Wrong {
            tries_left,
            paused: count_client_failure(tx, client_id, now_s).await?,
        },
        SignaturePlan::Seal => {
            forget_client_failures(tx, client_id).await?;
            EnvelopeSealOutcome::Sealed(reread().await?)
        }
        _ => {
            let paused = count_client_failure(tx, client_id, now_s).await?;
            EnvelopeSealOutcome::Failed {
                view: reread().await?,
                paused,
            }
        }
    })
}

static LOCK_ENVELOPE: Sql = Sql::each(
    "SELECT id FROM envelopes WHERE public_id = $1 FOR UPDATE",
    "SELECT id FROM envelopes WHERE public_id = ?1",
);
static FILE_SIGNED: Sql = Sql::new(
    "UPDATE envelope_files SET signature = $3, signed_at = $4, signed_pdf_sha256 = $5, \
     signed_pdf_size = $6, pdf_note = $7 WHERE envelope_id = $1 AND position = $2",
);
static NOTARIZED: Sql = Sql::new(
    "UPDATE envelopes SET state = 'notarized', waiting = NULL, container_sha256 = $2, \
     container_size = $3, retain_until = $4, notarized_at = $5, updated_at = $5, \
     container_manifest = $6, container_signature = $7 WHERE id = $1 AND state = 'sealed'",
);

/// Why a sealed envelope fails when the certificate its seal consented to is no longer
/// one its client may sign under.
pub const SIGNER_NOT_VALID: &str =
    "the certificate the seal consented to is revoked or expired: no signature was given";

/// A sealed envelope, signed and archived, becomes notarized with its evidence; false
/// when it was not sealed (another instance notarized it first: theirs stands), or when
/// the certificate its seal consented to was revoked or ended while the signatures were
/// made (checked here, where no revocation can come between: the envelope fails, saying
/// why, and what was made expires with its day of retention).
pub(crate) async fn notarize(tx: &impl Tx, notarized: &NotarizedEnvelope) -> Result<bool, Fail> {
    // On PostgreSQL the envelope's row is locked first: two instances notarizing it at
    // once take turns, and the second finds it notarized (SQLite has one writer).
    let _locked: Option<i64> =
        crate::tx::scalar(tx, &LOCK_ENVELOPE, args![&notarized.public_id], "id").await?;
    let Some(view) = envelope(tx, &notarized.public_id).await? else {
        return Ok(false);
    };
    if view.state != EnvelopeState::Sealed {
        return Ok(false);
    }
    if notarized.files.len() != view.files.len() {
        return Err(broken("an envelope notarized without all its files"));
    }
    let now_s = notarized.now_s;
    let signer = match &view.signer_serial {
        Some(serial) => certificates::certificate_held(tx, serial).await?,
        None => None,
    };
    let valid = |at_s| {
        signer
            .as_ref()
            .is_some_and(|signer| signer.signs_for(view.client_id, at_s))
    };
    if !(valid(now_s) && valid(notarized.kept_at_s)) {
        let at_s = notarized.kept_at_s.max(now_s);
        fail_sealed(tx, &view.public_id, SIGNER_NOT_VALID, at_s).await?;
        return Ok(false);
    }
    for (file, signed) in view.files.iter().zip(&notarized.files) {
        if file.position != signed.position {
            return Err(broken("an envelope's files signed out of order"));
        }
        let pdf = signed.signed_pdf;
        let values = args![
            view.id,
            file.position,
            &signed.signature,
            now_s,
            pdf.as_ref().map(|pdf| &pdf.sha256[..]),
            pdf.map(|pdf| pdf.size),
            &signed.pdf_note
        ];
        tx.execute(&FILE_SIGNED, values).await?;
        record(
            tx,
            evidence::envelope_file_signed(&view, file, signed, now_s),
        )
        .await?;
    }
    let container = notarized.container;
    let values = args![
        view.id,
        &container.sha256,
        container.size,
        notarized.retain_until_s,
        now_s,
        &notarized.container_manifest,
        &notarized.container_signature
    ];
    if tx.execute(&NOTARIZED, values).await? != 1 {
        return Err(broken("envelope changed under its lock"));
    }
    // Everything the envelope names is kept as long as the envelope, in this transaction:
    // until now its files were kept a day past the station's certificate and what was
    // made a day, so that nothing is kept for years unless it became an envelope's. In
    // the order of their digests, each once: two notarizations naming the same objects
    // take their rows' locks in one order (PostgreSQL).
    let objects: std::collections::BTreeSet<[u8; 32]> = view
        .files
        .iter()
        .map(|file| file.sha256)
        .chain(
            notarized
                .files
                .iter()
                .filter_map(|f| f.signed_pdf)
                .map(|o| o.sha256),
        )
        .chain([container.sha256])
        .collect();
    for sha256 in objects {
        crate::ops::archive::retain(tx, &sha256, notarized.retain_until_s).await?;
    }
    record(tx, evidence::envelope_archived(&view, notarized)).await?;
    Ok(true)
}

static WAITING: Sql = Sql::new(
    "UPDATE envelopes SET waiting = $2, updated_at = $3 WHERE public_id = $1 AND state = 'sealed'",
);

/// Says why a sealed envelope is not notarized yet.
pub(crate) async fn wait(
    tx: &impl Tx,
    public_id: &str,
    why: &str,
    now_s: i64,
) -> Result<bool, Fail> {
    Ok(tx.execute(&WAITING, args![public_id, why, now_s]).await? == 1)
}

static SEALED_FAILED: Sql = Sql::new(
    "UPDATE envelopes SET state = 'failed', waiting = $2, updated_at = $3 \
     WHERE public_id = $1 AND state = 'sealed'",
);

/// A sealed envelope that can never be signed (the certificate the seal consented to is
/// no longer valid) fails, saying why, with its evidence (`envelope.failed`).
pub(crate) async fn fail_sealed(
    tx: &impl Tx,
    public_id: &str,
    why: &str,
    now_s: i64,
) -> Result<bool, Fail> {
    let Some(view) = envelope(tx, public_id).await? else {
        return Ok(false);
    };
    if tx
        .execute(&SEALED_FAILED, args![public_id, why, now_s])
        .await?
        != 1
    {
        return Ok(false);
    }
    record(tx, evidence::envelope_failed(&view, why, now_s)).await?;
    Ok(true)
}

static PAST_RETENTION: Sql = Sql::new(concat!(
    select!(),
    "WHERE retain_until IS NOT NULL AND deleted_at IS NULL AND retain_until <= $1 \
     ORDER BY retain_until, id LIMIT $2"
));

/// Notarized envelopes whose retention ended by `now_s`, the longest past first.
pub(crate) async fn past_retention(
    tx: &impl Tx,
    now_s: i64,
    limit: u32,
) -> Result<Vec<EnvelopeView>, Fail> {
    let mut views: Vec<EnvelopeView> = all(tx, &PAST_RETENTION, args![now_s, limit]).await?;
    for view in &mut views {
        view.files = all(tx, &FILES, args![view.id]).await?;
    }
    Ok(views)
}

static DELETED: Sql = Sql::new(
    "UPDATE envelopes SET deleted_at = $2, updated_at = $2 \
     WHERE public_id = $1 AND deleted_at IS NULL AND retain_until IS NOT NULL \
     AND retain_until <= $2",
);

/// Records that an envelope's archived content was deleted after its retention.
pub(crate) async fn deleted(tx: &impl Tx, public_id: &str, now_s: i64) -> Result<bool, Fail> {
    if tx.execute(&DELETED, args![public_id, now_s]).await? != 1 {
        return Ok(false);
    }
    let view = envelope(tx, public_id)
        .await?
        .ok_or_else(|| broken("envelope vanished"))?;
    record(tx, evidence::envelope_deleted(&view, now_s)).await?;
    Ok(true)
}

static CONTENT_IN_USE: Sql = Sql::new(
    "SELECT count(*) AS n FROM envelope_files f JOIN envelopes e ON e.id = f.envelope_id \
     WHERE e.public_id <> $1 AND e.deleted_at IS NULL \
     AND e.state NOT IN ('refused', 'expired', 'failed') \
     AND (f.sha256 = $2 OR f.signed_pdf_sha256 = $2 OR e.container_sha256 = $2)",
);

/// Whether content another live envelope names is `sha256` (a refused envelope's files
/// are deleted from the archive only when no other envelope needs them).
pub(crate) async fn content_in_use(
    tx: &impl Tx,
    public_id: &str,
    sha256: &[u8; 32],
) -> Result<bool, Fail> {
    let n: Option<i64> =
        crate::tx::scalar(tx, &CONTENT_IN_USE, args![public_id, sha256], "n").await?;
    Ok(n.unwrap_or(0) > 0)
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

static STALE: Sql = Sql::new(concat!(
    select!(),
    "WHERE (state IN ('open', 'receiving') AND certificate_expires_at + $2 <= $1) \
     OR (state = 'awaiting_seal' AND COALESCE(seal_expires_at, certificate_expires_at) + $2 <= $1) \
     ORDER BY id LIMIT $3"
));
static STALE_EXPIRED: Sql = Sql::new(
    "UPDATE envelopes SET state = 'expired', updated_at = $3 WHERE id = $1 AND state = $2",
);

/// Envelopes never finished: open or receiving `grace_s` past their station
/// certificate's end, or awaiting a seal `grace_s` past its end (or the certificate's,
/// when none was sent), become expired, each with its evidence; how many.
pub(crate) async fn expire_stale(
    tx: &impl Tx,
    now_s: i64,
    grace_s: i64,
    limit: u32,
) -> Result<u64, Fail> {
    let stale: Vec<EnvelopeView> = all(tx, &STALE, args![now_s, grace_s, limit]).await?;
    let mut expired = 0;
    for view in stale {
        let values = args![view.id, view.state.as_str(), now_s];
        if tx.execute(&STALE_EXPIRED, values).await? == 1 {
            record(tx, evidence::envelope_expired(&view, now_s)).await?;
            expired += 1;
        }
    }
    Ok(expired)
}
