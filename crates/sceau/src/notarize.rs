//! `sceau notarize FILE... --server URL`: the notary's station in a terminal, through the
//! same JSON API as the wallet's page. It signs in as the client, hashes every file here
//! (streaming, before anything is sent), makes a key of its own that never leaves the
//! process, has sceau certify it for this envelope only, signs the manifest (the files'
//! names, sizes and SHA-256, and the destinations), sends the files, asks for the seal
//! sent to the client's phone, then writes the signatures, the signed PDFs, the container
//! and the evidence bundle next to each other.
//!
//! Nothing it prints or writes holds the password, the session cookie or the seal.

use anyhow::{Context, bail};
use clap::Args;
use sceau_domain::envelope::{
    Destination, EnvelopeLimits, FILES_MAX_CEILING, FileEntry, FileName, Manifest,
};
use sceau_pki::station::StationKey;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use unicode_normalization::UnicodeNormalization;
use url::Url;
use zeroize::Zeroizing;

/// Bytes read from a file at a time while hashing it: a file is never held whole.
const HASH_BUFFER_BYTES: usize = 64 * 1024;
/// The envelope's life as the server allows it to be asked for (`lifetime_s`).
const LIFETIME_S_MIN: u32 = 60;
const LIFETIME_S_MAX: u32 = 3_600;
/// Tries at typing the seal this command allows itself, resends included (the server
/// counts the wrong ones: three fail the envelope).
const SEAL_PROMPTS_MAX: u32 = 10;
/// The longest seal or line taken as one.
const SEAL_CHARS_MAX: usize = 64;
/// How long to wait, at most, for a sealed envelope to be signed (when the time-stamp
/// authority is late), and how often to ask.
const NOTARIZED_WAIT_S_MAX: u64 = 300;
const NOTARIZED_POLL_S: u64 = 2;
/// Most bytes of a JSON answer read.
const JSON_BYTES_MAX: usize = 4 << 20;
/// Most bytes of a download beyond what its source accounts for: a signature (with its
/// certificates and time-stamp), a PDF's added signature, the container's own entries,
/// the evidence bundle.
const SIGNATURE_BYTES_MAX: u64 = 4 << 20;
const DOWNLOAD_OVERHEAD_BYTES_MAX: u64 = 64 << 20;
/// The longest an envelope id may be to be used in a path and a file name.
const ENVELOPE_ID_CHARS_MAX: usize = 64;
/// How long a request may wait for a connection, and between two reads of an answer.
const CONNECT_TIMEOUT_S: u64 = 30;
const READ_TIMEOUT_S: u64 = 300;

#[derive(Args)]
pub struct NotarizeArgs {
    /// The files to notarize, in this order. Each is known by its own name (without its
    /// directory, in Unicode form C), which must be acceptable to the notary (no
    /// quotation marks, no control characters, at most 255 bytes...) and differ from the
    /// others'.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The sceau server, e.g. https://sceau.example (plain http:// only to this machine:
    /// 127.0.0.1, [::1] or localhost).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The client's login, as on the sign-in page.
    #[arg(long)]
    login: String,
    /// Read the password from the first line of this file. Without it, the password is
    /// taken from the SCEAU_PASSWORD environment variable, or else asked for on the
    /// terminal (not echoed).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Someone the envelope is for: an e-mail address, a phone number (+ and digits), or
    /// both separated by a comma (EMAIL,PHONE). Repeat it for each destination; the seal's
    /// SMS names the first.
    #[arg(long = "to", value_name = "EMAIL,PHONE", value_parser = parse_destination)]
    to: Vec<Destination>,
    /// Where to write the results (created if missing): FILE.p7s for each file,
    /// FILE.signed.pdf for each PDF the server signed, ENVELOPE.asice (the container) and
    /// ENVELOPE.evidence (the evidence bundle).
    #[arg(long, value_name = "DIRECTORY", default_value = ".")]
    out: PathBuf,
    /// Replace results already in the output directory (by default, the command stops
    /// before sending anything if one is there).
    #[arg(long)]
    force: bool,
    /// Read the seal from standard input, one per line, instead of asking for it on the
    /// terminal (for scripts and tests).
    #[arg(long)]
    seal_from_stdin: bool,
    /// How long the envelope may take, in seconds, from its opening until its last file
    /// arrived (the life of its one-use certificate): 60 to 3600; the server's default
    /// (10 minutes) otherwise. Raise it for large files on a slow link.
    #[arg(long, value_name = "SECONDS")]
    lifetime_s: Option<u32>,
}

// -- what is decided here, before the server is asked anything ----------------------------

/// A destination as `--to` gives it: `EMAIL`, `PHONE` or `EMAIL,PHONE` (either order:
/// a phone number starts with `+`, an e-mail address has an `@`).
pub fn parse_destination(text: &str) -> Result<Destination, String> {
    let mut destination = Destination {
        email: None,
        phone: None,
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() > 2 {
        return Err("give at most an e-mail address and a phone number, with a comma".into());
    }
    for part in parts.into_iter().filter(|part| !part.is_empty()) {
        if part.starts_with('+') {
            let phone = part.parse().map_err(|_| {
                format!(
                    "{part:?} is not a phone number in international form (+ and 7 to 15 digits)"
                )
            })?;
            if destination.phone.replace(phone).is_some() {
                return Err("two phone numbers for one destination".into());
            }
        } else {
            let email = part.parse().map_err(|_| {
                format!("{part:?} is neither an e-mail address nor a +phone number")
            })?;
            if destination.email.replace(email).is_some() {
                return Err("two e-mail addresses for one destination".into());
            }
        }
    }
    if destination.email.is_none() && destination.phone.is_none() {
        return Err("give an e-mail address, a phone number, or both".into());
    }
    Ok(destination)
}

/// The name a file is known by in the envelope: its own name (the path's last part),
/// in Unicode normalization form C, as the notary accepts names.
pub fn file_name(path: &Path) -> anyhow::Result<FileName> {
    let Some(own) = path.file_name() else {
        bail!("{} names no file", path.display());
    };
    let Some(own) = own.to_str() else {
        bail!("the name of {} is not UTF-8 text", path.display());
    };
    let normalized: String = own.nfc().collect();
    FileName::parse(&normalized).with_context(|| format!("{} cannot be sent", path.display()))
}

/// The size and SHA-256 of everything `reader` gives, read a buffer at a time.
pub fn hash_reader(mut reader: impl Read) -> std::io::Result<(u64, [u8; 32])> {
    let mut buffer = vec![0_u8; HASH_BUFFER_BYTES];
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((size, hasher.finalize().into()))
}

/// A file to send: where it is here, and what the manifest says of it.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
    pub entry: FileEntry,
}

/// Names and hashes every file (a regular file each), and checks that the envelope
/// could hold them as the notary's rules have it (names distinct, destinations given
/// whole) before the server is asked anything; the server's own limits are checked once
/// it has said them.
fn local_files(paths: &[PathBuf], destinations: &[Destination]) -> anyhow::Result<Vec<LocalFile>> {
    let named: Vec<(PathBuf, FileName)> = paths
        .iter()
        .map(|path| Ok((path.clone(), file_name(path)?)))
        .collect::<anyhow::Result<_>>()?;
    let unlimited = EnvelopeLimits::new(FILES_MAX_CEILING, u64::MAX, u64::MAX)
        .map_err(|error| anyhow::anyhow!(error))?;
    let names: Vec<(&FileName, u64)> = named.iter().map(|(_, name)| (name, 0)).collect();
    unlimited.check(&names, destinations)?;
    let mut files = Vec::with_capacity(named.len());
    for (path, name) in named {
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        let (size, sha256) =
            hash_reader(file).with_context(|| format!("reading {}", path.display()))?;
        files.push(LocalFile {
            path,
            entry: FileEntry { name, size, sha256 },
        });
    }
    Ok(files)
}

/// The manifest of these files and destinations, for the envelope and certificate the
/// server gave.
pub fn manifest(
    envelope: &str,
    certificate_serial: &str,
    files: &[LocalFile],
    destinations: &[Destination],
) -> Manifest {
    Manifest {
        envelope: envelope.to_owned(),
        certificate: certificate_serial.to_owned(),
        files: files.iter().map(|file| file.entry.clone()).collect(),
        destinations: destinations.to_vec(),
    }
}

/// The server's address: https, or http to this machine only (a password and a session
/// must not cross a network in clear). Any path is kept as a prefix.
pub fn server_url(text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text).with_context(|| format!("--server {text:?} is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!(
            "--server {text}: plain http is used only to this machine (127.0.0.1, [::1] or \
             localhost); use https, so that the password and the session are not sent in clear"
        ),
        other => bail!("--server {text}: {other}:// is not http or https"),
    }
    if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
        bail!("--server {text}: give the server's address alone, e.g. https://sceau.example");
    }
    Ok(url)
}

/// Whether `id` can be put in a URL's path and a file's name as it is.
fn envelope_id_usable(id: &str) -> bool {
    (1..=ENVELOPE_ID_CHARS_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What this command writes into the output directory, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// `<name>.p7s`, for each file in order.
    pub signatures: Vec<String>,
    /// `<name>.signed.pdf`, for each file in order.
    pub signed_pdfs: Vec<String>,
}

impl Outputs {
    /// Each output's name is the file's whole name and a suffix of its own kind, so that
    /// no two outputs of an envelope (distinct names) share one.
    pub fn of(files: &[LocalFile]) -> Outputs {
        let name = |file: &LocalFile, suffix: &str| format!("{}{suffix}", file.entry.name);
        Outputs {
            signatures: files.iter().map(|file| name(file, ".p7s")).collect(),
            signed_pdfs: files.iter().map(|file| name(file, ".signed.pdf")).collect(),
        }
    }

    pub fn container(envelope: &str) -> String {
        format!("{envelope}.asice")
    }

    pub fn evidence(envelope: &str) -> String {
        format!("{envelope}.evidence")
    }
}

/// Whether a file is one the server may sign as a PDF (by its name, as a browser would
/// tell): only used to look for a result in the way before anything is sent.
fn looks_like_pdf(name: &FileName) -> bool {
    name.as_str()
        .rsplit_once('.')
        .is_some_and(|(_, extension)| extension.eq_ignore_ascii_case("pdf"))
}

/// A path as a POSIX shell reads it back, for the commands the summary suggests.
pub fn shell_quoted(path: &Path) -> String {
    let text = path.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// How many bytes of hex a SHA-256 shows in the seal's SMS.
const SMS_DIGEST_BYTES: usize = 4;

// -- the server's answers -----------------------------------------------------------------

/// A refusal the server explained: `{"error": {"code", "message"}}` with its status.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// What is left of the seal's tries, when the answer says it.
    pub tries_left: Option<u32>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server refused ({}, HTTP {}): {}",
            self.code, self.status, self.message
        )
    }
}

impl std::error::Error for Refusal {}

/// The refusal in an error answer's body, if it is one of sceau's.
pub fn parse_refusal(status: u16, body: &[u8]) -> Option<Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = error.get("code")?.as_str()?.to_owned();
    let message = error
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_owned();
    let tries_left = [error.get("tries_left"), value.get("tries_left")]
        .into_iter()
        .flatten()
        .find_map(serde_json::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    Some(Refusal {
        status,
        code,
        message,
        tries_left,
    })
}

/// What this command reads of an envelope's JSON (the rest is ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EnvelopeView {
    pub id: String,
    pub state: String,
    pub refusal: Option<String>,
    pub certificate_serial: String,
    pub certificate: Option<String>,
    pub limits: Option<LimitsView>,
    pub files: Vec<FileView>,
    pub seal_expires_at: Option<String>,
    pub tries_left: Option<u32>,
    pub notarized_at: Option<String>,
    pub waiting: Option<String>,
    pub container_url: Option<String>,
    pub evidence_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct LimitsView {
    pub files_max: u32,
    pub file_bytes_max: u64,
    pub envelope_bytes_max: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FileView {
    pub index: usize,
    pub signature_url: Option<String>,
    pub signed_pdf_url: Option<String>,
    pub pdf_note: Option<String>,
}

// -- talking to the server ----------------------------------------------------------------

/// A signed-in session on the server.
struct Session {
    http: reqwest::Client,
    server: Url,
    /// `name=value` of the session cookie.
    cookie: Zeroizing<String>,
    csrf: Zeroizing<String>,
}

/// The request's answer, read whole (JSON answers are small: bounded).
async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    expected: reqwest::StatusCode,
    what: &str,
) -> anyhow::Result<T> {
    let status = response.status();
    let body = read_bounded(response, JSON_BYTES_MAX)
        .await
        .with_context(|| format!("{what}: reading the answer"))?;
    json_of(status, &body, expected, what)
}

/// An answer's JSON when its status is `expected`; its refusal otherwise.
fn json_of<T: serde::de::DeserializeOwned>(
    status: reqwest::StatusCode,
    body: &[u8],
    expected: reqwest::StatusCode,
    what: &str,
) -> anyhow::Result<T> {
    if status != expected {
        return Err(match parse_refusal(status.as_u16(), body) {
            Some(refusal) => anyhow::Error::new(refusal).context(what.to_owned()),
            None => anyhow::anyhow!("{what}: the server answered HTTP {status}"),
        });
    }
    serde_json::from_slice(body)
        .with_context(|| format!("{what}: the answer is not the JSON expected"))
}

async fn read_bounded(
    mut response: reqwest::Response,
    bytes_max: usize,
) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > bytes_max {
            bail!("the answer is longer than {bytes_max} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Session {
    /// Signs in as the sign-in page does (a form, answered 303 with the session cookie),
    /// then reads the session's CSRF token, which every write carries.
    async fn sign_in(server: Url, login: &str, password: &str) -> anyhow::Result<Session> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(CONNECT_TIMEOUT_S))
            .read_timeout(Duration::from_secs(READ_TIMEOUT_S))
            .user_agent(concat!("sceau-notarize/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let answer = http
            .post(endpoint(&server, "login"))
            .form(&[("login", login), ("password", password)])
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        let status = answer.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            bail!(
                "sign-in refused: wrong login or password, or this login's sign-in is paused \
                 (the sign-in page says how to lift it)"
            );
        }
        if status != reqwest::StatusCode::SEE_OTHER {
            let body = read_bounded(answer, JSON_BYTES_MAX)
                .await
                .unwrap_or_default();
            match parse_refusal(status.as_u16(), &body) {
                Some(refusal) => return Err(anyhow::Error::new(refusal).context("signing in")),
                None => bail!("signing in: the server answered HTTP {status}, not a sign-in"),
            }
        }
        let cookie = answer
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .find(|pair| pair.trim_start().starts_with("sceau_session="))
            .map(|pair| Zeroizing::new(pair.trim().to_owned()))
            .context("signing in: the server set no session cookie")?;
        let mut session = Session {
            http,
            server,
            cookie,
            csrf: Zeroizing::new(String::new()),
        };
        #[derive(Deserialize)]
        struct Me {
            csrf_token: Zeroizing<String>,
        }
        let me: Me = read_json(
            session.get("api/v1/me").send().await?,
            reqwest::StatusCode::OK,
            "reading the session (GET /api/v1/me)",
        )
        .await?;
        session.csrf = me.csrf_token;
        Ok(session)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(endpoint(&self.server, path))
            .header(reqwest::header::COOKIE, self.cookie.as_str())
    }

    fn write(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, endpoint(&self.server, path))
            .header(reqwest::header::COOKIE, self.cookie.as_str())
            .header("x-csrf-token", self.csrf.as_str())
    }

    /// A URL an answer gave, on this server only (the session cookie goes nowhere else).
    fn resolve(&self, given: &str) -> anyhow::Result<Url> {
        let url = self
            .server
            .join(given)
            .with_context(|| format!("the server gave {given:?}, which is not a URL"))?;
        if url.origin() != self.server.origin() {
            bail!("the server gave {url}, on another server: not followed");
        }
        Ok(url)
    }

    async fn envelope(&self, id: &str) -> anyhow::Result<EnvelopeView> {
        read_json(
            self.get(&format!("api/v1/envelopes/{id}")).send().await?,
            reqwest::StatusCode::OK,
            "reading the envelope",
        )
        .await
    }
}

/// `path` under the server's address (and its path, if it has one).
fn endpoint(server: &Url, path: &str) -> String {
    format!("{}/{path}", server.as_str().trim_end_matches('/'))
}

/// The password: from the file given, else SCEAU_PASSWORD, else typed on the terminal.
fn password(file: Option<&Path>, login: &str) -> anyhow::Result<Zeroizing<String>> {
    let password = if let Some(file) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the password from {}", file.display()))?,
        );
        Zeroizing::new(text.lines().next().unwrap_or("").to_owned())
    } else if let Some(text) = std::env::var_os("SCEAU_PASSWORD") {
        Zeroizing::new(
            text.into_string()
                .map_err(|_| anyhow::anyhow!("SCEAU_PASSWORD is not UTF-8 text"))?,
        )
    } else {
        Zeroizing::new(
            rpassword::prompt_password(format!("{login}'s password: ")).context(
                "no terminal to ask for the password on: give --password-file or set SCEAU_PASSWORD",
            )?,
        )
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

/// Where seals are read: the terminal (asked for), or standard input (one a line).
struct SealReader {
    asks: bool,
}

impl SealReader {
    fn new(from_stdin: bool) -> anyhow::Result<SealReader> {
        use std::io::IsTerminal;
        if !from_stdin && !std::io::stdin().is_terminal() {
            bail!(
                "standard input is not a terminal to type the seal on: give --seal-from-stdin \
                 to read it from there"
            );
        }
        Ok(SealReader { asks: !from_stdin })
    }

    /// The next line typed (trimmed, not empty), or `None` at the end of the input.
    async fn next(&mut self) -> anyhow::Result<Option<Zeroizing<String>>> {
        loop {
            if self.asks {
                eprint!("the seal sent to your phone: ");
                let _ = std::io::stderr().flush();
            }
            // Standard input's buffer is the process's: what a line read left there is
            // read by the next.
            let (read, line) = tokio::task::spawn_blocking(|| {
                let mut line = Zeroizing::new(String::new());
                std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line)
                    .map(|read| (read, line))
            })
            .await??;
            if read == 0 {
                return Ok(None);
            }
            let typed = line.trim();
            if typed.is_empty() {
                continue;
            }
            if typed.chars().count() > SEAL_CHARS_MAX {
                eprintln!("that is longer than any seal");
                continue;
            }
            return Ok(Some(Zeroizing::new(typed.to_owned())));
        }
    }
}

// -- the command --------------------------------------------------------------------------

pub async fn run(args: NotarizeArgs) -> anyhow::Result<()> {
    let server = server_url(&args.server)?;
    if let Some(lifetime_s) = args.lifetime_s
        && !(LIFETIME_S_MIN..=LIFETIME_S_MAX).contains(&lifetime_s)
    {
        bail!("--lifetime-s must be {LIFETIME_S_MIN} to {LIFETIME_S_MAX}");
    }
    let files = local_files(&args.files, &args.to)?;
    for file in &files {
        say!(
            "{}  {} bytes  SHA-256 {}",
            file.entry.name,
            file.entry.size,
            hex::encode(file.entry.sha256)
        );
    }
    let outputs = Outputs::of(&files);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    if !args.force {
        let mut in_the_way = outputs.signatures.clone();
        in_the_way.extend(
            files
                .iter()
                .zip(&outputs.signed_pdfs)
                .filter(|(file, _)| looks_like_pdf(&file.entry.name))
                .map(|(_, name)| name.clone()),
        );
        refuse_existing(&args.out, &in_the_way)?;
    }
    let mut seals = SealReader::new(args.seal_from_stdin)?;
    let password = password(args.password_file.as_deref(), &args.login)?;
    let session = Session::sign_in(server, &args.login, &password).await?;
    drop(password);
    say!("signed in as {}", args.login);

    let key = StationKey::new();
    let (envelope, limits) = open(&session, &key, &files, &args).await?;
    let id = envelope.id.clone();
    if !args.force {
        refuse_existing(
            &args.out,
            &[Outputs::container(&id), Outputs::evidence(&id)],
        )?;
    }
    if let Some(limits) = limits {
        check_limits(&files, &args.to, limits)?;
    }
    send_manifest(&session, &key, &envelope, &files, &args.to).await?;
    drop(key);
    let envelope = send_files(&session, &id, &files).await?;
    if envelope.state != "awaiting_seal" {
        bail!(
            "after the last file the envelope is {}, not awaiting its seal{}",
            envelope.state,
            refusal_text(&envelope)
        );
    }
    let first = &files.first().context("no file to send")?.entry;
    say!(
        "The seal was sent to your phone{}. Its SMS names {} file{}, the first of SHA-256 {}...: \
         check it before typing the seal.",
        envelope
            .seal_expires_at
            .as_deref()
            .map(|until| format!(" (valid until {until})"))
            .unwrap_or_default(),
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        hex::encode(&first.sha256[..SMS_DIGEST_BYTES]),
    );
    let envelope = seal(&session, &id, &mut seals).await?;
    let envelope = wait_until_notarized(&session, envelope).await?;
    let written = download(&session, &envelope, &files, &outputs, &args).await?;
    summary(&session, &envelope, &files, &outputs, &args.out, &written);
    if written.missing > 0 {
        bail!("{} of the results could not be written", written.missing);
    }
    Ok(())
}

fn refuse_existing(directory: &Path, names: &[String]) -> anyhow::Result<()> {
    let present: Vec<String> = names
        .iter()
        .map(|name| directory.join(name))
        .filter(|path| path.symlink_metadata().is_ok())
        .map(|path| path.display().to_string())
        .collect();
    if !present.is_empty() {
        bail!(
            "{} already there (give --force to replace, or --out elsewhere): nothing was sent",
            present.join(", ")
        );
    }
    Ok(())
}

fn check_limits(
    files: &[LocalFile],
    destinations: &[Destination],
    limits: LimitsView,
) -> anyhow::Result<()> {
    let limits = EnvelopeLimits::new(
        limits.files_max,
        limits.file_bytes_max,
        limits.envelope_bytes_max,
    )
    .map_err(|error| anyhow::anyhow!("the server's limits: {error}"))?;
    let sized: Vec<(&FileName, u64)> = files
        .iter()
        .map(|file| (&file.entry.name, file.entry.size))
        .collect();
    limits
        .check(&sized, destinations)
        .context("the server's limits (the envelope opened will expire unused)")
}

fn refusal_text(envelope: &EnvelopeView) -> String {
    envelope
        .refusal
        .as_deref()
        .map(|code| format!(" ({code})"))
        .unwrap_or_default()
}

/// Opens the envelope for the station's key: its id and the one-use certificate of that
/// key, checked to be the key's.
async fn open(
    session: &Session,
    key: &StationKey,
    files: &[LocalFile],
    args: &NotarizeArgs,
) -> anyhow::Result<(EnvelopeView, Option<LimitsView>)> {
    use base64::Engine;
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut body = json!({ "public_key": base64.encode(key.public_key_der()?) });
    if let Some(lifetime_s) = args.lifetime_s {
        body["lifetime_s"] = lifetime_s.into();
    }
    let envelope: EnvelopeView = read_json(
        session
            .write(reqwest::Method::POST, "api/v1/envelopes")
            .json(&body)
            .send()
            .await?,
        reqwest::StatusCode::CREATED,
        "opening the envelope",
    )
    .await?;
    if !envelope_id_usable(&envelope.id) {
        bail!(
            "the server gave an envelope id this command cannot use: {:?}",
            envelope.id
        );
    }
    let certificate = envelope
        .certificate
        .as_deref()
        .context("the opened envelope carries no certificate")?;
    let certificate = base64
        .decode(certificate)
        .context("the envelope's certificate is not base64")?;
    let certificate = sceau_pki::Issued::from_der(&certificate)
        .context("the envelope's certificate is not an X.509 certificate")?;
    // The certificate must be of this key: a signature made now verifies with it.
    if !sceau_pki::station::station_signature_verifies(
        &certificate,
        b"station",
        &key.sign(b"station"),
    ) {
        bail!("the server certified another key than this station's");
    }
    let serial = sceau_pki::ca::serial_hex(&certificate);
    if !envelope.certificate_serial.eq_ignore_ascii_case(&serial) {
        bail!(
            "the envelope names certificate {} but gave certificate {serial}",
            envelope.certificate_serial
        );
    }
    say!(
        "envelope {} opened: {} file{} to send",
        envelope.id,
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    let limits = envelope.limits;
    Ok((envelope, limits))
}

async fn send_manifest(
    session: &Session,
    key: &StationKey,
    envelope: &EnvelopeView,
    files: &[LocalFile],
    destinations: &[Destination],
) -> anyhow::Result<()> {
    use base64::Engine;
    let serial = envelope.certificate_serial.to_ascii_lowercase();
    let canonical = manifest(&envelope.id, &serial, files, destinations)
        .canonical()
        .map_err(|error| anyhow::anyhow!("writing the manifest: {error}"))?;
    let signature = key.sign(canonical.as_bytes());
    let body = json!({
        "manifest": canonical,
        "signature": base64::engine::general_purpose::STANDARD.encode(signature),
    });
    let accepted: EnvelopeView = read_json(
        session
            .write(
                reqwest::Method::POST,
                &format!("api/v1/envelopes/{}/manifest", envelope.id),
            )
            .json(&body)
            .send()
            .await?,
        reqwest::StatusCode::OK,
        "sending the signed manifest",
    )
    .await?;
    say!("manifest signed and accepted (envelope {})", accepted.state);
    Ok(())
}

/// Sends each file as it is read from the disk (never whole in memory), with its length:
/// a file that changed since it was hashed is refused, by this command or the server.
async fn send_files(
    session: &Session,
    id: &str,
    files: &[LocalFile],
) -> anyhow::Result<EnvelopeView> {
    let mut last = None;
    for (index, file) in files.iter().enumerate() {
        let opened = tokio::fs::File::open(&file.path)
            .await
            .with_context(|| format!("opening {}", file.path.display()))?;
        let size = opened.metadata().await?.len();
        if size != file.entry.size {
            bail!(
                "{} changed since it was hashed ({} bytes then, {size} now): nothing more was sent",
                file.path.display(),
                file.entry.size
            );
        }
        say!(
            "sending {} ({} of {})",
            file.entry.name,
            index + 1,
            files.len()
        );
        let what = format!("sending {}", file.entry.name);
        let mut refused = 0;
        let mut opened = Some(opened);
        let (status, body) = loop {
            // The file is opened again for each try (an upload refused or cut keeps
            // nothing of it on the server), and must still be the size it was hashed at.
            let body = match opened.take() {
                Some(opened) => opened,
                None => {
                    let reopened = tokio::fs::File::open(&file.path)
                        .await
                        .with_context(|| format!("opening {}", file.path.display()))?;
                    if reopened.metadata().await?.len() != size {
                        bail!(
                            "{} changed since it was hashed: nothing more was sent",
                            file.path.display()
                        );
                    }
                    reopened
                }
            };
            let sent = session
                .write(
                    reqwest::Method::PUT,
                    &format!("api/v1/envelopes/{id}/files/{index}"),
                )
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(reqwest::Body::from(body))
                .send()
                .await;
            // A server with no place answers before it reads the body and closes the
            // connection: a large file still on its way sees the connection end, not the
            // answer. Sent again within the same bound.
            let answer = match sent {
                Ok(answer) => answer,
                Err(error)
                    if refused < BUSY_TRIES_MAX && (error.is_request() || error.is_body()) =>
                {
                    let wait = Duration::from_secs(1 << refused);
                    refused += 1;
                    say!(
                        "the connection ended before the server answered: {} is sent again \
                         in {} s",
                        file.entry.name,
                        wait.as_secs()
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(error) => return Err(anyhow::Error::new(error).context(what.clone())),
            };
            let status = answer.status();
            let body = read_bounded(answer, JSON_BYTES_MAX)
                .await
                .with_context(|| format!("{what}: reading the answer"))?;
            let refusal = parse_refusal(status.as_u16(), &body);
            match send_again_after(refusal.as_ref(), refused) {
                Some(wait) => {
                    refused += 1;
                    say!(
                        "no place for {} now (the server's or yours: {}): sent again in {} s",
                        file.entry.name,
                        refusal.as_ref().map_or("", |refusal| refusal.code.as_str()),
                        wait.as_secs()
                    );
                    tokio::time::sleep(wait).await;
                }
                None => break (status, body),
            }
        };
        last = Some(json_of(status, &body, reqwest::StatusCode::OK, &what)?);
    }
    last.context("no file to send")
}

/// Tries of a file the server refused for want of a place (`uploads_busy`: its own
/// places, `too_many_uploads`: the client's), before the command gives up.
const BUSY_TRIES_MAX: u32 = 5;

/// How long to wait before sending a file again that the server refused for want of a
/// place, the `refused`-th time (1, 2, 4, 8 then 16 seconds); `None` for any other answer,
/// or once [`BUSY_TRIES_MAX`] tries were refused.
fn send_again_after(refusal: Option<&Refusal>, refused: u32) -> Option<Duration> {
    let busy = refusal.is_some_and(|refusal| {
        matches!(
            (refusal.status, refusal.code.as_str()),
            (503, "uploads_busy") | (429, "too_many_uploads")
        )
    });
    (busy && refused < BUSY_TRIES_MAX).then(|| Duration::from_secs(1 << refused))
}

/// Asks for the seal until the server takes it: a wrong one is said with the tries left,
/// `resend` asks for a new one; the envelope failed (three wrong) or its seal expired
/// ends the command.
async fn seal(session: &Session, id: &str, seals: &mut SealReader) -> anyhow::Result<EnvelopeView> {
    for _ in 0..SEAL_PROMPTS_MAX {
        let Some(typed) = seals.next().await? else {
            bail!(
                "no seal was typed (end of input): the envelope waits for its seal until it expires"
            );
        };
        if typed.eq_ignore_ascii_case("resend") {
            let answer = session
                .write(
                    reqwest::Method::POST,
                    &format!("api/v1/envelopes/{id}/seal/resend"),
                )
                .send()
                .await?;
            let status = answer.status();
            if status.is_success() {
                say!("a new seal was sent to your phone (the previous one no longer works)");
            } else {
                let body = read_bounded(answer, JSON_BYTES_MAX)
                    .await
                    .unwrap_or_default();
                match parse_refusal(status.as_u16(), &body) {
                    Some(refusal) => say!("no new seal: {refusal}"),
                    None => say!("no new seal: the server answered HTTP {status}"),
                }
            }
            continue;
        }
        let body = json!({ "seal": typed.as_str() });
        let answer = session
            .write(
                reqwest::Method::POST,
                &format!("api/v1/envelopes/{id}/seal"),
            )
            .json(&body)
            .send()
            .await?;
        drop(body);
        let error =
            match read_json::<EnvelopeView>(answer, reqwest::StatusCode::OK, "sending the seal")
                .await
            {
                Ok(envelope) => return Ok(envelope),
                Err(error) => error,
            };
        let Some(refusal) = error.downcast_ref::<Refusal>() else {
            return Err(error);
        };
        match refusal.code.as_str() {
            "wrong_seal" => {
                let tries_left = match refusal.tries_left {
                    Some(n) => Some(n),
                    None => session.envelope(id).await.ok().and_then(|e| e.tries_left),
                };
                match tries_left {
                    Some(1) => say!("That is not the seal sent to your phone: 1 try left."),
                    Some(n) => say!("That is not the seal sent to your phone: {n} tries left."),
                    None => say!(
                        "That is not the seal sent to your phone ({}).",
                        refusal.message
                    ),
                }
            }
            "envelope_failed" => bail!(
                "three wrong seals: the envelope failed and nothing was signed ({})",
                refusal.message
            ),
            "seal_expired" => bail!(
                "the seal has expired: nothing was signed; run the command again ({})",
                refusal.message
            ),
            _ => return Err(error),
        }
    }
    bail!("{SEAL_PROMPTS_MAX} seals typed without success: stopping (nothing was signed)")
}

/// A sealed envelope is signed at once, or waits for the time-stamp authority: asked
/// again every few seconds, for a few minutes at most.
async fn wait_until_notarized(
    session: &Session,
    mut envelope: EnvelopeView,
) -> anyhow::Result<EnvelopeView> {
    let mut said_why = false;
    let tries = NOTARIZED_WAIT_S_MAX / NOTARIZED_POLL_S;
    for _ in 0..tries {
        match envelope.state.as_str() {
            "notarized" => return Ok(envelope),
            "sealed" => {}
            other => bail!(
                "the sealed envelope is {other}{}{}",
                refusal_text(&envelope),
                envelope
                    .waiting
                    .as_deref()
                    .map(|why| format!(": {why}"))
                    .unwrap_or_default()
            ),
        }
        if !said_why {
            say!(
                "sealed; the signatures wait: {}",
                envelope.waiting.as_deref().unwrap_or("(no reason given)")
            );
            said_why = true;
        }
        tokio::time::sleep(Duration::from_secs(NOTARIZED_POLL_S)).await;
        envelope = session.envelope(&envelope.id).await?;
    }
    bail!(
        "envelope {} is sealed but still not signed after {NOTARIZED_WAIT_S_MAX} s: it will be; \
         download its results from the wallet later",
        envelope.id
    )
}

/// What the downloads came to.
#[derive(Debug, Default)]
struct Written {
    paths: Vec<PathBuf>,
    /// Results that should have been there and were not written.
    missing: usize,
}

async fn download(
    session: &Session,
    envelope: &EnvelopeView,
    files: &[LocalFile],
    outputs: &Outputs,
    args: &NotarizeArgs,
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    let total: u64 = files.iter().map(|file| file.entry.size).sum();
    for (index, file) in files.iter().enumerate() {
        let view = envelope.files.iter().find(|view| view.index == index);
        match view.and_then(|view| view.signature_url.as_deref()) {
            Some(url) => {
                let path = args.out.join(&outputs.signatures[index]);
                fetch(session, url, &path, SIGNATURE_BYTES_MAX, args.force).await?;
                written.paths.push(path);
            }
            None => {
                say!("no signature offered for {}", file.entry.name);
                written.missing += 1;
            }
        }
        if let Some(url) = view.and_then(|view| view.signed_pdf_url.as_deref()) {
            let path = args.out.join(&outputs.signed_pdfs[index]);
            let bytes_max = file.entry.size.saturating_add(DOWNLOAD_OVERHEAD_BYTES_MAX);
            fetch(session, url, &path, bytes_max, args.force).await?;
            written.paths.push(path);
        } else if let Some(note) = view.and_then(|view| view.pdf_note.as_deref()) {
            say!("{}: no signed PDF ({note})", file.entry.name);
        }
    }
    match envelope.container_url.as_deref() {
        Some(url) => {
            let path = args.out.join(Outputs::container(&envelope.id));
            let bytes_max = total.saturating_add(DOWNLOAD_OVERHEAD_BYTES_MAX);
            fetch(session, url, &path, bytes_max, args.force).await?;
            written.paths.push(path);
        }
        None => {
            say!("no container offered");
            written.missing += 1;
        }
    }
    let evidence = envelope
        .evidence_url
        .clone()
        .unwrap_or_else(|| format!("/api/v1/envelopes/{}/evidence", envelope.id));
    let path = args.out.join(Outputs::evidence(&envelope.id));
    match fetch(
        session,
        &evidence,
        &path,
        DOWNLOAD_OVERHEAD_BYTES_MAX,
        args.force,
    )
    .await
    {
        Ok(()) => written.paths.push(path),
        Err(error)
            if error
                .downcast_ref::<Refusal>()
                .is_some_and(|r| r.status == 404) =>
        {
            say!("the evidence bundle is not available (yet)");
        }
        Err(error) => return Err(error),
    }
    Ok(written)
}

/// Downloads `url` into `path` through a temporary file in the same directory, renamed
/// into place once whole and on the disk: never a half-written result, and never one
/// replaced unless `force`.
async fn fetch(
    session: &Session,
    url: &str,
    path: &Path,
    bytes_max: u64,
    force: bool,
) -> anyhow::Result<()> {
    let url = session.resolve(url)?;
    let mut answer = session
        .http
        .get(url.clone())
        .header(reqwest::header::COOKIE, session.cookie.as_str())
        .send()
        .await
        .with_context(|| format!("downloading {}", url.path()))?;
    let status = answer.status();
    if status != reqwest::StatusCode::OK {
        let body = read_bounded(answer, JSON_BYTES_MAX)
            .await
            .unwrap_or_default();
        return Err(match parse_refusal(status.as_u16(), &body) {
            Some(refusal) => {
                anyhow::Error::new(refusal).context(format!("downloading {}", url.path()))
            }
            None => anyhow::Error::new(Refusal {
                status: status.as_u16(),
                code: "http".into(),
                message: format!("HTTP {status}"),
                tries_left: None,
            })
            .context(format!("downloading {}", url.path())),
        });
    }
    let directory = path.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new()
        .prefix(".sceau-download-")
        .tempfile_in(directory)
        .with_context(|| format!("writing in {}", directory.display()))?;
    let mut size: u64 = 0;
    while let Some(chunk) = answer
        .chunk()
        .await
        .with_context(|| format!("downloading {}", url.path()))?
    {
        size += chunk.len() as u64;
        if size > bytes_max {
            bail!("{} is larger than {bytes_max} bytes: not kept", url.path());
        }
        temporary.write_all(&chunk)?;
    }
    temporary.as_file().sync_all()?;
    let placed = if force {
        temporary.persist(path).map(|_| ())
    } else {
        temporary.persist_noclobber(path).map(|_| ())
    };
    placed.map_err(|error| anyhow::anyhow!("writing {}: {}", path.display(), error.error))?;
    if let Ok(directory) = std::fs::File::open(directory) {
        let _ = directory.sync_all();
    }
    say!("wrote {} ({size} bytes)", path.display());
    Ok(())
}

fn summary(
    session: &Session,
    envelope: &EnvelopeView,
    files: &[LocalFile],
    outputs: &Outputs,
    out: &Path,
    written: &Written,
) {
    say!("");
    say!(
        "envelope {}: {}{}",
        envelope.id,
        envelope.state,
        envelope
            .notarized_at
            .as_deref()
            .map(|at| format!(" at {at}"))
            .unwrap_or_default()
    );
    say!(
        "{} result{} written in {}",
        written.paths.len(),
        if written.paths.len() == 1 { "" } else { "s" },
        out.display()
    );
    let root = endpoint(&session.server, "pki/root.pem");
    say!("to check the signatures offline, with the server's root certificate:");
    say!("  curl -so root.pem {root}");
    for (index, file) in files.iter().enumerate() {
        let signature = out.join(&outputs.signatures[index]);
        if !written.paths.contains(&signature) {
            continue;
        }
        let (signature, content) = (shell_quoted(&signature), shell_quoted(&file.path));
        say!("  sceau verify --root root.pem --signature {signature} --content {content}");
        say!(
            "  openssl cms -verify -binary -inform DER -in {signature} -content {content} \
             -CAfile root.pem -purpose any -out /dev/null"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A file refused for want of a place is sent again after 1, 2, 4, 8 and 16 seconds,
    /// then the command gives up; any other refusal ends it at once.
    #[test]
    fn a_file_is_sent_again_only_when_the_server_had_no_place_for_it() {
        let refusal = |status: u16, code: &str| {
            parse_refusal(
                status,
                format!(r#"{{"error":{{"code":"{code}","message":"…"}}}}"#).as_bytes(),
            )
        };
        for busy in [
            refusal(503, "uploads_busy"),
            refusal(429, "too_many_uploads"),
        ] {
            let waits: Vec<_> = (0..6)
                .map(|refused| send_again_after(busy.as_ref(), refused).map(|w| w.as_secs()))
                .collect();
            assert_eq!(
                waits,
                [Some(1), Some(2), Some(4), Some(8), Some(16), None],
                "{busy:?}"
            );
        }
        for other in [
            refusal(503, "store_unavailable"),
            refusal(429, "too_many_signatures"),
            refusal(422, "file_digest_mismatch"),
            refusal(429, "uploads_busy"),
            None,
        ] {
            assert_eq!(send_again_after(other.as_ref(), 0), None, "{other:?}");
        }
    }

    fn check_destination(text: &str, expected: Result<(Option<&str>, Option<&str>), &str>) {
        let parsed = parse_destination(text).map(|d| {
            (
                d.email.map(|e| e.as_str().to_owned()),
                d.phone.map(|p| p.as_str().to_owned()),
            )
        });
        match expected {
            Ok((email, phone)) => assert_eq!(
                parsed,
                Ok((email.map(str::to_owned), phone.map(str::to_owned))),
                "{text:?}"
            ),
            Err(part) => {
                let error = parsed.expect_err(text);
                assert!(error.contains(part), "{text:?}: {error}");
            }
        }
    }

    #[test]
    fn destinations_take_an_address_a_number_or_both() {
        let both = Ok((Some("bob@example.org"), Some("+33612345678")));
        check_destination("bob@example.org,+33612345678", both);
        check_destination("+33612345678, bob@example.org", both);
        check_destination("bob@example.org", Ok((Some("bob@example.org"), None)));
        check_destination("bob@example.org,", Ok((Some("bob@example.org"), None)));
        check_destination(",+33612345678", Ok((None, Some("+33612345678"))));
        check_destination("", Err("give an e-mail address"));
        check_destination(",", Err("give an e-mail address"));
        check_destination("a@b.org,c@d.org", Err("two e-mail addresses"));
        check_destination("+33612345678,+33687654321", Err("two phone numbers"));
        check_destination("+33 6 12", Err("international form"));
        check_destination("bob", Err("neither"));
        check_destination("a@b.org,+33612345678,c", Err("at most"));
    }

    #[test]
    fn a_file_is_named_by_its_own_name_in_form_c() {
        let name = |path: &str| file_name(Path::new(path)).map(|n| n.as_str().to_owned());
        assert_eq!(name("/tmp/x/contrat.pdf").unwrap(), "contrat.pdf");
        assert_eq!(name("re\u{301}sume\u{301}.txt").unwrap(), "résumé.txt");
        assert!(name("/").is_err());
        assert!(name("..").is_err());
        assert!(name("dir/say \"hi\".txt").is_err());
        assert!(name("dir/ leading.txt").is_err());
        let error = format!("{:#}", file_name(Path::new("a/tab\there")).unwrap_err());
        assert!(error.contains("a/tab\there cannot be sent"), "{error}");
    }

    #[test]
    fn hashing_reads_in_pieces_and_matches_the_whole() {
        for size in [
            0,
            1,
            HASH_BUFFER_BYTES - 1,
            HASH_BUFFER_BYTES,
            3 * HASH_BUFFER_BYTES + 7,
        ] {
            let data: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
            let (read, digest) = hash_reader(data.as_slice()).unwrap();
            assert_eq!(read, size as u64);
            assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&data)), "{size}");
        }
        let (_, empty) = hash_reader(std::io::empty()).unwrap();
        assert_eq!(
            hex::encode(empty),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn files_are_hashed_and_refused_before_anything_is_sent() {
        let directory = tempfile::tempdir().unwrap();
        let a = directory.path().join("a.txt");
        std::fs::write(&a, b"abc").unwrap();
        let files = local_files(std::slice::from_ref(&a), &[]).unwrap();
        assert_eq!(files[0].entry.name.as_str(), "a.txt");
        assert_eq!(files[0].entry.size, 3);
        assert_eq!(
            hex::encode(files[0].entry.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let other = directory.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("a.txt"), b"").unwrap();
        let twice = local_files(&[a.clone(), other.join("a.txt")], &[]).unwrap_err();
        assert!(
            format!("{twice:#}").contains("two files are named"),
            "{twice:#}"
        );
        let folder = local_files(std::slice::from_ref(&other), &[]).unwrap_err();
        assert!(
            format!("{folder:#}").contains("not a regular file"),
            "{folder:#}"
        );
        let missing = local_files(&[directory.path().join("none")], &[]).unwrap_err();
        assert!(format!("{missing:#}").contains("opening"), "{missing:#}");
    }

    /// The key's public half is what the server takes, and what it signs over the
    /// canonical manifest verifies as the server checks it, with the certificate the
    /// authority issues for that key.
    #[test]
    fn the_station_signs_the_manifest_as_the_server_checks_it() {
        let directory = tempfile::tempdir().unwrap();
        let keystore: std::sync::Arc<dyn sceau_pki::Keystore> = std::sync::Arc::new(
            sceau_pki::FileKeystore::open(&directory.path().join("keys"), &[7; 32]).unwrap(),
        );
        let now_s = chrono::Utc::now().timestamp();
        let authority = sceau_pki::Authority::create(keystore, "sceau test", now_s - 60).unwrap();
        let key = StationKey::new();
        let public = sceau_pki::station::parse_station_key(&key.public_key_der().unwrap()).unwrap();
        let certificate = authority
            .certify_station_key(&public, "sceau disposable certificate", now_s - 60, 600)
            .unwrap();
        let file = directory.path().join("contrat.pdf");
        std::fs::write(&file, b"%PDF-1.7 ...").unwrap();
        let files = local_files(&[file], &[]).unwrap();
        let destination = parse_destination("bob@example.org,+33612345678").unwrap();
        let serial = sceau_pki::ca::serial_hex(&certificate);
        let manifest = manifest("0123abcd", &serial, &files, &[destination]);
        let canonical = manifest.canonical().unwrap();
        assert!(
            canonical.starts_with(&format!("{{\"certificate\":\"{serial}\",")),
            "{canonical}"
        );
        assert!(
            canonical.contains("\"name\":\"contrat.pdf\""),
            "{canonical}"
        );
        let signature = key.sign(canonical.as_bytes());
        assert!(sceau_pki::station::station_signature_verifies(
            &certificate,
            canonical.as_bytes(),
            &signature
        ));
        let mut changed = canonical.clone().into_bytes();
        changed[2] ^= 1;
        assert!(!sceau_pki::station::station_signature_verifies(
            &certificate,
            &changed,
            &signature
        ));
        let other = StationKey::new().sign(canonical.as_bytes());
        assert!(!sceau_pki::station::station_signature_verifies(
            &certificate,
            canonical.as_bytes(),
            &other
        ));
    }

    #[test]
    fn only_https_or_this_machine_s_http_is_used() {
        for ok in [
            "https://sceau.example",
            "https://sceau.example/notary/",
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(server_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://sceau.example",
            "http://10.0.0.1:8080",
            "ftp://sceau.example",
            "sceau.example",
            "https://sceau.example/?a=b",
        ] {
            assert!(server_url(refused).is_err(), "{refused}");
        }
        let server = server_url("https://sceau.example/notary/").unwrap();
        assert_eq!(
            endpoint(&server, "login"),
            "https://sceau.example/notary/login"
        );
    }

    #[test]
    fn outputs_never_share_a_name() {
        let directory = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for name in ["a.pdf", "a.PDF", "a.pdf.p7s", "a"] {
            let path = directory.path().join(name);
            std::fs::write(&path, name).unwrap();
            paths.push(path);
        }
        let files = local_files(&paths, &[]).unwrap();
        let outputs = Outputs::of(&files);
        assert_eq!(outputs.signatures[0], "a.pdf.p7s");
        assert_eq!(outputs.signed_pdfs[1], "a.PDF.signed.pdf");
        let mut all: Vec<String> = outputs.signatures.clone();
        all.extend(outputs.signed_pdfs.clone());
        all.push(Outputs::container("0123"));
        all.push(Outputs::evidence("0123"));
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{all:?}");
        assert!(looks_like_pdf(&files[1].entry.name));
        assert!(!looks_like_pdf(&files[2].entry.name));
    }

    #[test]
    fn envelope_ids_go_in_paths_only_when_plain() {
        assert!(envelope_id_usable("0123456789abcdef0123456789abcdef"));
        assert!(envelope_id_usable("env_7Qx-1"));
        for refused in ["", "../x", "a/b", "a b", "a.b", &"a".repeat(65)] {
            assert!(!envelope_id_usable(refused), "{refused:?}");
        }
    }

    #[test]
    fn refusals_are_read_with_their_code_and_tries() {
        let body = br#"{"error": {"code": "wrong_seal", "message": "this is not the seal sent to your phone; 2 tries left"}}"#;
        let refusal = parse_refusal(422, body).unwrap();
        assert_eq!(refusal.code, "wrong_seal");
        assert_eq!(refusal.tries_left, None);
        assert_eq!(
            refusal.to_string(),
            "the server refused (wrong_seal, HTTP 422): this is not the seal sent to your phone; 2 tries left"
        );
        let body = br#"{"error": {"code": "wrong_seal", "message": "", "tries_left": 1}}"#;
        assert_eq!(parse_refusal(422, body).unwrap().tries_left, Some(1));
        let body = br#"{"error": {"code": "wrong_seal", "message": ""}, "tries_left": 2}"#;
        assert_eq!(parse_refusal(422, body).unwrap().tries_left, Some(2));
        assert!(parse_refusal(502, b"<html>Bad gateway</html>").is_none());
        assert!(parse_refusal(400, br#"{"message": "no code"}"#).is_none());
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_they_need_it() {
        assert_eq!(shell_quoted(Path::new("out/a.pdf.p7s")), "out/a.pdf.p7s");
        assert_eq!(shell_quoted(Path::new("my file.pdf")), "'my file.pdf'");
        assert_eq!(shell_quoted(Path::new("l'acte.pdf")), "'l'\\''acte.pdf'");
        assert_eq!(shell_quoted(Path::new("$(x)")), "'$(x)'");
    }

    #[test]
    fn the_envelope_json_of_the_contract_is_read() {
        let text = r#"{"id": "0123456789abcdef0123456789abcdef", "state": "notarized",
            "refusal": null, "certificate_serial": "0a1b", "certificate_expires_at": "2026-01-01T00:00:00Z",
            "created_at": "2026-01-01T00:00:00Z", "manifest_sha256": "ab",
            "files": [{"index": 0, "name": "a.pdf", "size": 3, "sha256": "00", "received": true,
                       "signature_url": "/api/v1/envelopes/x/files/0/signature.p7s",
                       "signed_pdf_url": null, "pdf_note": "not a PDF", "download_url": "/d"}],
            "destinations": [{"email": "bob@example.org"}], "seal_expires_at": null,
            "tries_left": null, "notarized_at": "2026-01-01T00:01:00Z", "waiting": null,
            "container_url": "/c", "evidence_url": "/e",
            "limits": {"files_max": 20, "file_bytes_max": 1073741824, "envelope_bytes_max": 2147483648}}"#;
        let envelope: EnvelopeView = serde_json::from_str(text).unwrap();
        assert_eq!(envelope.state, "notarized");
        assert_eq!(envelope.files[0].pdf_note.as_deref(), Some("not a PDF"));
        assert_eq!(envelope.limits.unwrap().files_max, 20);
        assert_eq!(envelope.container_url.as_deref(), Some("/c"));
    }
}
