//! The notary's test station: a P-256 key made here (as the page's script and `sceau
//! notarize` make one), the manifest it signs, and the files it sends.

use super::{Reply, Server, Session};
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use sceau_domain::envelope::{Destination, FileEntry, FileName, Manifest};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A station: its key, made here and never sent.
pub struct Station {
    key: SigningKey,
}

impl Station {
    pub fn new() -> Station {
        let secret: [u8; 32] = sceau_crypto::random_bytes();
        Station {
            key: SigningKey::from_slice(&secret).unwrap(),
        }
    }

    pub fn public_key(&self) -> String {
        let der = self.key.verifying_key().to_public_key_der().unwrap();
        BASE64.encode(der.as_bytes())
    }

    /// The signature WebCrypto would make: ECDSA P-256 with SHA-256, `r || s`.
    pub fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = self.key.sign(message);
        BASE64.encode(signature.to_bytes())
    }
}

/// The files of an envelope: name and bytes.
pub type Files = Vec<(String, Vec<u8>)>;

pub fn manifest_of(envelope: &Value, files: &Files, destinations: Vec<Destination>) -> String {
    Manifest {
        envelope: envelope["id"].as_str().unwrap().to_owned(),
        certificate: envelope["certificate_serial"].as_str().unwrap().to_owned(),
        files: files
            .iter()
            .map(|(name, bytes)| FileEntry {
                name: FileName::parse(name).unwrap(),
                size: bytes.len() as u64,
                sha256: Sha256::digest(bytes).into(),
            })
            .collect(),
        destinations,
    }
    .canonical()
    .unwrap()
}

/// The seal in an envelope's SMS.
pub fn seal_in(text: &str) -> String {
    let at = text.find("your seal is ").expect("a seal in the message") + "your seal is ".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

/// One page saying hello, with a classic cross-reference table.
pub fn hello_pdf() -> Vec<u8> {
    let text = "BT /F1 24 Tf 72 720 Td (Hello, notary) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{text}\nendstream",
            text.len() + 1
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", index + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

impl Server {
    /// A JSON write of the signed-in client (its cookie and CSRF token).
    pub async fn notary_post(&self, session: &Session, path: &str, body: Value) -> Reply {
        self.send(
            self.http
                .post(self.url(path))
                .header("cookie", &session.cookie)
                .header("x-csrf-token", &session.csrf)
                .json(&body),
        )
        .await
    }

    /// A new envelope of `files` for `session`'s client, its manifest (naming
    /// `destinations`) signed by a new station and accepted, then notarized with the seal
    /// sent to `phone`: its id.
    pub async fn new_notarized_envelope(
        &self,
        session: &Session,
        phone: &str,
        files: &Files,
        destinations: Vec<Destination>,
    ) -> String {
        let station = Station::new();
        let reply = self
            .notary_post(
                session,
                "/api/v1/envelopes",
                serde_json::json!({"public_key": station.public_key()}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text);
        let envelope = reply.json();
        let manifest = manifest_of(&envelope, files, destinations);
        let id = envelope["id"].as_str().unwrap().to_owned();
        let reply = self
            .notary_post(
                session,
                &format!("/api/v1/envelopes/{id}/manifest"),
                serde_json::json!({
                    "manifest": manifest, "signature": station.sign(manifest.as_bytes()),
                }),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        self.notarized_envelope(session, phone, &id, files).await;
        id
    }

    /// Uploads `files` to the envelope `id` (its manifest accepted), types the seal their
    /// last one sent to `phone`, and gives the envelope as that answer shows it,
    /// notarized.
    pub async fn notarized_envelope(
        &self,
        session: &Session,
        phone: &str,
        id: &str,
        files: &Files,
    ) -> Value {
        let newest = self.newest_message_id(phone).await;
        for (index, (_, bytes)) in files.iter().enumerate() {
            let reply = self.put_file(session, id, index, bytes.clone()).await;
            assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        }
        let seal = seal_in(&self.message_after(phone, newest).await);
        let reply = self
            .notary_post(
                session,
                &format!("/api/v1/envelopes/{id}/seal"),
                serde_json::json!({"seal": seal}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        let view = reply.json();
        assert_eq!(view["state"], "notarized", "{view}");
        view
    }

    /// An envelope's file `index`, its bytes as the body.
    pub async fn put_file(
        &self,
        session: &Session,
        id: &str,
        index: usize,
        bytes: Vec<u8>,
    ) -> Reply {
        self.send(
            self.http
                .put(self.url(&format!("/api/v1/envelopes/{id}/files/{index}")))
                .header("cookie", &session.cookie)
                .header("x-csrf-token", &session.csrf)
                .header("content-type", "application/octet-stream")
                .body(bytes),
        )
        .await
    }
}
