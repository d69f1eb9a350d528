//! The white room's use cases (SPEC capability 4): clients' certificates, their
//! revocation and the CRL, disposable certificates used once, and signatures in a
//! client's name. Keys stay in the keystore; every keystore call runs off the async
//! threads (a token may take a while to answer).

use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_pki::ca::{ClientProfile, Revocation, RevocationReason, serial_from_hex, serial_hex};
use sceau_pki::{DetachedSignature, Issued, KeyLabel, Pki};
use sceau_store::*;
use std::sync::Arc;

/// How long a disposable certificate lives unless asked otherwise.
pub const DISPOSABLE_LIFETIME_S_DEFAULT: i64 = 10 * 60;
/// The longest a disposable certificate may live (the seed: less than one hour).
pub const DISPOSABLE_LIFETIME_S_MAX: i64 = 60 * 60;
/// The shortest, so that it can be used at all.
pub const DISPOSABLE_LIFETIME_S_MIN: i64 = 60;
/// Bytes a phone number is padded to before it is sealed: "+" and 15 digits (E.164).
const PHONE_SEALED_LEN: usize = 16;
/// How long a published CRL is good for (its nextUpdate).
pub const CRL_VALIDITY_S: i64 = 60 * 60;

/// A disposable certificate, just issued: its key stays in the keystore.
pub struct Disposable {
    pub serial: String,
    pub certificate: Issued,
    pub not_after_s: i64,
}

fn unavailable() -> AppError {
    AppError::PkiUnavailable
}

fn unknown_certificate() -> AppError {
    AppError::UnknownCertificate
}

pub(crate) fn pki_error(error: sceau_pki::PkiError) -> AppError {
    pki_failure(error)
}

fn pki_failure(error: sceau_pki::PkiError) -> AppError {
    tracing::error!(%error, "certificate authority or signing keys");
    internal("certificate authority or signing keys")
}

/// A fresh key label: `prefix` and 16 random bytes in hexadecimal.
fn new_label(prefix: &str) -> Result<KeyLabel, AppError> {
    let bytes: [u8; 16] = sceau_crypto::random_bytes();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    KeyLabel::new(&format!("{prefix}-{hex}")).map_err(|_| internal("key label"))
}

/// Runs `work` on the blocking threads.
pub(crate) async fn blocking_pki<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, sceau_pki::PkiError> + Send + 'static,
) -> Result<T, AppError> {
    blocking(work).await
}

/// Runs `work` on the blocking threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, sceau_pki::PkiError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| internal("certificate authority task failed"))?
        .map_err(pki_failure)
}

impl Service {
    pub(crate) fn white_room(&self) -> Result<&Arc<Pki>, AppError> {
        self.pki.as_ref().ok_or_else(unavailable)
    }

    /// A client's certificates, oldest first.
    pub async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, AppError> {
        Ok(self.store.client_certificates(client_id).await?)
    }

    pub async fn certificate(&self, serial: &str) -> Result<CertificateRecord, AppError> {
        self.store
            .certificate(&serial.to_ascii_lowercase())
            .await?
            .ok_or_else(unknown_certificate)
    }

    /// A new client's holder certificate, for a new key, with their phone number sealed
    /// to the authority's escrow key (a fresh envelope every time: two certificates of
    /// one phone cannot be linked). `None` when this server has no white room.
    pub(crate) async fn holder_certificate(
        &self,
        display_name: &str,
        phone: &sceau_domain::PhoneNumber,
    ) -> Result<Option<(NewCertificate, KeyLabel)>, AppError> {
        let Some(pki) = self.pki.clone() else {
            return Ok(None);
        };
        let label = new_label("client")?;
        let now_s = self.now_s();
        // A common name has at most 64 characters (RFC 5280): longer names are cut.
        let name: String = display_name
            .chars()
            .take(sceau_pki::ca::COMMON_NAME_LEN_MAX)
            .collect();
        // Padded to the longest E.164 number, so that the envelope's length says nothing
        // of the number's.
        let mut phone = phone.as_str().as_bytes().to_vec();
        phone.resize(PHONE_SEALED_LEN.max(phone.len()), 0);
        let issued = {
            let label = label.clone();
            blocking(move || {
                let envelope = pki.seal_for_escrow(&phone)?;
                certify_new_key(
                    &pki,
                    &label,
                    &name,
                    ClientProfile::Holder {
                        escrowed_phone: &envelope,
                    },
                    now_s,
                    sceau_pki::ca::CLIENT_VALIDITY_S,
                )
            })
            .await?
        };
        Ok(Some((
            certificate_row(&issued, CertificateKind::Holder, None, &label, None, now_s),
            label,
        )))
    }

    /// A new holder certificate for an enrolled client (one enrolled before the white
    /// room, or whose certificate expired or was revoked): a new key, the phone sealed
    /// anew. Their earlier certificates stay as they are.
    pub async fn issue_holder(&self, client_id: i64) -> Result<CertificateRecord, AppError> {
        let client = self
            .store
            .client(client_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let (certificate, label) = self
            .holder_certificate(&client.display_name, &client.phone)
            .await?
            .ok_or_else(unavailable)?;
        let serial = certificate.serial.clone();
        self.record_or_forget(
            NewCertificate {
                client_id: Some(client_id),
                ..certificate
            },
            label,
        )
        .await?;
        tracing::info!(client_id, serial, "holder certificate issued");
        self.certificate(&serial).await
    }

    /// The phone number sealed in a holder certificate, opened with the authority's
    /// escrow key (an administrator's act: it is logged, the number is not).
    pub async fn reveal_phone(&self, serial: &str) -> Result<String, AppError> {
        let pki = Arc::clone(self.white_room()?);
        let record = self.certificate(serial).await?;
        if record.kind != CertificateKind::Holder {
            return Err(AppError::NoPhoneNumber);
        }
        let phone = blocking(move || {
            let issued = Issued::from_der(&record.der)?;
            let envelope =
                sceau_pki::ca::extension_value(&issued, sceau_pki::ca::ID_ESCROWED_PHONE)
                    .ok_or_else(|| sceau_pki::PkiError::Certificate("no escrowed phone".into()))?;
            pki.open_escrowed(envelope)
        })
        .await?;
        let unpadded: Vec<u8> = phone
            .iter()
            .copied()
            .take_while(|byte| *byte != 0)
            .collect();
        let phone = String::from_utf8(unpadded).map_err(|_| internal("escrowed phone"))?;
        tracing::warn!(serial, "phone number revealed from a certificate");
        Ok(phone)
    }

    /// A client's second certificate: no phone number, naming their first (holder)
    /// certificate, for a key of its own.
    pub async fn issue_pseudonym(&self, client_id: i64) -> Result<CertificateRecord, AppError> {
        let pki = Arc::clone(self.white_room()?);
        if self.store.client(client_id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        let first = self
            .store
            .client_certificates(client_id)
            .await?
            .into_iter()
            .find(|record| record.kind == CertificateKind::Holder && record.revoked_at_s.is_none())
            .ok_or(AppError::NoHolderCertificate)?;
        let label = new_label("pseudonym")?;
        let now_s = self.now_s();
        let issued = {
            let (pki, label, der) = (Arc::clone(&pki), label.clone(), first.der.clone());
            blocking(move || {
                let first = Issued::from_der(&der)?;
                certify_new_key(
                    &pki,
                    &label,
                    PSEUDONYM_NAME,
                    ClientProfile::Pseudonym { first: &first },
                    now_s,
                    sceau_pki::ca::CLIENT_VALIDITY_S,
                )
            })
            .await?
        };
        let serial = serial_hex(&issued);
        let row = certificate_row(
            &issued,
            CertificateKind::Pseudonym,
            Some(client_id),
            &label,
            Some(first.serial.clone()),
            now_s,
        );
        self.record_or_forget(row, label).await?;
        tracing::info!(client_id, serial, "pseudonymous certificate issued");
        self.certificate(&serial).await
    }

    /// Revokes a certificate (the first revocation stands: revoking again answers the
    /// revocation on record); its evidence record names `by`.
    pub async fn revoke_certificate(
        &self,
        serial: &str,
        reason: RevocationReason,
        by: ActedBy,
    ) -> Result<CertificateRecord, AppError> {
        Ok(self.revoke(serial, reason, by).await?.0)
    }

    /// Revokes a certificate; with whether this call revoked it (false: it already was).
    pub(crate) async fn revoke(
        &self,
        serial: &str,
        reason: RevocationReason,
        by: ActedBy,
    ) -> Result<(CertificateRecord, bool), AppError> {
        let serial = serial.to_ascii_lowercase();
        match self
            .store
            .revoke_certificate(&serial, reason.code(), by, self.now_s())
            .await?
        {
            RevokeOutcome::Revoked(record) => {
                tracing::info!(serial, reason = reason.name(), "certificate revoked");
                Ok((record, true))
            }
            RevokeOutcome::AlreadyRevoked(record) => Ok((record, false)),
            RevokeOutcome::Unknown => Err(unknown_certificate()),
        }
    }

    /// The issuing CA's CRL as of now (DER): every revoked certificate not yet expired.
    pub async fn crl(&self) -> Result<Vec<u8>, AppError> {
        let pki = Arc::clone(self.white_room()?);
        let now_s = self.now_s();
        let revoked = self.store.revocations(now_s).await?;
        let entries = revoked
            .iter()
            // A disposable certificate used this second is revoked from the next: it is
            // listed from then on (its one use is already recorded).
            .filter(|record| record.revoked_at_s.is_some_and(|at_s| at_s <= now_s))
            .map(|record| {
                Ok(Revocation {
                    serial: serial_from_hex(&record.serial)
                        .ok_or_else(|| internal("stored serial"))?,
                    at_s: record.revoked_at_s.ok_or_else(|| internal("revocation"))?,
                    reason: record
                        .revocation_reason
                        .and_then(RevocationReason::from_code)
                        .unwrap_or(RevocationReason::Unspecified),
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        // The CRL number grows with time, and within a second with the list's length.
        let number =
            (u64::try_from(now_s).unwrap_or(0) << 20) | (entries.len() as u64).min(0xF_FFFF);
        blocking(move || {
            pki.authority
                .crl(&entries, now_s, now_s + CRL_VALIDITY_S, number)
        })
        .await
    }

    /// Issues a certificate and key for one use, living `lifetime_s` (10 minutes unless
    /// given, never more than an hour). Its one use is [`Service::sign_once`].
    pub async fn issue_disposable(&self, lifetime_s: Option<i64>) -> Result<Disposable, AppError> {
        let lifetime_s = lifetime_s.unwrap_or(DISPOSABLE_LIFETIME_S_DEFAULT);
        if !(DISPOSABLE_LIFETIME_S_MIN..=DISPOSABLE_LIFETIME_S_MAX).contains(&lifetime_s) {
            return Err(AppError::InvalidLifetime(format!(
                "a disposable certificate lives {DISPOSABLE_LIFETIME_S_MIN} to \
                     {DISPOSABLE_LIFETIME_S_MAX} seconds"
            )));
        }
        let pki = Arc::clone(self.white_room()?);
        let label = new_label("disposable")?;
        let now_s = self.now_s();
        let issued = {
            let (pki, label) = (Arc::clone(&pki), label.clone());
            blocking(move || {
                certify_new_key(
                    &pki,
                    &label,
                    "sceau disposable certificate",
                    ClientProfile::Disposable,
                    now_s,
                    lifetime_s,
                )
            })
            .await?
        };
        let row = certificate_row(
            &issued,
            CertificateKind::Disposable,
            None,
            &label,
            None,
            now_s,
        );
        let (serial, not_after_s) = (row.serial.clone(), row.not_after_s);
        self.record_or_forget(row, label).await?;
        Ok(Disposable {
            serial,
            certificate: issued,
            not_after_s,
        })
    }

    /// The one use of a disposable certificate: a detached signature (with a signature
    /// time-stamp) over data whose SHA-256 is `content_digest`. The use is recorded, and
    /// the certificate revoked, before anything is signed; the key is destroyed after.
    pub async fn sign_once(
        &self,
        serial: &str,
        content_digest: [u8; 32],
    ) -> Result<Vec<u8>, AppError> {
        let pki = Arc::clone(self.white_room()?);
        let now_s = self.now_s();
        let record = match self
            .store
            .use_certificate(&serial.to_ascii_lowercase(), now_s)
            .await?
        {
            UseOutcome::Granted(record) => record,
            UseOutcome::AlreadyUsed => return Err(AppError::CertificateUsed),
            UseOutcome::Expired => return Err(AppError::CertificateExpired),
            UseOutcome::NotYetValid => return Err(AppError::CertificateNotYetValid),
            UseOutcome::Revoked => return Err(AppError::CertificateRevoked),
            UseOutcome::NotDisposable => return Err(AppError::NotDisposable),
            UseOutcome::Unknown => {
                return Err(unknown_certificate());
            }
        };
        let label = record
            .key_label
            .as_deref()
            .and_then(|label| KeyLabel::new(label).ok())
            .ok_or_else(|| internal("stored key label"))?;
        let certificate = match Issued::from_der(&record.der) {
            Ok(certificate) => certificate,
            Err(error) => {
                self.destroy_key(label).await;
                return Err(pki_failure(error));
            }
        };
        let signed = sign(
            Arc::clone(&pki),
            label.clone(),
            certificate,
            content_digest,
            now_s,
        )
        .await;
        self.destroy_key(label).await;
        signed
    }

    /// The certificate a client signs under now: their newest holder certificate that is
    /// not revoked and is valid at this time.
    pub(crate) async fn signing_certificate(
        &self,
        client_id: i64,
    ) -> Result<CertificateRecord, AppError> {
        let now_s = self.now_s();
        self.store
            .client_certificates(client_id)
            .await?
            .into_iter()
            .rev()
            .find(|record| record.signs_for(client_id, now_s))
            .ok_or(AppError::NoCertificate)
    }

    /// A detached signature in a client's name, with the key and certificate
    /// [`Service::client_signing_key`] or [`Service::current_signing_key`] gave (each
    /// checks the certificate): the one path to a client's key, with
    /// [`Service::sign_as_clients`]. Only the sealed flows call it, once the client has
    /// typed the seal sent for this very data; the certificate was found theirs,
    /// unrevoked and valid. What signs several things for one seal (an envelope's files
    /// and container) reads and checks its certificate once.
    pub(crate) async fn sign_as_client(
        &self,
        signer: &(KeyLabel, Issued),
        content_digest: [u8; 32],
    ) -> Result<Vec<u8>, AppError> {
        self.sign_as_clients(vec![(signer.clone(), content_digest)])
            .await?
            .pop()
            .ok_or_else(|| internal("a signature missing"))?
    }

    /// [`Service::sign_as_client`] for several signatures at once, each by its own
    /// client's key and for its own seal (the receipts of payments made together): their
    /// time-stamps are signed with one use of the TSA's key. In order, each succeeds or
    /// fails alone, except that a failure of the TSA fails them all.
    pub(crate) async fn sign_as_clients(
        &self,
        signatures: Vec<((KeyLabel, Issued), [u8; 32])>,
    ) -> Result<Vec<Result<Vec<u8>, AppError>>, AppError> {
        let pki = Arc::clone(self.white_room()?);
        let now_s = self.now_s();
        let signed = tokio::task::spawn_blocking(move || {
            let chain = [pki.authority.issuing()];
            let requests: Vec<DetachedSignature<'_>> = signatures
                .iter()
                .map(|((key, certificate), content_digest)| DetachedSignature {
                    key,
                    certificate,
                    chain: &chain,
                    content_digest: *content_digest,
                    signing_time_s: now_s,
                    time_stamp: Some(&pki.tsa),
                })
                .collect();
            sceau_pki::sign_detached_many(Arc::clone(pki.keystore()), &requests)
        })
        .await
        .map_err(|_| internal("certificate authority task failed"))?;
        Ok(signed
            .into_iter()
            .map(|signed| signed.map_err(pki_failure))
            .collect())
    }

    /// The key and certificate a client signs with under `serial` (the one the seal
    /// consented to), for the sealed flows that sign several things at once (a PDF's
    /// PAdES signature, an envelope's container): the certificate must still be theirs,
    /// unrevoked and valid.
    pub(crate) async fn client_signing_key(
        &self,
        client_id: i64,
        serial: &str,
    ) -> Result<(KeyLabel, Issued), AppError> {
        let now_s = self.now_s();
        let record = self
            .store
            .certificate(serial)
            .await?
            .ok_or(AppError::CertificateNotValid)?;
        signing_key_of(&record, client_id, now_s)
    }

    /// The key and certificate a client signs with now, under their current certificate
    /// ([`Service::signing_certificate`]), read once: what a payment's receipt is signed
    /// with (the seal that paid is the consent).
    pub(crate) async fn current_signing_key(
        &self,
        client_id: i64,
    ) -> Result<(KeyLabel, Issued), AppError> {
        let record = self.signing_certificate(client_id).await?;
        signing_key_of(&record, client_id, self.now_s())
    }

    /// Records a certificate issued for the new key `label`; if the recording fails, the
    /// key goes as [`Service::forget_key`] says.
    async fn record_or_forget(
        &self,
        certificate: NewCertificate,
        label: KeyLabel,
    ) -> Result<(), AppError> {
        if let Err(error) = self.store.record_certificate(certificate).await {
            self.forget_key(label, &error).await;
            return Err(error.into());
        }
        Ok(())
    }

    /// Destroys the key of a certificate whose recording failed, unless the store cannot
    /// tell whether it was recorded (a connection lost during the commit): a key left
    /// behind certifies nothing, a certificate without its key is a client who cannot
    /// sign.
    pub(crate) async fn forget_key(&self, label: KeyLabel, error: &StoreError) {
        if matches!(error, StoreError::Unavailable(_)) {
            tracing::warn!("a certificate's recording may have failed: its key is kept");
        } else {
            self.destroy_key(label).await;
        }
    }

    /// Destroys a key no row needs (best effort: a key left behind certifies nothing
    /// once its certificate is revoked or never recorded).
    pub(crate) async fn destroy_key(&self, label: KeyLabel) {
        let Ok(pki) = self.white_room().map(Arc::clone) else {
            return;
        };
        let destroyed = tokio::task::spawn_blocking(move || pki.keystore().destroy(&label)).await;
        if !matches!(destroyed, Ok(Ok(()))) {
            tracing::warn!("a key could not be destroyed");
        }
    }
}

/// The row of a certificate just issued for the key `label`.
fn certificate_row(
    issued: &Issued,
    kind: CertificateKind,
    client_id: Option<i64>,
    label: &KeyLabel,
    names_serial: Option<String>,
    now_s: i64,
) -> NewCertificate {
    let (not_before_s, not_after_s) = issued.validity_s();
    NewCertificate {
        serial: serial_hex(issued),
        kind,
        client_id,
        key_label: Some(label.as_str().to_owned()),
        der: issued.der.clone(),
        not_before_s,
        not_after_s,
        names_serial,
        now_s,
    }
}

/// A new signing key `label` and its certificate; the key is destroyed if it cannot be
/// certified.
fn certify_new_key(
    pki: &Pki,
    label: &KeyLabel,
    common_name: &str,
    profile: ClientProfile<'_>,
    now_s: i64,
    validity_s: i64,
) -> Result<Issued, sceau_pki::PkiError> {
    pki.keystore().generate(label)?;
    let issued = pki
        .authority
        .issue_for_client(label, common_name, profile, now_s, validity_s);
    if issued.is_err() {
        let _ = pki.keystore().destroy(label);
    }
    issued
}

/// The subject of a pseudonymous certificate: no name, only what it is.
const PSEUDONYM_NAME: &str = "sceau pseudonymous certificate";

/// The key and certificate a client's certificate record names, when it is one they may
/// sign under now (a holder certificate of theirs, unrevoked and valid at `now_s`): the
/// check is made here, whoever found the record.
fn signing_key_of(
    record: &CertificateRecord,
    client_id: i64,
    now_s: i64,
) -> Result<(KeyLabel, Issued), AppError> {
    if !record.signs_for(client_id, now_s) {
        return Err(AppError::CertificateNotValid);
    }
    let label = record
        .key_label
        .as_deref()
        .and_then(|label| KeyLabel::new(label).ok())
        .ok_or_else(|| internal("stored key label"))?;
    let certificate = Issued::from_der(&record.der).map_err(pki_failure)?;
    Ok((label, certificate))
}

/// Signs `content_digest` with the key `label` under `certificate`, with the issuing CA
/// in the chain and a signature time-stamp.
async fn sign(
    pki: Arc<Pki>,
    label: KeyLabel,
    certificate: Issued,
    content_digest: [u8; 32],
    now_s: i64,
) -> Result<Vec<u8>, AppError> {
    blocking(move || {
        sceau_pki::sign_detached(
            Arc::clone(pki.keystore()),
            &DetachedSignature {
                key: &label,
                certificate: &certificate,
                chain: &[pki.authority.issuing()],
                content_digest,
                signing_time_s: now_s,
                time_stamp: Some(&pki.tsa),
            },
        )
    })
    .await
}
