//! A real browser for the page tests: Debian's headless Chromium, driven over WebDriver
//! (fantoccini) through a chromedriver that the harness starts and stops itself.
//!
//! - Everything listens on loopback: chromedriver on a port it picks (`--port=0`, read
//!   back from its output; without `--allowed-ips`, which would make it listen on every
//!   interface), Chromium's DevTools on localhost, the server under test on 127.0.0.1.
//! - Each [`Browser`] owns a temporary directory holding the profile (`--user-data-dir`),
//!   `HOME`, `TMPDIR` and chromedriver's log; it is removed on close or drop.
//! - chromedriver runs in a process group of its own, and Chromium in it: dropping a
//!   [`Browser`] (a test that panicked) kills the whole group. [`Browser::close`] ends the
//!   WebDriver session first, as a test that went well does.
//! - Nothing waits a fixed time for things to happen: every helper waits for a condition
//!   on the page, checked again and again up to [`WAIT_S_MAX`], and panics with the page's
//!   address and text when it never holds.
//!
//! Binaries: `SCEAU_CHROMEDRIVER` and `SCEAU_CHROMIUM`, else Debian's `chromium-driver`
//! and `chromium` (`/usr/bin/chromedriver`, `/usr/bin/chromium`). When either is missing,
//! [`Browser::start`] gives `None` and a note (the test returns early), except under
//! `CI=true`, where it panics: there the browser tests must run.

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The longest any wait lasts: starting chromedriver and Chromium, a page, an element, a
/// text. Generous, because two cores may be shared with other builds.
pub const WAIT_S_MAX: u64 = 60;
/// How often a condition is checked again while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The window, in CSS pixels: wide enough for the wallet's table.
const WINDOW_WIDTH: u32 = 1280;
const WINDOW_HEIGHT: u32 = 1000;
/// The tallest window a screenshot makes, in CSS pixels.
pub const SCREENSHOT_HEIGHT_MAX: u64 = 8_000;
/// How much of the page's text a failed wait shows.
const PAGE_TEXT_SHOWN_CHARS_MAX: usize = 3_000;
/// How much of chromedriver's log a failed start shows.
const DRIVER_LOG_SHOWN_CHARS_MAX: usize = 3_000;

const CHROMEDRIVER_VARIABLE: &str = "SCEAU_CHROMEDRIVER";
const CHROMIUM_VARIABLE: &str = "SCEAU_CHROMIUM";
const CHROMEDRIVER_DEFAULT: &str = "/usr/bin/chromedriver";
const CHROMIUM_DEFAULT: &str = "/usr/bin/chromium";
/// What chromedriver prints on its standard output once it listens.
const DRIVER_READY_PREFIX: &str = "ChromeDriver was started successfully on port ";

/// The two programs a [`Browser`] runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

impl Binaries {
    /// The binaries named by the environment or installed by Debian's packages; `None`,
    /// with a note once per test binary, when one is missing, except under `CI=true`.
    pub fn find() -> Option<Binaries> {
        static NOTE: Once = Once::new();
        let chromedriver = binary(CHROMEDRIVER_VARIABLE, CHROMEDRIVER_DEFAULT);
        let chromium = binary(CHROMIUM_VARIABLE, CHROMIUM_DEFAULT);
        let missing: Vec<String> = [&chromedriver, &chromium]
            .into_iter()
            .filter(|path| !is_executable(path))
            .map(|path| path.display().to_string())
            .collect();
        if missing.is_empty() {
            return Some(Binaries {
                chromedriver,
                chromium,
            });
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium/chromedriver must be installed under CI: the browser tests must run \
             (missing: {}; apt-get install chromium chromium-driver, or set \
             {CHROMEDRIVER_VARIABLE} and {CHROMIUM_VARIABLE})",
            missing.join(", ")
        );
        NOTE.call_once(|| {
            // Straight to stderr, past the test harness's capture, as the PostgreSQL note.
            let _ = writeln!(
                std::io::stderr(),
                "note: chromium/chromedriver not installed: the browser tests were not run \
                 (missing: {})",
                missing.join(", ")
            );
        });
        None
    }
}

fn binary(variable: &str, default: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(default),
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A running chromedriver, leader of its own process group (Chromium runs in it too);
/// dropping it kills the group and waits, a bounded time, until the group is gone.
struct Driver {
    process: Child,
    port: u16,
    log: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a port of its choosing. Asked for port 0, chromedriver picks
    /// a port for IPv6 and then binds the same number on IPv4, where another program of
    /// this machine may hold it ("listen on IPv4 failed with error ERR_ADDRESS_IN_USE"):
    /// it stops, and is started again, at most a few times.
    async fn start(binaries: &Binaries, directory: &Path) -> Driver {
        let mut tries = 0;
        loop {
            tries += 1;
            match Driver::try_start(binaries, directory).await {
                Ok(driver) => return driver,
                Err(why) if tries < 4 && why.contains("ERR_ADDRESS_IN_USE") => continue,
                Err(why) => panic!("{why}"),
            }
        }
    }

    async fn try_start(binaries: &Binaries, directory: &Path) -> Result<Driver, String> {
        let log = directory.join("chromedriver.log");
        let mut process = Command::new(&binaries.chromedriver)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .env("HOME", directory.join("home"))
            .env("TMPDIR", directory.join("tmp"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binaries.chromedriver.display()));
        let stdout = process
            .stdout
            .take()
            .expect("chromedriver's standard output");
        let (port_sender, port_receiver) = tokio::sync::oneshot::channel();
        // Reads the port, then drains the rest so that chromedriver never blocks on a full
        // pipe; ends with chromedriver.
        std::thread::spawn(move || {
            let mut port_sender = Some(port_sender);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let port = line
                    .strip_prefix(DRIVER_READY_PREFIX)
                    .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok());
                if let Some(port) = port
                    && let Some(sender) = port_sender.take()
                {
                    let _ = sender.send(port);
                }
            }
        });
        let mut driver = Driver {
            process,
            port: 0,
            log,
        };
        let waited = tokio::time::timeout(Duration::from_secs(WAIT_S_MAX), port_receiver).await;
        driver.port = match waited {
            Ok(Ok(port)) => port,
            Ok(Err(_)) => {
                return Err(format!(
                    "chromedriver stopped before it listened ({:?})\n{}",
                    driver.process.try_wait(),
                    driver.log_tail()
                ));
            }
            Err(_) => panic!(
                "chromedriver did not listen within {WAIT_S_MAX} s\n{}",
                driver.log_tail()
            ),
        };
        driver.wait_until_ready().await;
        Ok(driver)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `GET /status` says the driver is ready for a session.
    async fn wait_until_ready(&self) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("HTTP client");
        let status = format!("{}/status", self.url());
        let deadline = Instant::now() + Duration::from_secs(WAIT_S_MAX);
        loop {
            let ready = match http.get(&status).send().await {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .is_ok_and(|body| body["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer {status} within {WAIT_S_MAX} s\n{}",
                self.log_tail()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(DRIVER_LOG_SHOWN_CHARS_MAX);
        let start = (start..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(log.len());
        format!("chromedriver's log ends with:\n{}", &log[start..])
    }

    /// Sends `signal` to chromedriver's process group; false when no process is left.
    fn signal_group(&self, signal: &str) -> bool {
        // The shell's `kill` takes a negative pid (a process group) and needs no unsafe code.
        Command::new("/bin/sh")
            .args(["-c", "kill -s \"$1\" -- \"-$2\"", "kill"])
            .arg(signal)
            .arg(self.process.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.signal_group("KILL");
        let _ = self.process.kill();
        let _ = self.process.wait();
        // Chromium's processes die a moment later; the profile is removed after them.
        let deadline = Instant::now() + Duration::from_secs(WAIT_S_MAX);
        while self.signal_group("0") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Headless Chromium in a WebDriver session of its own.
///
/// Fields drop in order: the session's client, then chromedriver and Chromium, then the
/// directory they used.
pub struct Browser {
    client: Client,
    driver: Driver,
    directory: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` when they are not installed
    /// (and not under CI): the caller then returns, the test not run.
    pub async fn start() -> Option<Browser> {
        let binaries = Binaries::find()?;
        Some(Browser::start_with(&binaries).await)
    }

    pub async fn start_with(binaries: &Binaries) -> Browser {
        let directory = tempfile::tempdir().expect("temporary directory");
        let profile = directory.path().join("profile");
        for sub in ["profile", "home", "tmp"] {
            std::fs::create_dir(directory.path().join(sub)).expect("browser directories");
        }
        let driver = Driver::start(binaries, directory.path()).await;
        let chrome_options = json!({
            "binary": binaries.chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"),
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-breakpad",
                "--password-store=basic",
            ],
        });
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".to_owned(), json!("chrome"));
        capabilities.insert("pageLoadStrategy".to_owned(), json!("normal"));
        capabilities.insert("goog:chromeOptions".to_owned(), chrome_options);
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await;
        let client = match connected {
            Ok(client) => client,
            Err(error) => panic!(
                "open a Chromium session ({}): {error}\n{}",
                binaries.chromium.display(),
                driver.log_tail()
            ),
        };
        Browser {
            client,
            driver,
            directory,
        }
    }

    /// Ends the session (Chromium quits), then stops chromedriver and removes the
    /// directory. Dropping a browser does the same, without asking Chromium first.
    pub async fn close(self) {
        let Browser {
            client,
            driver,
            directory,
        } = self;
        if let Err(error) = client.close().await {
            let _ = writeln!(std::io::stderr(), "warning: close the browser: {error}");
        }
        drop(driver);
        drop(directory);
    }

    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` (the load is waited for, as WebDriver's navigation does).
    pub async fn goto(&self, url: &str) {
        if let Err(error) = self.client.goto(url).await {
            panic!("go to {url}: {error}\n{}", self.describe().await);
        }
    }

    /// The address of the page now shown.
    pub async fn current_url(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => panic!("read the current address: {error}"),
        }
    }

    /// Waits until the page shown is at `path_and_query` (e.g. `/wallet?sent=1`).
    pub async fn wait_for_path(&self, path_and_query: &str) {
        let what = format!("the page at {path_and_query}");
        self.wait_until(&what, async |client: &Client| {
            let url = client.current_url().await?;
            let shown = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            Ok((shown == path_and_query).then_some(()))
        })
        .await;
    }

    /// Waits until an element matches `css`, and returns the first one.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_until(
            &format!("an element at {css:?}"),
            async |client: &Client| Ok(Some(client.find(Locator::Css(css)).await?)),
        )
        .await
    }

    /// Waits until an element at `css` shows text containing `needle`; returns that text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let what = format!("{needle:?} in an element at {css:?}");
        self.wait_until(&what, async |client: &Client| {
            for element in client.find_all(Locator::Css(css)).await? {
                let text = element.text().await?;
                if text.contains(needle) {
                    return Ok(Some(text));
                }
            }
            Ok(None)
        })
        .await
    }

    /// The text shown by the first element at `css` (waited for).
    pub async fn text_of(&self, css: &str) -> String {
        self.wait_until(&format!("the text at {css:?}"), async |client: &Client| {
            Ok(Some(client.find(Locator::Css(css)).await?.text().await?))
        })
        .await
    }

    /// Types `text` into the field at `css`, emptied first, and checks that it holds it.
    pub async fn fill(&self, css: &str, text: &str) {
        let what = format!("{text:?} typed into {css:?}");
        self.wait_until(&what, async |client: &Client| {
            let field = client.find(Locator::Css(css)).await?;
            field.clear().await?;
            field.send_keys(text).await?;
            let value = field.prop("value").await?;
            Ok((value.as_deref() == Some(text)).then_some(()))
        })
        .await;
    }

    /// Chooses the file at `path` in the file field at `css` (as a person picking it).
    pub async fn choose_file(&self, css: &str, path: &Path) {
        let path_text = path.display().to_string();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let what = format!("{path_text:?} chosen in {css:?}");
        self.wait_until(&what, async |client: &Client| {
            let field = client.find(Locator::Css(css)).await?;
            field.send_keys(&path_text).await?;
            let value = field.prop("value").await?;
            Ok(value
                .is_some_and(|value| value.ends_with(&name))
                .then_some(()))
        })
        .await;
    }

    /// The value of the browser's cookie `name` for the page shown (`name=value`).
    pub async fn cookie(&self, name: &str) -> String {
        match self.client.get_named_cookie(name).await {
            Ok(cookie) => format!("{}={}", cookie.name(), cookie.value()),
            Err(error) => panic!("read the cookie {name}: {error}"),
        }
    }

    /// Chooses the option of value `value` in the list at `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let what = format!("option {value:?} chosen in {css:?}");
        self.wait_until(&what, async |client: &Client| {
            let list = client.find(Locator::Css(css)).await?;
            list.select_by_value(value).await?;
            let chosen = list.prop("value").await?;
            Ok((chosen.as_deref() == Some(value)).then_some(()))
        })
        .await;
    }

    /// Clicks the element at `css` once it is there and can be clicked. What the click
    /// leads to is for the caller to wait for (`wait_for_path`, `wait_for_text`).
    pub async fn click(&self, css: &str) {
        self.wait_until(&format!("a click on {css:?}"), async |client: &Client| {
            client.find(Locator::Css(css)).await?.click().await?;
            Ok(Some(()))
        })
        .await;
    }

    /// Saves a PNG of the whole page at `path`, creating its directory: the window is made
    /// as tall as the page (up to [`SCREENSHOT_HEIGHT_MAX`]) for the shot, then put back.
    pub async fn screenshot(&self, path: &Path) {
        let (width, height) = match self.client.get_window_size().await {
            Ok(size) => size,
            Err(error) => panic!("read the window's size: {error}"),
        };
        let heights = self
            .client
            .execute(
                "return [window.outerHeight - window.innerHeight, \
                 document.documentElement.scrollHeight];",
                Vec::new(),
            )
            .await;
        let (frame, page) = match &heights {
            Ok(Value::Array(pair)) => (pair[0].as_u64(), pair[1].as_u64()),
            _ => (None, None),
        };
        let (Some(frame), Some(page)) = (frame, page) else {
            panic!("read the page's height: {heights:?}");
        };
        let full = (frame + page).clamp(height, SCREENSHOT_HEIGHT_MAX);
        let resize = async |height: u64| {
            let width = u32::try_from(width).expect("a window width");
            let height = u32::try_from(height).expect("a window height");
            if let Err(error) = self.client.set_window_size(width, height).await {
                panic!("resize the window to {width}x{height}: {error}");
            }
        };
        resize(full).await;
        let png = self.client.screenshot().await;
        resize(height).await;
        let png = png.unwrap_or_else(|error| panic!("take a screenshot: {error}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("create {}: {error}", parent.display()));
        }
        std::fs::write(path, png)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }

    /// Checks `check` until it gives a value, up to [`WAIT_S_MAX`]. An element not there
    /// yet, gone with a page being replaced, or not yet clickable counts as "not yet".
    async fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl AsyncFnMut(&Client) -> Result<Option<T>, CmdError>,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(WAIT_S_MAX);
        loop {
            let last_error = match check(&self.client).await {
                Ok(Some(value)) => return value,
                Ok(None) => None,
                Err(error) if is_not_yet(&error) => Some(error),
                Err(error) => panic!("{what}: {error}\n{}", self.describe().await),
            };
            if Instant::now() >= deadline {
                let last_error = last_error.map_or_else(String::new, |e| format!(" ({e})"));
                panic!(
                    "waited {WAIT_S_MAX} s for {what}{last_error}\n{}",
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The page's address and the start of its text, for failure messages.
    async fn describe(&self) -> String {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => format!("(unknown: {error})"),
        };
        let text = match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(error) => format!("(no body: {error})"),
        };
        let text: String = text.chars().take(PAGE_TEXT_SHOWN_CHARS_MAX).collect();
        format!("the browser shows {url}:\n{text}")
    }

    /// The directory this browser's profile and logs live in, while it runs.
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    /// The port chromedriver listens on (loopback).
    pub fn driver_port(&self) -> u16 {
        self.driver.port
    }
}

fn is_not_yet(error: &CmdError) -> bool {
    matches!(
        error,
        CmdError::Standard(w) if matches!(
            w.error,
            ErrorStatus::NoSuchElement
                | ErrorStatus::StaleElementReference
                | ErrorStatus::ElementNotInteractable
                | ErrorStatus::ElementClickIntercepted
        )
            // Chromium's way of saying "stale" when the page is replaced between finding
            // an element and reading it: "unhandled inspector error: … Node with given id
            // does not belong to the document".
            || (w.error == ErrorStatus::UnknownError
                && w.message.contains("does not belong to the document"))
    )
}
