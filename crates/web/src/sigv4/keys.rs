//! The access key pairs an AWS-shaped API accepts: from flags (`--aws-api-key ID:SECRET`,
//! repeatable), the environment (`LINEUP_<SERVICE>_AWS_API_KEY`, comma-separated, given by
//! `lineup`'s one rule for option variables) or a credentials
//! file in the AWS CLI's format holding several (`--aws-api-credentials`; every profile
//! with both `aws_access_key_id` and `aws_secret_access_key` is one accepted pair).
//!
//! These are the keys clients sign *with*; they have nothing to do with the credentials a
//! service uses itself (the origin's S3 store reads `AWS_ACCESS_KEY_ID`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Secret;

/// One access key pair: `ID:SECRET` on the command line. `Debug` hides the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret: Secret,
}

impl KeyPair {
    /// A fresh random pair in AWS's shape: `AKIA` + 16 of `A-Z 0-9`, and a 40-character
    /// secret of `A-Z a-z 0-9` (no character a shell would read specially).
    pub fn generate() -> Self {
        use rand::Rng;
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let mut pick = |set: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| set[rng.random_range(0..set.len())] as char)
                .collect()
        };
        let id = format!("AKIA{}", pick(UPPER, 16));
        let secret = pick(ANY, 40);
        Self::new(id, secret)
    }

    pub fn new(access_key_id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret: secret.into(),
        }
    }
}

/// An access key id: 1 to 128 of `A-Z a-z 0-9 _` (AWS's are 16 to 128 alphanumerics); it
/// cannot hold the `/` that separates a credential scope.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 128
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(format!(
            "access key id {id:?}: use 1 to 128 of A-Z a-z 0-9 _"
        ));
    }
    Ok(())
}

impl std::str::FromStr for KeyPair {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, secret) = s
            .split_once(':')
            .ok_or_else(|| "expected ACCESS_KEY_ID:SECRET_ACCESS_KEY".to_string())?;
        check_id(id)?;
        if secret.is_empty() {
            return Err(format!("access key {id}: the secret is empty"));
        }
        Ok(KeyPair::new(id, secret))
    }
}

impl<'de> Deserialize<'de> for KeyPair {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The accepted pairs, by access key id (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct AccessKeys(Arc<HashMap<String, Secret>>);

/// A credentials file that cannot be used, naming the file and line.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct KeyFileError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

impl AccessKeys {
    /// From pairs; an id given twice with two different secrets is refused.
    pub fn new(pairs: impl IntoIterator<Item = KeyPair>) -> Result<Self, String> {
        let mut map = HashMap::new();
        for p in pairs {
            check_id(&p.access_key_id)?;
            if let Some(old) = map.insert(p.access_key_id.clone(), p.secret.clone())
                && old != p.secret
            {
                return Err(format!(
                    "access key {} is given twice with different secrets",
                    p.access_key_id
                ));
            }
        }
        Ok(Self(Arc::new(map)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The ids, sorted (for banners and logs; never the secrets).
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.0.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn secret(&self, access_key_id: &str) -> Option<&Secret> {
        self.0.get(access_key_id)
    }

    /// Parse a credentials file in the AWS CLI's format (`[profile]` sections,
    /// `key = value`, `#` and `;` comments). `path` names the file in errors.
    pub fn parse_credentials(path: &str, text: &str) -> Result<Vec<KeyPair>, KeyFileError> {
        let err = |line: usize, message: String| KeyFileError {
            path: path.to_string(),
            line,
            message,
        };
        // (section line, name, id, secret)
        let mut sections: Vec<(usize, String, Option<String>, Option<String>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name
                    .strip_suffix(']')
                    .ok_or_else(|| err(n, "a section header must end with ']'".into()))?;
                sections.push((n, name.trim().to_string(), None, None));
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| err(n, "expected `key = value` or `[profile]`".into()))?;
            let Some(section) = sections.last_mut() else {
                return Err(err(n, "a key before the first [profile] section".into()));
            };
            let value = value.trim().to_string();
            match key.trim() {
                "aws_access_key_id" => {
                    check_id(&value).map_err(|e| err(n, e))?;
                    section.2 = Some(value);
                }
                "aws_secret_access_key" if value.is_empty() => {
                    return Err(err(n, "aws_secret_access_key is empty".into()));
                }
                "aws_secret_access_key" => section.3 = Some(value),
                _ => {} // region, output, aws_session_token, ...: not ours
            }
        }
        let mut pairs = Vec::new();
        for (line, name, id, secret) in sections {
            match (id, secret) {
                (Some(id), Some(secret)) => pairs.push(KeyPair::new(id, secret)),
                (None, None) => {}
                (Some(_), None) => {
                    return Err(err(
                        line,
                        format!(
                            "profile [{name}] has aws_access_key_id but no aws_secret_access_key"
                        ),
                    ));
                }
                (None, Some(_)) => {
                    return Err(err(
                        line,
                        format!(
                            "profile [{name}] has aws_secret_access_key but no aws_access_key_id"
                        ),
                    ));
                }
            }
        }
        if pairs.is_empty() {
            return Err(err(
                0,
                "no profile with aws_access_key_id and aws_secret_access_key".into(),
            ));
        }
        Ok(pairs)
    }

    /// Read a credentials file ([`AccessKeys::parse_credentials`]).
    pub fn read_credentials(path: &Path) -> Result<Vec<KeyPair>, KeyFileError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| KeyFileError {
            path: name.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        Self::parse_credentials(&name, &text)
    }
}

/// The flags of a service that answers an AWS-shaped API (flatten into its `clap::Args`).
#[derive(Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct SigV4Args {
    /// An access key pair the AWS-shaped API accepts, `ACCESS_KEY_ID:SECRET_ACCESS_KEY`;
    /// repeat for several (environment: comma-separated). Without any key the AWS-shaped
    /// API refuses every request (403).
    #[arg(long = "aws-api-key", value_delimiter = ',', hide_env_values = true)]
    #[serde(default, skip_serializing)]
    pub aws_api_key: Vec<KeyPair>,
    /// A credentials file in the AWS CLI's format (`[profile]`, `aws_access_key_id`,
    /// `aws_secret_access_key`): every profile's pair is accepted.
    #[arg(long)]
    #[serde(default)]
    pub aws_api_credentials: Option<PathBuf>,
    /// The region clients sign for (`--region` of the AWS CLI).
    #[arg(long, default_value = "us-east-1")]
    #[serde(default = "default_region")]
    pub aws_api_region: String,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl std::fmt::Debug for SigV4Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self
            .aws_api_key
            .iter()
            .map(|k| k.access_key_id.as_str())
            .collect();
        f.debug_struct("SigV4Args")
            .field("aws_api_key", &ids)
            .field("aws_api_credentials", &self.aws_api_credentials)
            .field("aws_api_region", &self.aws_api_region)
            .finish()
    }
}

impl SigV4Args {
    /// The flags' pairs plus the credentials file's.
    pub fn keys(&self) -> Result<AccessKeys, String> {
        let mut pairs = self.aws_api_key.clone();
        if let Some(path) = &self.aws_api_credentials {
            pairs.extend(AccessKeys::read_credentials(path).map_err(|e| e.to_string())?);
        }
        AccessKeys::new(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_hide_their_secret() {
        let p: KeyPair = "AKIDEXAMPLE:wJalr/K7MDENG+bPxRfiCY".parse().unwrap();
        assert_eq!(p.access_key_id, "AKIDEXAMPLE");
        assert!(p.secret.matches("wJalr/K7MDENG+bPxRfiCY"));
        assert!(!format!("{p:?}").contains("wJalr"));
        assert!("nocolon".parse::<KeyPair>().is_err());
        assert!("AK/ID:x".parse::<KeyPair>().is_err());
        assert!("AKID:".parse::<KeyPair>().is_err());
    }

    #[test]
    fn credentials_file_with_several_profiles() {
        let text = "# ops keys\n[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\nregion = us-east-1\n\n[ci]\n; comment\naws_access_key_id=AKIA2\naws_secret_access_key=s2/+x\n[empty]\n";
        let pairs = AccessKeys::parse_credentials("creds", text).unwrap();
        let keys = AccessKeys::new(pairs).unwrap();
        assert_eq!(keys.ids(), ["AKIA1", "AKIA2"]);
        assert!(keys.secret("AKIA2").unwrap().matches("s2/+x"));
    }

    #[test]
    fn credentials_file_errors_name_the_line() {
        let e = AccessKeys::parse_credentials("f", "[a]\naws_access_key_id = X\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f:1: profile [a] has aws_access_key_id but no aws_secret_access_key"
        );
        let e = AccessKeys::parse_credentials("f", "\n[a\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = AccessKeys::parse_credentials("f", "[a]\njunk\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = AccessKeys::parse_credentials("f", "x = 1\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn one_id_two_secrets_is_refused() {
        let a = KeyPair::new("A", "1");
        assert!(AccessKeys::new([a.clone(), a.clone()]).is_ok());
        assert!(AccessKeys::new([a, KeyPair::new("A", "2")]).is_err());
    }
}
