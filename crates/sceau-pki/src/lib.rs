//! sceau's white room (SPEC capability 4): users' private keys live on the server and never
//! leave it. Every key sits behind the [`Keystore`] trait, which generates a key, gives its
//! public half and signs a digest with it; there is no way to read a private key back.
//!
//! [`FileKeystore`] is the embedded default: a directory of key files, each private key
//! encrypted at rest (ChaCha20-Poly1305) under a key derived from the master key, which
//! comes from its own file or the environment, never from the configuration file.
//! Keys are P-256, each for one use: signing (ECDSA) or key agreement (ECDH, for the
//! [`escrow`] envelope, whose private key stays in the keystore like the others).

pub mod ca;
mod cms_der;
pub mod escrow;
pub mod keystore;
pub mod pkcs11;
pub mod setup;
pub mod signing;
pub mod station;
pub mod tsa;
pub mod verify;

pub use ca::{Authority, Issued, KeySigner, PkiError};
pub use der::asn1::ObjectIdentifier;
pub use keystore::{FileKeystore, KeyLabel, Keystore, KeystoreError, Metered};
pub use p256::ecdsa::{Signature, VerifyingKey};
pub use pkcs11::Pkcs11Keystore;
pub use setup::Pki;
pub use signing::{
    DetachedSignature, Profile, sign_detached, sign_detached_as, sign_detached_many,
};
pub use tsa::{Answer, Failure, Pending, TimeStampAuthority};
pub use verify::{
    Refusal, SignatureParts, Stamp, Verified, signature_parts, verify_signature,
    verify_signature_of_digest, verify_time_stamp,
};
