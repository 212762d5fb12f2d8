//! Adapters: where channels and their next items come from.
//!
//! - [`ChannelManager`]: the list of channels ([`ChannelConfig`]).
//! - [`AssetManager`]: the next [`Item`] of a channel or session. It returns an `Item`, not
//!   only a VOD, so a schedule service can also hand out ad breaks, slates and live events.
//!   `position` (the entry index in the channel's or session's log) makes file-driven
//!   choices deterministic, so replicas asking for the same position get the same item.
//!
//! Built-ins: [`FileAdapter`] (a TOML or JSON file: channels, their VOD URLs, round-robin or
//! seeded shuffle, optional ad breaks every N items) and [`HttpAssetManager`] (asks a user
//! URL for the next VOD).

use std::sync::Arc;

use futures::future::BoxFuture;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::timeline::{Item, Millis};

pub mod schedule;
pub use schedule::{ScheduleAdapter, ScheduleAdapterConfig};

/// A channel as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelConfig {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The fixed renditions; when absent, copied from the slate's (or first VOD's) master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Slate master playlist URL (overrides the engine default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slate: Option<String>,
}

/// What the engine asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextItemRequest {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    /// Index of the entry being scheduled in the channel's (or session's) log.
    pub position: u64,
    /// Where the item will start (epoch ms): the schedule's end. Absent when the engine
    /// only probes what the channel plays (to copy its profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<Millis>,
    /// The channel's target duration, ms: the rounding a clock-driven adapter may allow
    /// at a programme boundary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ms: Option<u64>,
}

/// A VOD as an asset manager describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VodRef {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub uri: String,
}

impl From<VodRef> for Item {
    fn from(v: VodRef) -> Self {
        let id = if v.id.is_empty() { v.uri.clone() } else { v.id };
        Item::Vod {
            id,
            title: v.title,
            url: v.uri,
        }
    }
}

/// Decides what plays next.
pub trait AssetManager: Send + Sync {
    fn next_item(&self, req: NextItemRequest) -> BoxFuture<'_, Result<Item>>;
}

/// Lists channels.
pub trait ChannelManager: Send + Sync {
    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelConfig>>>;
}

/// Item order of a file channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    RoundRobin,
    Shuffle,
}

/// A VOD in a channels file: a bare URL or `{ id, title, uri }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileVod {
    Url(String),
    Ref(VodRef),
}

impl FileVod {
    fn to_item(&self) -> Item {
        match self {
            FileVod::Url(u) => VodRef {
                id: u.clone(),
                title: None,
                uri: u.clone(),
            }
            .into(),
            FileVod::Ref(r) => r.clone().into(),
        }
    }
}

/// One channel in a channels file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChannel {
    #[serde(flatten)]
    pub config: ChannelConfig,
    pub vods: Vec<FileVod>,
    #[serde(default)]
    pub order: Order,
    #[serde(default)]
    pub seed: u64,
    /// Insert an ad break after every `ad_every` VODs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_every: Option<u32>,
    #[serde(default = "default_ad_secs")]
    pub ad_duration_secs: f64,
    /// Filler VOD for ad breaks (default: the slate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_filler: Option<String>,
}

fn default_ad_secs() -> f64 {
    30.0
}

/// A channels file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ChannelsFile {
    #[serde(default)]
    pub channels: Vec<FileChannel>,
}

/// Channels and items from a file (or from values built in code).
#[derive(Debug, Clone)]
pub struct FileAdapter {
    file: Arc<ChannelsFile>,
}

impl FileAdapter {
    pub fn new(file: ChannelsFile) -> Result<Self> {
        for c in &file.channels {
            if c.vods.is_empty() {
                return Err(Error::Config(format!("channel {}: no vods", c.config.id)));
            }
            if !web::is_valid_name(&c.config.id) {
                return Err(Error::Config(format!(
                    "channel id: {}",
                    web::name_problem(&c.config.id)
                )));
            }
            if let Some(p) = &c.config.profile {
                p.validate()?;
            }
        }
        Ok(Self {
            file: Arc::new(file),
        })
    }

    /// Read a `.toml` or `.json` file.
    pub fn from_path(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let file: ChannelsFile = if path.extension().and_then(|e| e.to_str()) == Some("json") {
            serde_json::from_str(&text)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        } else {
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        };
        Self::new(file)
    }

    /// The item at `position` of channel `c` (pure).
    pub fn item_at(c: &FileChannel, position: u64) -> Item {
        let (vod_index, is_ad) = match c.ad_every {
            Some(n) if n > 0 => {
                let period = u64::from(n) + 1;
                let in_period = position % period;
                (
                    position / period * u64::from(n) + in_period,
                    in_period == u64::from(n),
                )
            }
            _ => (position, false),
        };
        if is_ad {
            return Item::AdBreak {
                duration_ms: (c.ad_duration_secs.max(0.1) * 1000.0).round() as u64,
                filler: c.ad_filler.clone(),
            };
        }
        let n = c.vods.len() as u64;
        let i = match c.order {
            Order::RoundRobin => vod_index % n,
            Order::Shuffle => {
                let cycle = vod_index / n;
                let mut idx: Vec<u64> = (0..n).collect();
                let mut rng = rand::rngs::StdRng::seed_from_u64(
                    c.seed ^ cycle.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                idx.shuffle(&mut rng);
                idx[(vod_index % n) as usize]
            }
        };
        c.vods[i as usize].to_item()
    }
}

impl AssetManager for FileAdapter {
    fn next_item(&self, req: NextItemRequest) -> BoxFuture<'_, Result<Item>> {
        Box::pin(async move {
            let c = self
                .file
                .channels
                .iter()
                .find(|c| c.config.id == req.channel)
                .ok_or_else(|| Error::NoSuchChannel(req.channel.clone()))?;
            Ok(Self::item_at(c, req.position))
        })
    }
}

impl ChannelManager for FileAdapter {
    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelConfig>>> {
        Box::pin(async move {
            Ok(self
                .file
                .channels
                .iter()
                .map(|c| c.config.clone())
                .collect())
        })
    }
}

/// Asks `GET <url>?channel=..&session=..&category=..&playlist=..&position=..` for the next
/// item. The answer is JSON: either `{ "id", "title", "uri" }` (a VOD, like the Eyevinn
/// channel-engine's `getNextVod`) or an [`Item`] (`{ "type": "vod" | "slate" | "ad_break" |
/// "live", ... }`).
#[derive(Debug, Clone)]
pub struct HttpAssetManager {
    url: url::Url,
    client: reqwest::Client,
}

impl HttpAssetManager {
    pub fn new(url: &str, timeout: std::time::Duration) -> Result<Self> {
        Ok(Self {
            url: url::Url::parse(url)
                .map_err(|e| Error::Config(format!("asset manager URL {url:?}: {e}")))?,
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|e| Error::Config(e.to_string()))?,
        })
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HttpAnswer {
    Item(Item),
    Vod(VodRef),
}

/// Answers over this are refused: a day of schedule events is a few hundred kB, an item a
/// few hundred bytes.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Send `req` and read its JSON answer (at most [`MAX_ANSWER_BYTES`]); errors name `what`
/// (the URL asked).
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
    what: &str,
) -> Result<T> {
    let err = |e: String| Error::Adapter(format!("{what}: {e}"));
    let mut resp = req.send().await.map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| err(e.to_string()))? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(err(format!("answer over {MAX_ANSWER_BYTES} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| err(format!("bad JSON: {e}")))
}

impl AssetManager for HttpAssetManager {
    fn next_item(&self, req: NextItemRequest) -> BoxFuture<'_, Result<Item>> {
        Box::pin(async move {
            let mut url = self.url.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("channel", &req.channel);
                q.append_pair("position", &req.position.to_string());
                if let Some(at) = req.at_ms {
                    q.append_pair("at", &at.to_string());
                }
                for (k, v) in [
                    ("session", &req.session),
                    ("category", &req.category),
                    ("playlist", &req.playlist),
                ] {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            let answer: HttpAnswer = get_json(self.client.get(url), self.url.as_str()).await?;
            Ok(match answer {
                HttpAnswer::Item(i) => i,
                HttpAnswer::Vod(v) => v.into(),
            })
        })
    }
}
