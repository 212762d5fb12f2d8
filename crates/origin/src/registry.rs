//! The channel registry ([`Shared`]): channels by id, their creation, views and deletion,
//! committing ingested segments (store, then timeline, then eviction and index write),
//! retiring evicted bytes, CMAF remuxing on demand and the background eviction sweep.
//! Persistence and following other replicas are in [`crate::replication`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rand::RngCore;

use crate::channel::Channel;
use crate::config::Config;
use crate::digest::{DigestAuth, Ha1};
use crate::error::OriginError;
use crate::keys::Keys;
use crate::model::{ChannelSpec, ChannelView, EndpointSpec, EndpointView, IngestEndpoint};
use crate::store::Store;
use crate::timeline::{self, ChannelData, Ready};
use crate::{LivePlaylist, cmaf, persist};
use clock::Clock;

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) public_url: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) channels: RwLock<HashMap<String, Arc<Channel>>>,
    pub(crate) digest: DigestAuth,
    pub(crate) keys: Arc<Keys>,
    /// Keys of DRM-encrypted endpoints ([`crate::drm::DerivedKeys`] unless replaced with
    /// [`crate::Origin::set_key_source`]).
    pub(crate) key_source: RwLock<Arc<dyn crate::drm::KeySource>>,
    /// `--store disk`/`s3`: where channel definitions and indexes are persisted and
    /// followed (see [`persist`]).
    pub(crate) index: Option<Arc<persist::Index>>,
    /// `origin_segments_served_total`, resolved once (after the router installed the
    /// recorder) rather than looked up per request.
    pub(crate) segments_served: std::sync::OnceLock<metrics::Counter>,
    /// AES-128 output, once per (endpoint, segment), kept up to `segment_cache_bytes`.
    pub(crate) aes: crate::work::Once<bytes::Bytes>,
    /// CMAF remux, once per segment however many requests ask at the same time.
    pub(crate) remux: crate::work::Once<Option<(cmaf::CmafSeg, cmaf::CmafInit)>>,
    /// MediaPackage harvest jobs run by this process.
    pub(crate) harvest: crate::harvest::HarvestJobs,
}

pub(crate) fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Shared {
    pub(crate) fn channel(&self, id: &str) -> Result<Arc<Channel>, OriginError> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| OriginError::not_found(format!("channel {id:?}")))
    }

    pub(crate) fn segments_served(&self) -> &metrics::Counter {
        self.segments_served
            .get_or_init(|| metrics::counter!("origin_segments_served_total"))
    }

    /// A channel's ready live playlist, without taking any channel's data lock.
    pub(crate) fn live_playlist(
        &self,
        channel: &str,
        endpoint: &str,
        slug: &str,
    ) -> Option<Arc<LivePlaylist>> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)?
            .live_playlist(endpoint, slug)
    }

    pub(crate) async fn create_channel(
        &self,
        spec: ChannelSpec,
    ) -> Result<ChannelView, OriginError> {
        spec.validate()?;
        let exists = || OriginError::Conflict(format!("channel {:?} exists", spec.id));
        if self.channel(&spec.id).is_ok() {
            return Err(exists());
        }
        // Another replica may have created it since this one last listed the store.
        if let Some(index) = &self.index
            && index
                .get(&spec.id, persist::Part::Definition)
                .await?
                .is_some()
        {
            return Err(exists());
        }
        let creds: Vec<(String, String)> = (1..=2)
            .map(|n| {
                (
                    format!("{}-{n}-{}", spec.id, random_token(4)),
                    random_token(16),
                )
            })
            .collect();
        let users = [
            (creds[0].0.clone(), Ha1::new(&creds[0].0, &creds[0].1)),
            (creds[1].0.clone(), Ha1::new(&creds[1].0, &creds[1].1)),
        ];
        let mut data = ChannelData::default();
        data.description = spec.description.clone();
        data.endpoints = spec.endpoints.clone();
        data.tags = spec.tags.clone();
        let ch = Arc::new(Channel::new(spec.id.clone(), users, data));
        {
            let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
            if channels.contains_key(&spec.id) {
                return Err(exists());
            }
            channels.insert(spec.id.clone(), ch.clone());
        }
        let saved = match &self.index {
            // Leftovers of an earlier channel with this id (an index a replica wrote while
            // the channel was being deleted) must not become this channel's timeline.
            Some(index) => match index.delete(&spec.id).await {
                Ok(()) => match self.save_definition(&ch).await {
                    // After the definition: a follower listing in between sees both and
                    // waits, never the tombstone alone.
                    Ok(()) => index.unbury(&spec.id).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            None => Ok(()),
        };
        if let Err(e) = saved {
            // Not stored: other replicas and a restart would not know it. Refuse it here too.
            self.channels
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&spec.id);
            return Err(e);
        }
        metrics::gauge!("origin_channels").increment(1.0);
        tracing::info!(channel = %spec.id, "channel created");
        let mut view = self.view(&ch);
        for (i, v) in view.ingest.iter_mut().enumerate() {
            v.password = Some(creds[i].1.clone());
        }
        Ok(view)
    }

    pub(crate) fn view(&self, ch: &Channel) -> ChannelView {
        let data = ch.lock();
        ChannelView {
            id: ch.id.clone(),
            description: data.description.clone(),
            ingest: ch
                .users
                .load()
                .iter()
                .enumerate()
                .map(|(i, (u, _))| IngestEndpoint {
                    url: format!("{}/in/{}/{}/channel", self.public_url, ch.id, i + 1),
                    username: u.clone(),
                    password: None,
                })
                .collect(),
            endpoints: data
                .endpoints
                .iter()
                .map(|e| self.endpoint_view(&ch.id, e.clone()))
                .collect(),
            variants: data.variants.keys().cloned().collect(),
            tags: data.tags.clone(),
        }
    }

    pub(crate) fn endpoint_view(&self, channel: &str, spec: EndpointSpec) -> EndpointView {
        let file = match spec.packaging {
            crate::model::Packaging::Dash => "index.mpd".to_string(),
            _ => format!("{}.m3u8", spec.manifest_name()),
        };
        EndpointView {
            url: format!("{}/out/{channel}/{}/{file}", self.public_url, spec.id),
            spec: spec.masked(),
        }
    }

    pub(crate) fn channel_view(&self, id: &str) -> Result<ChannelView, OriginError> {
        let ch = self.channel(id)?;
        Ok(self.view(&ch))
    }

    pub(crate) fn list_channels(&self) -> Vec<ChannelView> {
        let chans: Vec<Arc<Channel>> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut v: Vec<ChannelView> = chans.iter().map(|c| self.view(c)).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    pub(crate) async fn delete_channel(&self, id: &str) -> Result<(), OriginError> {
        let ch = self
            .channels
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .ok_or_else(|| OriginError::not_found(format!("channel {id:?}")))?;
        metrics::gauge!("origin_channels").decrement(1.0);
        if let Some(index) = &self.index {
            let _g = ch.persist_lock.lock().await;
            index.bury(id).await?;
        }
        let mut keys: Vec<String> = ch
            .lock()
            .variants
            .values()
            .flat_map(|v| v.segments.values().map(|s| s.key.clone()))
            .collect();
        // And evicted ones still waiting for an index write that no longer lists them.
        keys.append(&mut ch.pending_gone.lock().unwrap_or_else(|e| e.into_inner()));
        for k in keys {
            self.store.delete(k).await?;
        }
        Ok(())
    }

    /// Store ready segments, put them on their timelines, evict what left the window.
    pub(crate) async fn commit(
        &self,
        ch: &Channel,
        mut ready: Vec<Ready>,
    ) -> Result<(), OriginError> {
        // Also with nothing ready: a playlist PUT is ingest (and may change the master).
        if !ready.is_empty() {
            // TS inspection is CPU work: on the blocking pool.
            ready = crate::work::blocking(move || {
                for r in &mut ready {
                    timeline::index_keyframes(&mut r.meta, &r.data);
                }
                ready
            })
            .await?;
        }
        for r in &ready {
            self.store.put(r.meta.key.clone(), r.data.clone()).await?;
        }
        let now = self.clock.now();
        let gone = {
            let mut guard = ch.lock();
            let data = guard.change();
            // Under the data lock, so `apply_index` sees it before replacing the timeline.
            ch.last_ingest_ms
                .store(now.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
            for r in ready {
                data.commit(&r.variant, r.meta);
            }
            data.evict(now)
        };
        match self.save_index(ch).await {
            Ok(()) => {
                self.retire(ch, gone).await;
                Ok(())
            }
            Err(e) => {
                ch.pending_gone
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(gone);
                // The segment is on this replica's timeline but not in the stored index:
                // the encoder's retry of this PUT writes the index again.
                Err(e)
            }
        }
    }

    /// Delete the bytes of segments that left the timeline (and those a failed index
    /// write held back). With a persistent store this happens after twice the follow
    /// interval, so replicas that read the previous index stop listing them first.
    pub(crate) async fn retire(&self, ch: &Channel, gone: Vec<String>) {
        let mut keys =
            std::mem::take(&mut *ch.pending_gone.lock().unwrap_or_else(|e| e.into_inner()));
        keys.extend(gone);
        if keys.is_empty() {
            return;
        }
        let store = self.store.clone();
        let delete = async move {
            for k in keys {
                if let Err(e) = store.delete(k).await {
                    tracing::warn!(error = %e, "deleting an evicted segment failed");
                }
            }
        };
        if self.index.is_none() {
            return delete.await;
        }
        let grace = 2 * self.follow_interval();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            delete.await;
        });
    }

    /// Remux the listed segments of `variant` (sequence, store key) that are not in its
    /// CMAF cache yet. Store reads and remuxing run without the channel lock.
    pub(crate) async fn ensure_cmaf(
        &self,
        ch: &Channel,
        variant: &str,
        wanted: Vec<(u64, String)>,
    ) -> Result<(), OriginError> {
        let missing: Vec<(u64, String, bool)> = {
            let data = ch.lock();
            let Some(v) = data.variants.get(variant) else {
                return Ok(());
            };
            wanted
                .into_iter()
                .filter(|(seq, _)| !v.cmaf.segs.contains_key(seq))
                .map(|(seq, key)| {
                    let disc = v.segments.get(&seq).is_some_and(|m| m.discontinuity);
                    (seq, key, disc)
                })
                .collect()
        };
        for (seq, key, starts_span) in missing {
            let store = self.store.clone();
            let k = key.clone();
            let result = self
                .remux
                .get_or_run(&format!("{}:{key}", ch.id), async move {
                    match store.get(&k).await? {
                        Some(ts) => {
                            crate::work::blocking(move || cmaf::remux(&ts, seq, starts_span)).await
                        }
                        None => Err(OriginError::not_found(format!("segment {seq}"))),
                    }
                })
                .await;
            let Ok(result) = result else {
                continue;
            };
            let mut guard = ch.lock();
            // A remuxed fragment changes what a CMAF playlist lists (no GAP at its place).
            if let Some(v) = guard.change().variants.get_mut(variant)
                && v.segments.contains_key(&seq)
            {
                v.cmaf.insert(seq, result);
            }
        }
        Ok(())
    }

    /// Evict on every channel (the background sweep, for channels whose ingest stopped).
    pub(crate) async fn sweep(&self) {
        let chans: Vec<Arc<Channel>> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for ch in chans {
            let gone = ch.lock().change().evict(self.clock.now());
            // Only the replica whose index is stored writes it back; others evict their
            // copy (deleting a segment twice is harmless) and take the writer's next index.
            if !gone.is_empty()
                && self.index.as_ref().is_some_and(|i| i.index_is_ours(&ch.id))
                && self.save_index(&ch).await.is_err()
            {
                ch.pending_gone
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(gone);
                continue;
            }
            self.retire(&ch, gone).await;
        }
    }
}
