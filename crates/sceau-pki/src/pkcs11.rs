//! [`Pkcs11Keystore`]: the keys in a PKCS#11 token (an HSM; SoftHSM2 in the tests).
//!
//! Each key is a pair of token objects with the same `CKA_LABEL`: a private key created
//! sensitive and not extractable (the token refuses to export it), and its public key.
//! A signing key's private half has `CKA_SIGN` and not `CKA_DERIVE`; an agreement key's the
//! reverse, so the token itself refuses the other use. Signing hands the SHA-256 digest
//! to the token (`CKM_ECDSA`), which answers `r || s`. Agreement derives the shared
//! secret with `CKM_ECDH1_DERIVE` (no KDF) into a short-lived session object, reads it and
//! destroys it.

use crate::keystore::{KeyLabel, Keystore, KeystoreError};
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use std::path::Path;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// DER of the named curve P-256 (prime256v1, 1.2.840.10045.3.1.7): `CKA_EC_PARAMS`.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Sessions kept open for reuse; more are opened when all are busy.
const IDLE_SESSIONS_MAX: usize = 8;

fn failed(error: CkError) -> KeystoreError {
    KeystoreError::Unavailable(format!("PKCS#11: {error}"))
}

/// A failure of an operation on the key `label`, where the token's refusal to use the key
/// this way (its `CKA_SIGN` or `CKA_DERIVE` is false) is a [`KeystoreError::WrongUse`].
fn failed_use(label: &KeyLabel) -> impl Fn(CkError) -> KeystoreError + '_ {
    move |error| match error {
        CkError::Pkcs11(RvError::KeyFunctionNotPermitted, _) => {
            KeystoreError::WrongUse(label.clone())
        }
        error => failed(error),
    }
}

/// What a key pair is made for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyUse {
    Signing,
    Agreement,
}

/// A PKCS#11 token used as sceau's keystore: the module (a shared library), the token
/// (found by its label) and the user PIN.
pub struct Pkcs11Keystore {
    context: Pkcs11,
    slot: Slot,
    pin: AuthPin,
    idle: Mutex<Vec<Session>>,
    /// Generation checks that a label is free, then creates it: one at a time in this
    /// process (a token does not keep labels unique by itself).
    generating: Mutex<()>,
}

impl std::fmt::Debug for Pkcs11Keystore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Pkcs11Keystore")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Keystore {
    /// Loads `module`, finds the initialized token labelled `token_label` and checks that
    /// `pin` opens it.
    pub fn open(
        module: &Path,
        token_label: &str,
        pin: Zeroizing<String>,
    ) -> Result<Pkcs11Keystore, KeystoreError> {
        let context = Pkcs11::new(module).map_err(failed)?;
        match context.initialize(CInitializeArgs::OsThreads) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(error) => return Err(failed(error)),
        }
        let mut found = None;
        for slot in context.get_slots_with_initialized_token().map_err(failed)? {
            if context.get_token_info(slot).map_err(failed)?.label() == token_label {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            KeystoreError::Unavailable(format!("no PKCS#11 token labelled {token_label:?}"))
        })?;
        let keystore = Pkcs11Keystore {
            context,
            slot,
            pin: AuthPin::from(pin.as_str().to_owned()),
            idle: Mutex::new(Vec::new()),
            generating: Mutex::new(()),
        };
        // Opens (and logs in) one session now, so that a wrong PIN fails here.
        let session = keystore.session()?;
        keystore.put_back(session);
        Ok(keystore)
    }

    /// A logged-in session: an idle one, or a new one.
    fn session(&self) -> Result<Session, KeystoreError> {
        if let Some(session) = self
            .idle
            .lock()
            .map_err(|_| KeystoreError::Unavailable("session pool poisoned".into()))?
            .pop()
        {
            return Ok(session);
        }
        let session = self.context.open_rw_session(self.slot).map_err(failed)?;
        // The login state is the application's, shared by its sessions.
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(error) => Err(failed(error)),
        }
    }

    fn put_back(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_SESSIONS_MAX
        {
            idle.push(session);
        }
    }

    /// Runs `work` on a session, then puts the session back.
    fn with_session<T>(
        &self,
        work: impl FnOnce(&Session) -> Result<T, KeystoreError>,
    ) -> Result<T, KeystoreError> {
        let session = self.session()?;
        let result = work(&session);
        self.put_back(session);
        result
    }
}

/// The objects of class `class` labelled `label`.
fn objects(
    session: &Session,
    class: ObjectClass,
    label: &KeyLabel,
) -> Result<Vec<ObjectHandle>, KeystoreError> {
    session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_str().as_bytes().to_vec()),
        ])
        .map_err(failed)
}

/// The one object of class `class` labelled `label`.
fn one_object(
    session: &Session,
    class: ObjectClass,
    label: &KeyLabel,
) -> Result<ObjectHandle, KeystoreError> {
    match objects(session, class, label)?.as_slice() {
        [] => Err(KeystoreError::NotFound(label.clone())),
        [one] => Ok(*one),
        _ => Err(KeystoreError::Unreadable(label.clone())),
    }
}

/// The public key of `object` from its `CKA_EC_POINT` (a DER OCTET STRING holding the
/// uncompressed SEC1 point).
fn public_of(
    session: &Session,
    object: ObjectHandle,
    label: &KeyLabel,
) -> Result<VerifyingKey, KeystoreError> {
    let unreadable = || KeystoreError::Unreadable(label.clone());
    let attributes = session
        .get_attributes(object, &[AttributeType::EcPoint])
        .map_err(failed)?;
    let Some(Attribute::EcPoint(der)) = attributes.into_iter().next() else {
        return Err(unreadable());
    };
    // 0x04 (OCTET STRING), 0x41 (65 bytes), then the point.
    let point = match der.as_slice() {
        [0x04, 0x41, point @ ..] if point.len() == 65 => point,
        _ => return Err(unreadable()),
    };
    VerifyingKey::from_sec1_bytes(point).map_err(|_| unreadable())
}

impl Pkcs11Keystore {
    /// Makes a key pair for `usage` under a free label.
    fn generate_for(&self, label: &KeyLabel, usage: KeyUse) -> Result<VerifyingKey, KeystoreError> {
        let _one_at_a_time = self
            .generating
            .lock()
            .map_err(|_| KeystoreError::Unavailable("generation lock poisoned".into()))?;
        self.with_session(|session| {
            if !objects(session, ObjectClass::PRIVATE_KEY, label)?.is_empty()
                || !objects(session, ObjectClass::PUBLIC_KEY, label)?.is_empty()
            {
                return Err(KeystoreError::Exists(label.clone()));
            }
            let signing = usage == KeyUse::Signing;
            let name = label.as_str().as_bytes().to_vec();
            let public_template = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Verify(signing),
                Attribute::Label(name.clone()),
                Attribute::Id(name.clone()),
            ];
            let private_template = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(signing),
                Attribute::Derive(!signing),
                Attribute::Label(name.clone()),
                Attribute::Id(name),
            ];
            let (public, _private) = session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &public_template,
                    &private_template,
                )
                .map_err(failed)?;
            public_of(session, public, label)
        })
    }
}

/// The template of the secret that ECDH derives: the raw 32 bytes, readable, in the
/// session only (destroyed as soon as it is read).
fn shared_secret_template() -> [Attribute; 6] {
    [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

impl Keystore for Pkcs11Keystore {
    fn generate(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError> {
        self.generate_for(label, KeyUse::Signing)
    }

    fn generate_agreement(&self, label: &KeyLabel) -> Result<p256::PublicKey, KeystoreError> {
        Ok(p256::PublicKey::from(
            &self.generate_for(label, KeyUse::Agreement)?,
        ))
    }

    fn agree(
        &self,
        label: &KeyLabel,
        peer: &p256::PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let point = peer.to_encoded_point(false);
        self.with_session(|session| {
            let private = one_object(session, ObjectClass::PRIVATE_KEY, label)?;
            let mechanism =
                Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), point.as_bytes()));
            let derived = session
                .derive_key(&mechanism, private, &shared_secret_template())
                .map_err(failed_use(label))?;
            let read = session.get_attributes(derived, &[AttributeType::Value]);
            // Destroyed whether or not it could be read.
            let destroyed = session.destroy_object(derived);
            let value = match read.map_err(failed)?.into_iter().next() {
                Some(Attribute::Value(value)) => Zeroizing::new(value),
                _ => return Err(KeystoreError::Unreadable(label.clone())),
            };
            destroyed.map_err(failed)?;
            let mut secret = Zeroizing::new([0_u8; 32]);
            if value.len() != secret.len() {
                return Err(KeystoreError::Unreadable(label.clone()));
            }
            secret.copy_from_slice(&value);
            Ok(secret)
        })
    }

    fn public_key(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError> {
        self.with_session(|session| {
            let public = one_object(session, ObjectClass::PUBLIC_KEY, label)?;
            public_of(session, public, label)
        })
    }

    fn sign_digest(&self, label: &KeyLabel, digest: &[u8; 32]) -> Result<Signature, KeystoreError> {
        self.with_session(|session| {
            let private = one_object(session, ObjectClass::PRIVATE_KEY, label)?;
            let raw = session
                .sign(&Mechanism::Ecdsa, private, digest)
                .map_err(failed_use(label))?;
            Signature::from_slice(&raw).map_err(|_| KeystoreError::Unreadable(label.clone()))
        })
    }

    fn sign_digests(
        &self,
        label: &KeyLabel,
        digests: &[[u8; 32]],
    ) -> Result<Vec<Signature>, KeystoreError> {
        // One session and one search for the group.
        self.with_session(|session| {
            let private = one_object(session, ObjectClass::PRIVATE_KEY, label)?;
            digests
                .iter()
                .map(|digest| {
                    let raw = session
                        .sign(&Mechanism::Ecdsa, private, digest)
                        .map_err(failed_use(label))?;
                    Signature::from_slice(&raw)
                        .map_err(|_| KeystoreError::Unreadable(label.clone()))
                })
                .collect()
        })
    }

    fn destroy(&self, label: &KeyLabel) -> Result<(), KeystoreError> {
        self.with_session(|session| {
            let mut found = objects(session, ObjectClass::PRIVATE_KEY, label)?;
            found.extend(objects(session, ObjectClass::PUBLIC_KEY, label)?);
            if found.is_empty() {
                return Err(KeystoreError::NotFound(label.clone()));
            }
            for object in found {
                session.destroy_object(object).map_err(failed)?;
            }
            Ok(())
        })
    }

    fn kind(&self) -> &'static str {
        "pkcs11"
    }
}
