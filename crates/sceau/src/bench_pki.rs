//! The time-stamp part of `sceau bench`: requests for `POST /tsa`, and the figures it is
//! compared with on the same machine in the same run (OpenSSL's ECDSA P-256 signing speed,
//! the physical limit; sceau's own CMS signatures in-process).

use crate::loadgen::{self, RequestSource};
use anyhow::Context;
use sha2::Digest;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Distinct time-stamp requests (each its own digest and nonce), sent round robin.
pub struct TimeStampRequests {
    requests: Vec<Vec<u8>>,
}

impl TimeStampRequests {
    pub fn new(count: usize) -> anyhow::Result<TimeStampRequests> {
        let requests = (0..count.max(1) as u64)
            .map(|n| {
                let digest: [u8; 32] = sha2::Sha256::digest(n.to_be_bytes()).into();
                let mut request = Vec::with_capacity(256);
                let body = sceau_pki::tsa::query(&digest, n.wrapping_mul(0x9e37_79b9), true)?;
                loadgen::write_request(
                    &mut request,
                    "POST",
                    "/tsa",
                    &[("Content-Type", "application/timestamp-query")],
                    &body,
                );
                Ok(request)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(TimeStampRequests { requests })
    }
}

impl RequestSource for TimeStampRequests {
    fn build(&self, worker: usize, sequence: u64, out: &mut Vec<u8>) -> bool {
        let index = (worker as u64).wrapping_mul(7_919).wrapping_add(sequence) as usize;
        out.extend_from_slice(&self.requests[index % self.requests.len()]);
        true
    }
}

/// ECDSA P-256 signatures per second on one core, by `openssl speed` (the sign/s column
/// of its `256 bits ecdsa (nistp256)` line).
pub fn openssl_ecdsa_p256_signs_per_s(seconds: u64) -> anyhow::Result<f64> {
    let output = std::process::Command::new("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "ecdsap256"])
        .output()
        .context("running openssl speed")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("256 bits ecdsa"))
        .context("no ecdsa line in openssl speed's output")?;
    // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  39000.0  12000.0"
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|word| word.parse::<f64>().ok())
        .collect();
    numbers
        .get(1)
        .copied()
        .context("no sign/s figure in openssl speed's line")
}

/// sceau's own signing on one core, in-process with the encrypted key directory: CMS
/// detached signatures per second, and bare digest signatures per second.
pub fn sceau_signs_per_s(directory: &Path, seconds: u64) -> anyhow::Result<(f64, f64)> {
    let keystore: Arc<dyn sceau_pki::Keystore> = Arc::new(sceau_pki::FileKeystore::open(
        &directory.join("bench-keys"),
        &[0x42; 32],
    )?);
    let now_s = chrono::Utc::now().timestamp();
    let authority = sceau_pki::Authority::create(Arc::clone(&keystore), "bench", now_s)?;
    let key = sceau_pki::KeyLabel::new("bench-signer")?;
    keystore.generate(&key)?;
    let certificate = authority.issue_client(&key, "Bench Signer", now_s, 3_600)?;
    let chain = [authority.issuing()];
    let window = Duration::from_secs(seconds.max(1));
    let started = Instant::now();
    let mut cms = 0_u64;
    while started.elapsed() < window {
        let digest: [u8; 32] = sha2::Sha256::digest(cms.to_be_bytes()).into();
        sceau_pki::sign_detached(
            Arc::clone(&keystore),
            &sceau_pki::DetachedSignature {
                key: &key,
                certificate: &certificate,
                chain: &chain,
                content_digest: digest,
                signing_time_s: now_s,
                time_stamp: None,
            },
        )?;
        cms += 1;
    }
    let cms_per_s = cms as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut bare = 0_u64;
    while started.elapsed() < window {
        let digest: [u8; 32] = sha2::Sha256::digest(bare.to_be_bytes()).into();
        keystore.sign_digest(&key, &digest)?;
        bare += 1;
    }
    Ok((cms_per_s, bare as f64 / started.elapsed().as_secs_f64()))
}

/// A SoftHSM2 token for the server children: its configuration file (to give them as
/// `SOFTHSM2_CONF`), created in `directory` with `softhsm2-util`.
pub fn softhsm_token(
    directory: &Path,
    label: &str,
    pin: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let tokens = directory.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens)?;
    let conf = directory.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    let status = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            pin,
        ])
        .env("SOFTHSM2_CONF", &conf)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running softhsm2-util (Debian's softhsm2)")?;
    anyhow::ensure!(status.success(), "softhsm2-util --init-token failed");
    Ok(conf)
}
