//! Headless Chromium driven over the W3C WebDriver protocol (`chromedriver`), with the few
//! commands the browser tests need: open a URL, run JavaScript, click, take a screenshot.
//!
//! The protocol is JSON over HTTP, so this speaks it with the `reqwest` client the workspace
//! already builds instead of a WebDriver crate. chromedriver is given the Debian chromium
//! binary explicitly and never downloads anything.

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::process::Proc;
use crate::wait::{free_port, port_open, wait_until};

/// The key a WebDriver element reference is stored under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver on `127.0.0.1:<free port>` with one headless Chromium session. The
/// session is closed and both processes (chromedriver's whole process group) are
/// terminated on drop.
pub struct Browser {
    _dir: TempDir,
    base: String,
    session: String,
    client: reqwest::Client,
    proc: Proc,
}

/// Where the Chromium binary is: Debian's `/usr/bin/chromium` is a shell wrapper around
/// `/usr/lib/chromium/chromium`; chromedriver wants the real binary.
fn chromium_binary() -> Option<PathBuf> {
    let real = PathBuf::from("/usr/lib/chromium/chromium");
    if real.exists() {
        return Some(real);
    }
    crate::peer("chromium")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of `width` x `height` CSS pixels
    /// that may autoplay media (muted). Needs the peers `chromium` and `chromedriver`.
    pub async fn start(width: u32, height: u32) -> io::Result<Browser> {
        let not_found =
            |what: &str| io::Error::new(io::ErrorKind::NotFound, format!("{what} not found"));
        let driver = crate::peer("chromedriver").ok_or_else(|| not_found("chromedriver"))?;
        let chromium = chromium_binary().ok_or_else(|| not_found("chromium"))?;
        let dir = tempfile::Builder::new()
            .prefix("lineup-chromium-")
            .tempdir()?;
        let port = free_port();
        let log = dir.path().join("chromedriver.log");
        let mut cmd = Command::new(driver);
        cmd.args([
            format!("--port={port}"),
            "--allowed-ips=127.0.0.1".into(),
            format!("--log-path={}", dir.path().join("verbose.log").display()),
        ]);
        let mut proc = Proc::spawn_isolated("chromedriver", &mut cmd, &log)?;
        let up = wait_until(Duration::from_secs(20), "chromedriver listening", || {
            port_open(port)
        })
        .await;
        if up.is_err() {
            return Err(io::Error::other(proc.describe_exit()));
        }
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(io::Error::other)?;
        let profile = dir.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--mute-audio",
                    "--autoplay-policy=no-user-gesture-required",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-default-apps",
                    "--disable-extensions",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let answer = post(&client, &format!("{base}/session"), &caps).await?;
        let session = answer["sessionId"]
            .as_str()
            .ok_or_else(|| io::Error::other(format!("no session in {answer}")))?
            .to_string();
        Ok(Browser {
            _dir: dir,
            base,
            session,
            client,
            proc,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}/{path}", self.base, self.session)
    }

    /// Navigates to `url` and waits until the document has loaded.
    pub async fn goto(&self, url: &str) -> io::Result<()> {
        post(&self.client, &self.url("url"), &json!({ "url": url }))
            .await
            .map(drop)
    }

    /// Runs `script` (a function body: use `return`) with `args` (`arguments[i]`) in the page
    /// and returns its JSON result.
    pub async fn execute(&self, script: &str, args: Value) -> io::Result<Value> {
        post(
            &self.client,
            &self.url("execute/sync"),
            &json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Resizes the window to `width` x `height` CSS pixels (e.g. a phone's).
    pub async fn set_window_size(&self, width: u32, height: u32) -> io::Result<()> {
        post(
            &self.client,
            &self.url("window/rect"),
            &json!({ "width": width, "height": height }),
        )
        .await
        .map(drop)
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot(&self) -> io::Result<Vec<u8>> {
        use base64::Engine as _;
        let r = self
            .client
            .get(self.url("screenshot"))
            .send()
            .await
            .map_err(io::Error::other)?;
        let v: Value = r.json().await.map_err(io::Error::other)?;
        let b64 = v["value"]
            .as_str()
            .ok_or_else(|| io::Error::other(format!("screenshot: {v}")))?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(io::Error::other)
    }

    /// The element matching the CSS `selector`, as a WebDriver reference.
    pub async fn find(&self, selector: &str) -> io::Result<Value> {
        let v = post(
            &self.client,
            &self.url("element"),
            &json!({ "using": "css selector", "value": selector }),
        )
        .await?;
        v.get(ELEMENT)
            .cloned()
            .ok_or_else(|| io::Error::other(format!("no element {selector}: {v}")))
    }

    /// Clicks the middle of the element matching `selector`, as a user would.
    pub async fn click(&self, selector: &str) -> io::Result<()> {
        let id = self.find(selector).await?;
        let id = id.as_str().unwrap_or_default().to_string();
        post(
            &self.client,
            &self.url(&format!("element/{id}/click")),
            &json!({}),
        )
        .await
        .map(drop)
    }

    /// Moves the mouse to `x` CSS pixels right of the left edge of the element matching
    /// `selector` (vertically centred) and clicks there: a real pointer event sequence.
    pub async fn click_at(&self, selector: &str, x: f64) -> io::Result<()> {
        let id = self.find(selector).await?;
        // WebDriver offsets are from the element's centre.
        let width = self
            .execute(
                "return arguments[0].getBoundingClientRect().width",
                json!([{ ELEMENT: id }]),
            )
            .await?
            .as_f64()
            .unwrap_or(0.0);
        let dx = (x - width / 2.0).round() as i64;
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "duration": 0, "origin": { ELEMENT: id }, "x": dx, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0},
            ],
        }]});
        post(&self.client, &self.url("actions"), &actions).await?;
        let _ = self.client.delete(self.url("actions")).send().await;
        Ok(())
    }

    /// chromedriver's log, for failure messages.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> io::Result<Value> {
    let r = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| io::Error::other(format!("POST {url}: {e}")))?;
    let status = r.status();
    let v: Value = r
        .json()
        .await
        .map_err(|e| io::Error::other(format!("POST {url}: {e}")))?;
    if !status.is_success() {
        return Err(io::Error::other(format!(
            "POST {url}: {status} {}",
            v["value"]
        )));
    }
    Ok(v["value"].clone())
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver runs in its own process group with Chromium under it: end them all.
        if let Some(pid) = self.proc.pid() {
            // SAFETY: kill(2) on the process group we created for chromedriver.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGTERM) };
        }
    }
}
