//! The AWS SDK and CLI as test clients: [`Sdk::call`] runs one boto3 operation
//! (`create_channel`, `put_playback_configuration`, ...) and [`Sdk::cli`] one `aws`
//! command, both signing with SigV4 against an `--endpoint-url`, with only the given key
//! pair (no profile, no instance metadata, no network beyond the endpoint).

use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

const CALL: &str = include_str!("aws_call.py");

/// An AWS error as the SDK raised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkError {
    /// `x-amzn-ErrorType` as botocore read it, e.g. `NotFoundException`.
    pub code: String,
    pub message: String,
    pub status: u16,
    /// The exception class boto3 raised (the service's modeled class when it has one).
    pub class: String,
}

/// One service endpoint and the key pair to sign with.
#[derive(Debug, Clone)]
pub struct Sdk {
    /// `mediapackage`, `mediatailor`, ...
    pub service: String,
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret: String,
}

impl Sdk {
    pub fn new(service: &str, endpoint: &str, access_key_id: &str, secret: &str) -> Self {
        Self {
            service: service.into(),
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            access_key_id: access_key_id.into(),
            secret: secret.into(),
        }
    }

    fn env(&self, cmd: &mut tokio::process::Command) {
        cmd.env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "");
    }

    /// Run boto3's `operation` with `params`; panics if python3/boto3 cannot run.
    pub async fn call(&self, operation: &str, params: Value) -> Result<Value, SdkError> {
        let python = crate::require("python3:boto3").expect("python3 with boto3");
        let mut cmd = tokio::process::Command::new(python);
        cmd.arg("-c")
            .arg(CALL)
            .args([&self.service, &self.endpoint, &self.region, operation])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env(&mut cmd);
        let mut child = cmd.spawn().expect("spawn python3");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(params.to_string().as_bytes())
            .await
            .expect("write params");
        drop(stdin);
        let out = child.wait_with_output().await.expect("python3 runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "{operation}: no answer ({e}): {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        if let Some(ok) = v.get("ok") {
            return Ok(ok.clone());
        }
        let e = &v["error"];
        Err(SdkError {
            code: e["code"].as_str().unwrap_or_default().into(),
            message: e["message"].as_str().unwrap_or_default().into(),
            status: e["status"].as_u64().unwrap_or_default() as u16,
            class: e["class"].as_str().unwrap_or_default().into(),
        })
    }

    /// [`Sdk::call`] that must succeed.
    pub async fn ok(&self, operation: &str, params: Value) -> Value {
        self.call(operation, params)
            .await
            .unwrap_or_else(|e| panic!("{operation}: {e:?}"))
    }

    /// [`Sdk::call`] that must fail; the error.
    pub async fn err(&self, operation: &str, params: Value) -> SdkError {
        match self.call(operation, params).await {
            Ok(v) => panic!("{operation} should have failed, answered {v}"),
            Err(e) => e,
        }
    }

    /// `aws <service> <args> --endpoint-url <endpoint> --output json`: (exit code, stdout,
    /// stderr).
    pub async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let aws = crate::require("aws").expect("the AWS CLI (pip install awscli)");
        let mut cmd = tokio::process::Command::new(aws);
        cmd.arg(&self.service).args(args).args([
            "--endpoint-url",
            &self.endpoint,
            "--output",
            "json",
        ]);
        self.env(&mut cmd);
        let out = cmd.output().await.expect("aws runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const SIGV4_CASES: &str = include_str!("sigv4_cases.py");

/// One case of [`sigv4_cases`]: its name, the status and `x-amzn-ErrorType` answered.
#[derive(Debug, Clone)]
pub struct SigV4Case {
    pub case: String,
    pub status: u16,
    pub code: Option<String>,
    pub body: String,
}

/// Send SigV4 requests signed by botocore's signer and by a hand-written one (good ones,
/// and ones with a wrong secret, unknown key, other region or service, six minutes old,
/// the body changed after signing, unsigned) to `base` + `get_path` (GET) and
/// `post_path` (POST with `post_body`, which must contain `sigv4`: the changed body
/// replaces it).
pub async fn sigv4_cases(
    sdk: &Sdk,
    get_path: &str,
    post_path: &str,
    post_body: &str,
) -> Vec<SigV4Case> {
    assert!(post_body.contains("sigv4"));
    let python = crate::require("python3:botocore").expect("python3 with botocore");
    let out = tokio::process::Command::new(python)
        .arg("-c")
        .arg(SIGV4_CASES)
        .args([
            &sdk.endpoint,
            get_path,
            post_path,
            post_body,
            &sdk.access_key_id,
            &sdk.secret,
            &sdk.region,
            &sdk.service,
        ])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            SigV4Case {
                case: v["case"].as_str().unwrap_or_default().into(),
                status: v["status"].as_u64().unwrap_or_default() as u16,
                code: v["code"].as_str().map(str::to_string),
                body: v["body"].as_str().unwrap_or_default().into(),
            }
        })
        .collect()
}

/// Check what [`sigv4_cases`] answered: the good ones 200, each bad one 403 with AWS's
/// error type (`forbidden` for the unsigned one).
pub fn assert_sigv4_cases(cases: &[SigV4Case], forbidden: &str) {
    let get = |name: &str| {
        cases
            .iter()
            .find(|c| c.case == name)
            .unwrap_or_else(|| panic!("no case {name}: {cases:?}"))
    };
    for ok in ["botocore-ok", "handmade-ok"] {
        let c = get(ok);
        assert_eq!(c.status, 200, "{c:?}");
    }
    for (name, code) in [
        ("wrong-secret", "InvalidSignatureException"),
        ("handmade-wrong-secret", "InvalidSignatureException"),
        ("unknown-key", "UnrecognizedClientException"),
        ("other-region", "InvalidSignatureException"),
        ("handmade-other-region", "InvalidSignatureException"),
        ("other-service", "InvalidSignatureException"),
        ("handmade-other-service", "InvalidSignatureException"),
        ("six-minutes-old", "InvalidSignatureException"),
        ("body-changed", "InvalidSignatureException"),
        ("unsigned", forbidden),
    ] {
        let c = get(name);
        assert_eq!(c.status, 403, "{c:?}");
        assert_eq!(c.code.as_deref(), Some(code), "{c:?}");
    }
}
