//! [`ScheduleClient`]: what the engine adapter calls to learn what to play, in-process (the
//! demo) or over HTTP (separate services), with one signature.

use crate::error::{Error, Result};
use crate::model::{Millis, ScheduleEvent};
use crate::service::Service;

/// Reads a channel's schedule from a [`Service`] in this process or from a schedule service
/// over HTTP (`base` is the service root, e.g. `http://host:8090` or `.../schedule`).
#[derive(Clone)]
pub enum ScheduleClient {
    InProcess(Service),
    Http {
        base: String,
        token: Option<String>,
        http: reqwest::Client,
    },
}

impl ScheduleClient {
    pub fn in_process(service: Service) -> Self {
        ScheduleClient::InProcess(service)
    }

    pub fn http(base: impl Into<String>, token: Option<String>) -> Self {
        ScheduleClient::Http {
            base: base.into().trim_end_matches('/').to_string(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// The events of `channel` overlapping `[from, to)` (epoch ms), by start time.
    pub async fn events_between(
        &self,
        channel: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<ScheduleEvent>> {
        match self {
            ScheduleClient::InProcess(s) => s.events_between(channel, from, to).await,
            ScheduleClient::Http { base, token, http } => {
                let url = format!("{base}/api/v1/channels/{channel}/schedule");
                let mut req = http
                    .get(&url)
                    .query(&[("start", from.to_string()), ("end", to.to_string())]);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let response = req.send().await.map_err(|e| Error::source(&url, e))?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Err(Error::NotFound(format!("channel {channel}")));
                }
                if !response.status().is_success() {
                    return Err(Error::source(&url, format!("HTTP {}", response.status())));
                }
                response
                    .json::<Vec<ScheduleEvent>>()
                    .await
                    .map_err(|e| Error::source(&url, e))
            }
        }
    }
}
