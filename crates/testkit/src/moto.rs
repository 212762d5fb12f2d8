use std::io;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;

use tempfile::TempDir;

use crate::process::Proc;
use crate::wait::{free_port, wait_until};

/// moto's S3-compatible server (`moto_server -H 127.0.0.1 -p <port>`, pip `moto[server]`).
/// Any access key / secret is accepted; region `us-east-1`. Buckets can be created with a plain
/// `PUT <endpoint>/<bucket>` (names of 3+ characters); for objects use a SigV4-signing client
/// (object_store): moto 5.2 stores an empty body for an unsigned plain-HTTP object PUT.
/// [`Moto::create_bucket`] and [`Moto::object_store`] are the test's side of the bucket.
/// [`Moto::pause`]/[`Moto::unpause`] hang it (SIGSTOP/SIGCONT), [`Moto::stop`]/
/// [`Moto::resume`] kill it and start an empty one on the same port. Killed on drop.
pub struct Moto {
    dir: TempDir,
    port: u16,
    proc: Option<Proc>,
}

impl Moto {
    /// Starts moto_server and waits until it answers HTTP.
    pub async fn start() -> io::Result<Moto> {
        let dir = tempfile::Builder::new().prefix("lineup-moto-").tempdir()?;
        let mut m = Moto {
            dir,
            port: free_port(),
            proc: None,
        };
        m.resume().await?;
        Ok(m)
    }

    /// Starts it again on the same port after [`stop`](Self::stop), empty (moto keeps
    /// buckets in memory: create them again).
    pub async fn resume(&mut self) -> io::Result<()> {
        if self.proc.is_some() {
            return Ok(());
        }
        let bin = crate::peer("moto_server")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "moto_server not found"))?;
        let port = self.port;
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(self.dir.path());
        let mut proc = Proc::spawn("moto_server", &mut cmd, &self.dir.path().join("moto.log"))?;
        let url = format!("http://127.0.0.1:{port}/");
        let client = reqwest::Client::new();
        let up = wait_until(Duration::from_secs(30), "moto_server to answer", || {
            let dead = proc.exited().is_some();
            let req = client.get(&url).timeout(Duration::from_secs(2)).send();
            async move { dead || req.await.is_ok() }
        })
        .await;
        if proc.exited().is_some() || up.is_err() {
            let e = up.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(io::Error::other(format!("{e}; {}", proc.describe_exit())));
        }
        self.proc = Some(proc);
        Ok(())
    }

    /// Kills it (fault tests); [`resume`](Self::resume) starts an empty one on the same port.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.terminate(Duration::from_secs(5));
        }
    }

    /// Hangs it (SIGSTOP): connections are accepted by the kernel and never answered.
    pub fn pause(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            p.signal(libc::SIGSTOP);
        }
    }

    /// Lets a [`pause`](Self::pause)d server go on (SIGCONT), with its data.
    pub fn unpause(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            p.signal(libc::SIGCONT);
        }
    }

    /// S3 endpoint URL: `http://127.0.0.1:<port>` (use path-style addressing).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Credentials moto accepts (any work; these are conventional).
    pub fn credentials(&self) -> (&'static str, &'static str) {
        ("testing", "testing")
    }

    pub fn region(&self) -> &'static str {
        "us-east-1"
    }

    /// Creates bucket `name` (a plain `PUT <endpoint>/<name>`; names of 3+ characters).
    /// Panics if moto refuses.
    pub async fn create_bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint()))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "create bucket {name}: {}",
            r.status()
        );
    }

    /// A SigV4-signing `object_store` client for `bucket` on this server (moto's
    /// credentials and region, plain HTTP allowed), to read back or list what the code under
    /// test wrote: moto keeps objects private.
    pub fn object_store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        let (key, secret) = self.credentials();
        Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(self.region())
                .with_endpoint(self.endpoint())
                .with_access_key_id(key)
                .with_secret_access_key(secret)
                .with_allow_http(true)
                .build()
                .unwrap(),
        )
    }
}
