//! The README's walkthrough, run exactly as printed: every `sh` block of its walkthrough
//! sections, in order, in one directory beside a fresh `sceau serve`, with `sceau` on the
//! PATH. Only the documented placeholders are filled in: the address `127.0.0.1:8080`
//! (the server listens on a free port) and the variables the README sets on lines of
//! their own from what an earlier command printed (`KEY=sk_…`), which take the value the
//! earlier command really printed. A command fails the test when its exit status is not
//! 0 (or the `# → exit status N` it shows), or when its answer lacks a `# → …` line:
//! the HTTP status first, then the body, `…` standing for anything.
//!
//! The one step a browser does (paying a checkout on its page) is done here through the
//! page's own forms, as the browser would post them. The webhook examples (Python and
//! Node.js) then check a webhook that this server really sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const README: &str = include_str!("../../../README.md");

/// The sections whose `sh` blocks are the walkthrough, in the README's order.
const WALKTHROUGH: &[&str] = &[
    "Enrolling clients and merchants",
    "The merchant API",
    "Payment by seal",
    "Time-stamps (RFC 3161) and the certificate authority",
    "Certificates, signatures in a client's name, and checking them offline",
    "Evidence: records, the transparency log, receipts and bundles",
];
const WEBHOOKS: &str = "Checking webhooks";
/// The address the README's commands name: `sceau serve`'s default.
const README_ADDRESS: &str = "127.0.0.1:8080";
/// What the walkthrough's commands and the webhook examples run.
const TOOLS: &[&str] = &[
    "bash", "curl", "jq", "openssl", "xxd", "cmp", "python3", "node",
];
/// Alice as the README enrols her: the browser step signs in with these.
const ENROLMENT: &str = "echo 'a long password' | sceau admin client-add --login alice";
const LOGIN: &str = "alice";
const PASSWORD: &str = "a long password";
const PHONE: &str = "+33612345678";

/// The placeholders the README lists, each found in an earlier command's output.
type Find = fn(&str) -> Option<Vec<String>>;
const PLACEHOLDERS: &[(&[&str], Find)] = &[
    (&["KEY"], |text| {
        after(text, "sk_", is_hex).map(|k| vec![format!("sk_{k}")])
    }),
    (&["NUMBER", "EXPIRY_MONTH", "EXPIRY_YEAR", "CODE"], card),
    (&["CHECKOUT"], |text| {
        after(text, "\"id\":\"co_", is_hex).map(|id| vec![format!("co_{id}")])
    }),
    (&["SEAL"], |text| {
        after(text, "your seal is ", is_digit).map(|s| vec![s])
    }),
    (&["SIGNATURE"], signature_id),
    (&["ENTRY"], |text| {
        after(text, " is entry ", is_digit).map(|e| vec![e])
    }),
];

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// The first run of `kind` characters right after `marker` in `text`.
fn after(text: &str, marker: &str, kind: fn(char) -> bool) -> Option<String> {
    text.match_indices(marker).find_map(|(at, _)| {
        let value: String = text[at + marker.len()..]
            .chars()
            .take_while(|c| kind(*c))
            .collect();
        (!value.is_empty()).then_some(value)
    })
}

/// A card's SMS: `single-use card 4999 9904 3219 1887 exp 12/26 code 289`.
fn card(text: &str) -> Option<Vec<String>> {
    let rest = &text[text.find("single-use card")?..];
    let start = rest.find(is_digit)?;
    let number: String = rest[start..]
        .chars()
        .take(19)
        .filter(|c| *c != ' ')
        .collect();
    if number.len() != 16 || !number.chars().all(is_digit) {
        return None;
    }
    let expiry = after(rest, " exp ", |c| c.is_ascii_digit() || c == '/')?;
    let (month, year) = expiry.split_once('/')?;
    let code = after(rest, " code ", is_digit)?;
    Some(vec![number, month.to_owned(), format!("20{year}"), code])
}

/// A signature request's id: 32 hexadecimal digits.
fn signature_id(text: &str) -> Option<Vec<String>> {
    text.match_indices("\"id\":\"").find_map(|(at, marker)| {
        let value = text[at + marker.len()..].split('"').next()?;
        (value.len() == 32 && value.chars().all(is_hex)).then(|| vec![value.to_owned()])
    })
}

/// A fenced block of the README, under the heading it comes after.
struct Block {
    heading: String,
    info: String,
    text: String,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut open: Option<Block> = None;
    for line in readme.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (Some(_), Some("")) => blocks.push(open.take().unwrap()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, Some(info)) => {
                open = Some(Block {
                    heading: heading.clone(),
                    info: info.trim().to_owned(),
                    text: String::new(),
                })
            }
            (None, None) if line.starts_with('#') => {
                heading = line.trim_start_matches('#').trim().to_owned();
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block of the README is not closed");
    blocks
}

/// A command of a block (its lines, continuations and here-documents included) and the
/// `# →` lines after it; or the browser's step.
#[derive(Debug)]
enum Step {
    Run { text: String, expected: Vec<String> },
    Browser(String),
}

/// Where a shell reading the lines so far stands: inside quotes, a here-document, or a
/// line ending in `\`.
#[derive(Default)]
struct Shell {
    quote: Option<char>,
    here_pending: Option<String>,
    here_body: Option<String>,
    continued: bool,
}

impl Shell {
    fn feed(&mut self, line: &str) {
        if let Some(end) = &self.here_body {
            if line.trim() == end {
                self.here_body = None;
            }
            return;
        }
        let characters: Vec<char> = line.chars().collect();
        let mut at = 0;
        while at < characters.len() {
            let c = characters[at];
            match self.quote {
                Some('\'') if c == '\'' => self.quote = None,
                Some('"') if c == '\\' => at += 1,
                Some('"') if c == '"' => self.quote = None,
                Some(_) => {}
                None if c == '\\' => at += 1,
                None if c == '\'' || c == '"' => self.quote = Some(c),
                None if c == '#' && (at == 0 || characters[at - 1].is_whitespace()) => break,
                None if c == '<' && characters.get(at + 1) == Some(&'<') => {
                    let word: String = characters[at + 2..]
                        .iter()
                        .skip_while(|c| **c == '-' || c.is_whitespace())
                        .take_while(|c| !c.is_whitespace() && **c != ';')
                        .filter(|c| **c != '\'' && **c != '"')
                        .collect();
                    self.here_pending = Some(word);
                    at += 1;
                }
                None => {}
            }
            at += 1;
        }
        self.continued = self.quote.is_none() && line.ends_with('\\');
        self.here_body = self.here_pending.take();
    }

    fn complete(&self) -> bool {
        self.quote.is_none() && self.here_body.is_none() && !self.continued
    }
}

fn steps(block: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current: Option<(String, Shell)> = None;
    for line in block.lines() {
        if let Some((text, shell)) = &mut current {
            text.push('\n');
            text.push_str(line);
            shell.feed(line);
            if shell.complete() {
                let (text, _) = current.take().unwrap();
                steps.push(Step::Run {
                    text,
                    expected: Vec::new(),
                });
            }
            continue;
        }
        let trimmed = line.trim();
        if let Some(expected) = trimmed.strip_prefix("# →") {
            match steps.last_mut() {
                Some(Step::Run {
                    expected: lines, ..
                }) => lines.push(expected.trim().to_owned()),
                _ => panic!("`# →` after no command: {line}"),
            }
        } else if let Some(what) = trimmed.strip_prefix("# In the browser:") {
            steps.push(Step::Browser(what.trim().to_owned()));
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
            let mut shell = Shell::default();
            shell.feed(line);
            if shell.complete() {
                steps.push(Step::Run {
                    text: line.to_owned(),
                    expected: Vec::new(),
                });
            } else {
                current = Some((line.to_owned(), shell));
            }
        }
    }
    assert!(current.is_none(), "a command is not finished:\n{block}");
    steps
}

/// Whether `text` holds the pieces of `pattern` between its `…`, in order, spaces
/// aside (JSON comes compact, the README writes it spaced).
fn holds(text: &str, pattern: &str) -> bool {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let text = squeeze(text);
    let mut from = 0;
    for piece in squeeze(pattern).split('…').filter(|p| !p.is_empty()) {
        match text[from..].find(piece) {
            Some(at) => from += at + piece.len(),
            None => return false,
        }
    }
    true
}

/// The names a command assigns as its first words (`CSRF=$(…)`, `KEY=sk_…`).
fn assigned(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map_while(|word| {
            let (name, _) = word.split_once('=')?;
            (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
            .then(|| name.to_owned())
        })
        .collect()
}

/// The single-letter options and long options of a `curl` command.
fn curl_options(text: &str) -> (String, Vec<&str>) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let short = words
        .iter()
        .filter(|w| w.len() > 1 && w.starts_with('-') && !w.starts_with("--"))
        .flat_map(|w| w[1..].chars())
        .collect();
    let long = words
        .iter()
        .copied()
        .filter(|w| w.starts_with("--"))
        .collect();
    (short, long)
}

fn starts_with_status(line: &str) -> Option<(&str, &str)> {
    let status = line.get(..3)?;
    let rest = &line[3..];
    (status.chars().all(is_digit) && (rest.is_empty() || rest.starts_with(' ')))
        .then_some((status, rest))
}

/// The walkthrough's state: the directory, the server, the variables, what was printed.
struct Session {
    server: common::Server,
    directory: PathBuf,
    bin: PathBuf,
    cwd: PathBuf,
    variables: BTreeMap<String, String>,
    carried: Vec<String>,
    outputs: Vec<String>,
}

impl Session {
    fn host(&self) -> &str {
        self.server.base.trim_start_matches("http://")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCEAU_")) {
            command.env_remove(name);
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bin.clone()];
        paths.extend(std::env::split_paths(&path));
        command
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env("SCEAU_LOG", "warn")
            .current_dir(&self.cwd);
        command
    }

    /// The values of `names`, from the newest output that has them.
    fn found(&self, names: &[&str]) -> Vec<String> {
        let (_, find) = PLACEHOLDERS
            .iter()
            .find(|(group, _)| *group == names)
            .unwrap_or_else(|| panic!("{names:?} are not the README's placeholders"));
        self.outputs
            .iter()
            .rev()
            .find_map(|output| find(output))
            .unwrap_or_else(|| panic!("no earlier output gives {names:?}"))
    }

    fn run(&mut self, text: &str, expected: &[String]) {
        let names: Vec<String> = assigned(text);
        let group = PLACEHOLDERS
            .iter()
            .find(|(group, _)| names.iter().map(String::as_str).eq(group.iter().copied()));
        if let Some((group, _)) = group {
            assert_eq!(
                text.split_whitespace()
                    .take_while(|word| !word.starts_with('#'))
                    .count(),
                group.len(),
                "a placeholder's line sets it and nothing else: {text}"
            );
            for (name, value) in group.iter().zip(self.found(group)) {
                self.variables.insert((*name).to_owned(), value);
            }
            return;
        }
        let placeholder = names.iter().find(|name| {
            PLACEHOLDERS
                .iter()
                .any(|(group, _)| group.contains(&name.as_str()))
        });
        assert!(
            placeholder.is_none(),
            "{placeholder:?} is a placeholder: set it on a line of its own\n{text}"
        );
        let text = text.replace(README_ADDRESS, self.host());
        let state = self.directory.join(".readme-state");
        let carried = self.carried.join(" ");
        let script = format!(
            "set -o pipefail\n{text}\n__status=$?\n{{ printf '%s\\0' \"$PWD\"; \
             for __name in {carried}; do printf '%s\\0%s\\0' \"$__name\" \"${{!__name-}}\"; \
             done; }} > '{}'\nexit $__status\n",
            state.display()
        );
        let output = self
            .command("bash")
            .args(["-c", &script])
            .envs(&self.variables)
            .output()
            .expect("run bash");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let state = std::fs::read(&state).expect("the command's state");
        let mut fields = state
            .split(|b| *b == 0)
            .map(|f| String::from_utf8_lossy(f).into_owned());
        self.cwd = PathBuf::from(fields.next().unwrap());
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            if !value.is_empty() {
                self.variables.insert(name, value);
            }
        }
        self.check(&text, expected, output.status.code(), &said);
        self.outputs.push(said);
    }

    fn check(&self, text: &str, expected: &[String], code: Option<i32>, said: &str) {
        let context = || format!("README command:\n{text}\nanswered:\n{said}");
        let status_wanted = expected
            .iter()
            .find_map(|line| line.strip_prefix("exit status "))
            .map_or(0, |code| code.parse().unwrap());
        assert_eq!(code, Some(status_wanted), "exit status; {}", context());
        let expected: Vec<String> = expected
            .iter()
            .filter(|line| !line.starts_with("exit status "))
            .map(|line| line.replace(README_ADDRESS, self.host()))
            .collect();
        let mut rest = expected.as_slice();
        if text.starts_with("curl ") {
            let (short, long) = curl_options(text);
            let shows_status = short.contains('i') || long.contains(&"--include");
            let fails = short.contains('f') || long.contains(&"--fail");
            let status_line = expected.first().and_then(|line| starts_with_status(line));
            assert!(
                if shows_status {
                    status_line.is_some()
                } else {
                    fails && status_line.is_none()
                },
                "a curl command either shows the status (-i) and says it (`# → 200 …`), or \
                 fails on an HTTP error (-f); {}",
                context()
            );
            if let Some((status, body)) = status_line {
                let first = said.lines().next().unwrap_or_default();
                assert!(
                    first.starts_with("HTTP/") && first.split(' ').nth(1) == Some(status),
                    "HTTP status {status} expected; {}",
                    context()
                );
                let answer = said.split_once("\r\n\r\n").map_or("", |(_, body)| body);
                assert!(holds(answer, body), "body `{body}` expected; {}", context());
                rest = &expected[1..];
            }
        }
        for line in rest {
            assert!(holds(said, line), "`{line}` expected; {}", context());
        }
    }
}

impl Session {
    /// `curl` with `args` in the session's directory: what it printed. Fails the test
    /// when curl does (an HTTP error with `-f`).
    fn curl(&self, args: &[&str]) -> String {
        let output = self.command("curl").arg("-sS").args(args).output().unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "curl {args:?}: {said}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        said
    }

    /// The newest SMS on alice's phone, as `sceau admin outbox` shows it (with its number).
    fn newest_sms(&self) -> String {
        let output = self
            .command("sceau")
            .args(["admin", "outbox", "--phone", PHONE, "--limit", "1"])
            .current_dir(&self.directory)
            .output()
            .unwrap();
        assert!(output.status.success(), "sceau admin outbox");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits (bounded) for an SMS newer than `before` that holds a seal: the seal.
    fn next_seal(&self, before: &str) -> String {
        for _ in 0..200 {
            let newest = self.newest_sms();
            if newest != before
                && let Some(seal) = after(&newest, "your seal is ", is_digit)
            {
                return seal;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no seal reached {PHONE}");
    }

    /// What the README's browser step does, through the payment page's forms: sign in
    /// as alice (which holds the amount), "Validate payment and sign", type the seal.
    fn pay_in_the_browser(&self, checkout: &str) {
        let page = format!("{}/pay/{checkout}", self.server.base);
        let jar = self.directory.join(".browser-cookies");
        let jar = jar.to_str().unwrap();
        let status = |args: &[&str]| -> String {
            let mut all = vec![
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-b",
                jar,
                "-c",
                jar,
            ];
            all.extend_from_slice(args);
            self.curl(&all)
        };
        let login = format!("login={LOGIN}");
        let password = format!("password={PASSWORD}");
        let signed_in = status(&["-d", &login, "-d", &password, &format!("{page}/sign-in")]);
        assert_eq!(signed_in, "303", "sign-in on the payment page");
        let shown = self.curl(&["-b", jar, &page]);
        let csrf = after(&shown, "name=\"csrf\" value=\"", is_hex).expect("the page's form");
        let csrf = format!("csrf={csrf}");
        let before = self.newest_sms();
        let validated = status(&["-d", &csrf, &format!("{page}/validate")]);
        assert_eq!(validated, "303", "Validate payment and sign");
        let seal = self.next_seal(&before);
        let typed = status(&[
            "-d",
            &csrf,
            "-d",
            &format!("seal={seal}"),
            &format!("{page}/seal"),
        ]);
        assert_eq!(typed, "303", "the seal typed");
    }
}

/// The tools missing from the PATH; under CI=true, none may be.
fn missing_tools() -> Vec<&'static str> {
    let paths: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| !paths.iter().any(|path| path.join(tool).is_file()))
        .collect();
    assert!(
        missing.is_empty() || std::env::var("CI").as_deref() != Ok("true"),
        "the README's walkthrough must run under CI: missing {} (Debian: apt-get install \
         curl jq openssl xxd diffutils python3 nodejs)",
        missing.join(", ")
    );
    missing
}

/// The walkthrough's commands, section by section, each section present with commands.
fn walkthrough() -> Vec<Step> {
    let blocks = blocks(README);
    let mut all = Vec::new();
    for section in WALKTHROUGH {
        let commands: Vec<Step> = blocks
            .iter()
            .filter(|block| block.heading == *section && block.info == "sh")
            .flat_map(|block| steps(&block.text))
            .collect();
        assert!(
            commands.iter().any(|step| matches!(step, Step::Run { .. })),
            "the README's section {section:?} has no `sh` commands (renamed?)"
        );
        all.extend(commands);
    }
    all
}

/// Issue 18: every command of the README's walkthrough does what the README says, in
/// order, on a fresh server; and the webhook examples accept a real webhook and refuse it
/// changed, late or under another secret.
#[test]
fn the_readme_walkthrough_runs_as_printed() {
    let missing = missing_tools();
    if !missing.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "note: {} not installed: the README's walkthrough was not run",
            missing.join(", ")
        );
        return;
    }
    assert!(
        README.contains(ENROLMENT),
        "alice is enrolled as the browser step expects"
    );
    assert!(
        !README.contains("localhost:8080"),
        "one host everywhere: a cookie set for 127.0.0.1 is not sent to localhost"
    );
    for (group, _) in PLACEHOLDERS {
        for name in *group {
            assert!(
                README.contains(&format!("`${name}`")),
                "the README lists ${name}"
            );
        }
    }
    let steps = walkthrough();
    let directory = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_sceau"), bin.path().join("sceau")).unwrap();
    // The webhook examples need a webhook to this machine; the README's own go to
    // https://shop.example, which this changes nothing for.
    // Its log at debug level, in JSON: kept to check that no secret of the walkthrough
    // is in it.
    let log = directory.path().join("server.log");
    let server = common::Server::start_logging(
        directory.path(),
        &[
            ("SCEAU_WEBHOOKS_TO_PRIVATE_NETWORKS", "true"),
            ("SCEAU_LOG", "debug"),
            ("SCEAU_LOG_FORMAT", "json"),
        ],
        &log,
    );
    let mut carried: Vec<String> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Run { text, .. } => Some(assigned(text)),
            Step::Browser(_) => None,
        })
        .flatten()
        .collect();
    carried.sort();
    carried.dedup();
    let mut session = Session {
        server,
        directory: directory.path().to_owned(),
        bin: bin.path().to_owned(),
        cwd: directory.path().to_owned(),
        variables: BTreeMap::new(),
        carried,
        outputs: Vec::new(),
    };
    for step in &steps {
        match step {
            Step::Run { text, expected } => session.run(text, expected),
            Step::Browser(what) => {
                let checkout = session.variables.get("CHECKOUT").expect("$CHECKOUT is set");
                assert!(
                    what.contains("sign in as alice"),
                    "a browser step of its own: {what}"
                );
                session.pay_in_the_browser(&checkout.clone());
            }
        }
    }
    webhook_examples(&session);
    // Stopped as a service manager stops it: at once and cleanly, its log then whole.
    let stopped = session.server.terminate(std::time::Duration::from_secs(80));
    assert!(stopped.success(), "sceau serve ended with {stopped}");
    the_log_keeps_no_secret(&session, &log);
}

/// Issue 23 (2): the server's log of the whole walkthrough, at debug level and in JSON:
/// each line one JSON object, the requests' lines with their id, and none of the secrets
/// the walkthrough used (keys, the card's number, the seal, the password, tokens), nor
/// the client's phone number.
fn the_log_keeps_no_secret(session: &Session, log: &Path) {
    let text = std::fs::read_to_string(log).unwrap();
    let mut requests = BTreeSet::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("a log line that is not JSON ({error}): {line}"));
        if let Some(id) = value["span"]["request_id"].as_str() {
            requests.insert(id.to_owned());
        }
    }
    assert!(
        requests.len() > 20,
        "the requests' lines carry their ids: {} ids",
        requests.len()
    );
    let read = |name: &str| {
        std::fs::read_to_string(session.directory.join(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let mut secrets = vec![
        ("the admin token", read("sceau-data/admin.token")),
        ("the master key", read("sceau-data/master.key")),
        ("alice's password", PASSWORD.to_owned()),
        ("alice's phone number", "+33612345678".to_owned()),
        ("alice's phone number", "33612345678".to_owned()),
        ("the webhook secret", webhook_secret(session)),
    ];
    // Not the card's three-digit code: any log has three-digit figures (statuses,
    // times); it is only ever written beside the number, which is looked for.
    for name in ["KEY", "NUMBER", "SEAL"] {
        let value = session.variables.get(name).expect(name).clone();
        secrets.push((name, value));
    }
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what} is a secret worth looking for");
        // As a whole word: an eight-digit seal is not found inside a longer figure.
        let alone = |at: usize| {
            let before = text[..at].chars().next_back();
            let after = text[at + secret.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        };
        let found = text.match_indices(secret.as_str()).any(|(at, _)| alone(at));
        assert!(!found, "{what} is in the server's log");
    }
}

/// The webhook secret `sceau admin merchant-add` printed.
fn webhook_secret(session: &Session) -> String {
    session
        .outputs
        .iter()
        .find_map(|output| after(output, "whsec_", is_hex))
        .map(|hex| format!("whsec_{hex}"))
        .expect("merchant-add printed the webhook secret")
}

/// Accepts one webhook delivery on a free loopback port, answers 204, and hands over its
/// `Sceau-Signature` header and raw body.
fn webhook_receiver() -> (u16, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let (mut signature, mut length) = (String::new(), 0);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match name.to_ascii_lowercase().as_str() {
                "sceau-signature" => signature = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().unwrap(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        let _ = sender.send((signature, body));
    });
    (port, receiver)
}

/// The README's example of the webhook's body, as JSON.
fn readme_webhook_body() -> serde_json::Value {
    let section = &README[README.find(&format!("### {WEBHOOKS}")).unwrap()..];
    let example = section
        .split("such as `")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap();
    serde_json::from_str(&example.replace('\n', " ")).expect("the README's webhook body")
}

/// The `checkout.paid` webhook of a checkout paid like the README's, as this server sent
/// it: its `Sceau-Signature` and its body (whose fields the README lists).
fn a_real_webhook(session: &Session) -> (String, Vec<u8>) {
    let (port, delivered) = webhook_receiver();
    let key = session.variables.get("KEY").unwrap();
    let request = serde_json::json!({
        "amount": "12.00", "currency": "EUR", "reference": "order-webhook", "object": "A map",
        "return_url": "https://shop.example/return",
        "webhook_url": format!("http://127.0.0.1:{port}/hooks"),
    });
    let created = session.curl(&[
        "-f",
        &format!("{}/v1/checkouts", session.server.base),
        "-H",
        &format!("Authorization: Bearer {key}"),
        "-H",
        "Content-Type: application/json",
        "-d",
        &request.to_string(),
    ]);
    let checkout = after(&created, "\"id\":\"co_", is_hex).unwrap();
    session.pay_in_the_browser(&format!("co_{checkout}"));
    let (header, body) = delivered
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the checkout.paid webhook");
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["type"], "checkout.paid", "{event}");
    let keys = |value: &serde_json::Value| -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        keys(&readme_webhook_body()),
        keys(&event),
        "the README's body is the real one's"
    );
    (header, body)
}

/// The README's Python and Node.js examples, and the demo shop's check, on a webhook
/// this server sent for a checkout paid like the README's.
fn webhook_examples(session: &Session) {
    let (header, body) = a_real_webhook(session);
    let secret = webhook_secret(session);
    let t: i64 = after(&header, "t=", is_digit).unwrap().parse().unwrap();
    let signed_at = |at: i64| {
        format!(
            "t={at},v1={}",
            sceau_crypto::webhook_signature(&secret, at, &body)
        )
    };
    let mut changed = body.clone();
    changed[body.len() / 2] ^= 1;
    // Another secret: the last hex digit changed (to 1 when it is 0, to 0 otherwise, so
    // that it always differs).
    let last = if secret.ends_with('0') { '1' } else { '0' };
    let other_secret = format!("{}{last}", &secret[..secret.len() - 1]);
    assert_ne!(other_secret, secret);
    // (header, body, secret, now, accepted)
    let cases: Vec<(String, &[u8], &str, i64, bool)> = vec![
        (header.clone(), &body, &secret, t + 1, true),
        (header.clone(), &changed, &secret, t + 1, false),
        (header.clone(), &body, &other_secret, t + 1, false),
        (header.clone(), &body, &secret, t + 300, true),
        (header.clone(), &body, &secret, t + 301, false),
        (header.clone(), &body, &secret, t - 301, false),
        // A delivery signed 400 s ago, played again: right signature, refused as late.
        (signed_at(t - 400), &body, &secret, t, false),
        (signed_at(t - 200), &body, &secret, t, true),
    ];
    let examples = examples_on_disk(&session.directory);
    for (header, body, secret, now, accepted) in &cases {
        let shop = sceau_shop::verify_signature(secret, header, body, *now);
        assert_eq!(shop, *accepted, "the demo shop on {header} at {now}");
        let body_file = session.directory.join(".webhook-body");
        std::fs::write(&body_file, body).unwrap();
        let body_file = body_file.to_str().unwrap();
        for (language, mut command) in examples.commands(session) {
            let output = command
                .args([header.as_str(), secret, body_file, &now.to_string()])
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&output.stdout)
                .trim()
                .to_ascii_lowercase();
            assert_eq!(
                said,
                accepted.to_string(),
                "the README's {language} example on {header} at {now}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// The README's webhook examples, written out with a few lines that call them.
struct Examples {
    python: PathBuf,
    node: PathBuf,
}

const PYTHON_CALL: &str = "import sys\nsys.path.insert(0, sys.argv[1])\n\
    from sceau_webhook import verify\n\
    header, secret, body, now = sys.argv[2:6]\n\
    print(verify(header, open(body, 'rb').read(), secret, float(now)))\n";
const NODE_CALL: &str = "const [directory, header, secret, body, now] = process.argv.slice(1);\n\
    const { verify } = require(require('path').join(directory, 'sceau_webhook.js'));\n\
    console.log(verify(header, require('fs').readFileSync(body), secret, Number(now)));\n";

fn examples_on_disk(directory: &Path) -> Examples {
    let blocks = blocks(README);
    let example = |info: &str| -> &str {
        let found: Vec<&Block> = blocks
            .iter()
            .filter(|block| block.heading == WEBHOOKS && block.info == info)
            .collect();
        assert_eq!(found.len(), 1, "one `{info}` example under {WEBHOOKS:?}");
        &found[0].text
    };
    let python = directory.join("sceau_webhook.py");
    std::fs::write(&python, example("python")).unwrap();
    let node = directory.join("sceau_webhook.js");
    std::fs::write(&node, example("js")).unwrap();
    Examples { python, node }
}

impl Examples {
    fn commands(&self, session: &Session) -> [(&'static str, Command); 2] {
        let mut python = session.command("python3");
        python
            .args(["-c", PYTHON_CALL])
            .arg(self.python.parent().unwrap());
        let mut node = session.command("node");
        node.args(["-e", NODE_CALL, "--"])
            .arg(self.node.parent().unwrap());
        [("Python", python), ("Node.js", node)]
    }
}
