//! `sceau log-watch`: a monitor of a sceau transparency log. It follows the log's
//! checkpoints over HTTP, checks each one's signature with the log's key (given once,
//! out of band, and pinned), and checks that each checkpoint extends the last one it
//! kept (a consistency proof), so that a log that forks or shrinks, a history rewritten
//! in the database, is caught. It keeps the last good checkpoint in a file.

use anyhow::{Context, bail};
use base64::Engine;
use clap::Args;
use sceau_log::{Checkpoint, VerifierKey, parse_and_verify, verify_consistency};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct WatchArgs {
    /// The server's address, e.g. https://pay.example.
    #[arg(long)]
    url: String,
    /// The log's verifier key (`origin+id+key`), as published at /log/key: give it from
    /// a trusted source; fetching it from the log it checks would prove nothing.
    #[arg(long)]
    key: String,
    /// Where the last good checkpoint is kept between checks.
    #[arg(long)]
    state: PathBuf,
    /// Check once and exit, instead of every --interval-s.
    #[arg(long)]
    once: bool,
    /// Seconds between two checks (without --once).
    #[arg(long, default_value_t = 60)]
    interval_s: u64,
}

/// What one check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The first checkpoint seen, now kept.
    First { size: u64 },
    /// The same tree as before.
    Same { size: u64 },
    /// A larger tree that extends the one kept.
    Grew { from: u64, to: u64 },
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::First { size } => {
                write!(f, "first checkpoint seen, kept: {size} entries")
            }
            Verdict::Same { size } => write!(f, "the same tree as before: {size} entries"),
            Verdict::Grew { from, to } => write!(
                f,
                "grew from {from} to {to} entries, and the proof says it only appended"
            ),
        }
    }
}

pub async fn run(args: WatchArgs) -> anyhow::Result<()> {
    let key = VerifierKey::parse(args.key.trim()).context("--key is not a verifier key")?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    loop {
        match check(&http, &args.url, &key, &args.state).await {
            Ok(verdict) => say!("log-watch: ok: {verdict}"),
            Err(alarm) => {
                // An alarm ends the watch: a forked or rewritten log stays so.
                say!("log-watch: ALARM: {alarm:#}");
                bail!("the log failed a check: {alarm}");
            }
        }
        if args.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(args.interval_s.max(1))).await;
    }
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<reqwest::Response> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url}: {}", response.status());
    }
    Ok(response)
}

/// Fetches the checkpoint, checks it against the one kept, and keeps it if good.
pub async fn check(
    http: &reqwest::Client,
    base: &str,
    key: &VerifierKey,
    state: &Path,
) -> anyhow::Result<Verdict> {
    let base = base.trim_end_matches('/');
    let note = get(http, &format!("{base}/log/checkpoint"))
        .await?
        .text()
        .await?;
    let new = parse_and_verify(&note, key).context("the checkpoint's signature")?;
    let kept = match std::fs::read_to_string(state) {
        Ok(kept) => Some(parse_and_verify(&kept, key).context("the kept checkpoint")?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error).with_context(|| format!("reading {}", state.display())),
    };
    let verdict = match &kept {
        None => Verdict::First { size: new.size() },
        Some(old) => compare(http, base, old, &new).await?,
    };
    if verdict != (Verdict::Same { size: new.size() }) {
        keep(state, &note)?;
    }
    Ok(verdict)
}

async fn compare(
    http: &reqwest::Client,
    base: &str,
    old: &Checkpoint,
    new: &Checkpoint,
) -> anyhow::Result<Verdict> {
    if new.origin() != old.origin() {
        bail!(
            "the log's origin changed: {} then {}",
            old.origin(),
            new.origin()
        );
    }
    if new.size() < old.size() {
        bail!(
            "the log shrank: {} entries, then {}",
            old.size(),
            new.size()
        );
    }
    if new.size() == old.size() {
        if new.root_hash() != old.root_hash() {
            bail!("the log forked: two roots for {} entries", new.size());
        }
        return Ok(Verdict::Same { size: new.size() });
    }
    let url = format!(
        "{base}/log/proof/consistency?old={}&new={}",
        old.size(),
        new.size()
    );
    let proof: serde_json::Value = get(http, &url).await?.json().await?;
    let hashes = proof["hashes"]
        .as_array()
        .context("a consistency proof without hashes")?
        .iter()
        .map(|hash| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(hash.as_str().unwrap_or(""))
                .context("a proof hash that is not base64")?;
            <[u8; 32]>::try_from(bytes.as_slice()).context("a proof hash that is not 32 bytes")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    verify_consistency(
        old.size(),
        new.size(),
        old.root_hash(),
        new.root_hash(),
        &hashes,
    )
    .map_err(|error| {
        anyhow::anyhow!(
            "the log forked: the tree of {} entries does not extend the one of {} \
                 kept here ({error})",
            new.size(),
            old.size()
        )
    })?;
    Ok(Verdict::Grew {
        from: old.size(),
        to: new.size(),
    })
}

/// Writes the checkpoint kept, atomically.
fn keep(state: &Path, note: &str) -> anyhow::Result<()> {
    let directory = state.parent().filter(|p| !p.as_os_str().is_empty());
    let mut file = tempfile::NamedTempFile::new_in(directory.unwrap_or(Path::new(".")))?;
    std::io::Write::write_all(&mut file, note.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(state)
        .with_context(|| format!("writing {}", state.display()))?;
    Ok(())
}
