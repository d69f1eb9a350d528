//! The notary's file formats (see ARCHITECTURE.md, "The notary"): what an envelope's
//! signatures are written into. Each format signs through a closure the caller gives (a
//! SHA-256 in, a detached CMS SignedData out), so this crate holds no key, no store and
//! no HTTP.

pub mod asic;
pub mod pades;
