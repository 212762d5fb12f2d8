//! Channels: the list from the channel manager, each channel's profile (from its content,
//! never the slate) and master playlist, the slate check, and resolving items to media.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::{Channel, ChannelInfo, Engine, Target};
use crate::adapters::NextItemRequest;
use crate::error::{Error, Result};
use crate::profile::{LoadedVod, Profile, build_media};
use crate::timeline::{EntryMedia, Item, Millis};

/// Items looked at for content to copy a channel's profile from.
pub(super) const PROFILE_PROBE_ITEMS: u64 = 3;

impl Engine {
    /// Ask the channel manager for the channel list (kept: unchanged channels keep running).
    pub async fn reload_channels(&self) -> Result<usize> {
        let list = self.inner.channel_manager.channels().await?;
        let mut map = self.inner.channels.write().expect("channels lock");
        let mut next = BTreeMap::new();
        for c in list {
            let ch = match map.remove(&c.id) {
                Some(old) if old.config == c => old,
                _ => Arc::new(Channel {
                    config: c.clone(),
                    profile: tokio::sync::OnceCell::new(),
                    master: tokio::sync::OnceCell::new(),
                }),
            };
            next.insert(c.id.clone(), ch);
        }
        *map = next;
        Ok(map.len())
    }

    pub(super) fn channel(&self, id: &str) -> Result<Arc<Channel>> {
        self.inner
            .channels
            .read()
            .expect("channels lock")
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NoSuchChannel(id.to_string()))
    }

    pub fn channel_ids(&self) -> Vec<String> {
        self.inner
            .channels
            .read()
            .expect("channels lock")
            .keys()
            .cloned()
            .collect()
    }

    pub(super) fn slate_url(&self, ch: &Channel) -> Option<String> {
        ch.config
            .slate
            .clone()
            .or_else(|| self.inner.opts.slate_url.clone())
    }

    /// The channel's profile: its declared one, else a copy of its content's (the first
    /// loadable VOD or live source among its first [`PROFILE_PROBE_ITEMS`] items), never the
    /// slate's unless the channel has no content to copy from. The container (`fmp4`) of a
    /// declared profile that leaves it unset is its content's too. A slate that cannot serve
    /// the profile (another container, missing audio groups, ...) makes the channel fail
    /// with [`Error::Channel`] naming it: it never silently decides the channel's renditions.
    pub(super) async fn profile(&self, ch: &Channel) -> Result<Arc<Profile>> {
        ch.profile
            .get_or_try_init(|| async {
                let p = match &ch.config.profile {
                    Some(p) => {
                        p.validate()?;
                        let mut p = p.clone();
                        if p.fmp4.is_none() {
                            p.fmp4 = match &self.content_vod(ch).await? {
                                Some(v) => v.is_fmp4(),
                                None => self.slate_vod(ch).await.and_then(|v| v.is_fmp4()),
                            };
                        }
                        p
                    }
                    None => {
                        let vod = match self.content_vod(ch).await? {
                            Some(v) => v,
                            None => {
                                let url = self.slate_url(ch).ok_or_else(|| {
                                    Error::Channel {
                                        channel: ch.config.id.clone(),
                                        reason: "no profile, no content to copy one from and no slate".into(),
                                    }
                                })?;
                                tracing::warn!(channel = %ch.config.id, slate = %url, "no content to copy a profile from: using the slate's");
                                self.inner.vods.get(&url).await?
                            }
                        };
                        let mut p = Profile::from_master(&vod.master);
                        p.fmp4 = vod.is_fmp4();
                        p.validate()?;
                        p
                    }
                };
                self.check_slate(ch, &p).await?;
                Ok(Arc::new(p))
            })
            .await
            .cloned()
    }

    /// The first content the channel plays (a VOD, an ad filler or a live source) among its
    /// first [`PROFILE_PROBE_ITEMS`] items that loads. `None`: those items are slate (or
    /// ad breaks without filler). An error: content exists but none of it loads now (the
    /// channel waits for it rather than copy the slate's profile).
    pub(super) async fn content_vod(&self, ch: &Channel) -> Result<Option<Arc<LoadedVod>>> {
        let mut last_err = None;
        for position in 0..PROFILE_PROBE_ITEMS {
            let req = NextItemRequest {
                channel: ch.config.id.clone(),
                session: None,
                category: None,
                playlist: None,
                position,
                at_ms: None,
                target_ms: None,
            };
            let item = match tokio::time::timeout(
                self.inner.opts.load_timeout,
                self.inner.assets.next_item(req),
            )
            .await
            {
                Ok(Ok(i)) => i,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(Error::Adapter("asset manager timed out".into())),
            };
            let loaded = match item {
                Item::Vod { url, .. }
                | Item::Programme { url, .. }
                | Item::AdBreak {
                    filler: Some(url), ..
                } => self.inner.vods.get(&url).await,
                Item::Live { url, .. } => self.inner.vods.live(&url).await.map(Arc::new),
                Item::Slate { .. } | Item::AdBreak { filler: None, .. } => continue,
            };
            match loaded {
                Ok(v) => return Ok(Some(v)),
                Err(e) => last_err = Some(e),
            }
        }
        match last_err {
            Some(e) => Err(Error::Channel {
                channel: ch.config.id.clone(),
                reason: format!("no content to take the channel's profile from yet: {e}"),
            }),
            None => Ok(None),
        }
    }

    pub(super) async fn slate_vod(&self, ch: &Channel) -> Option<Arc<LoadedVod>> {
        self.inner.vods.get(&self.slate_url(ch)?).await.ok()
    }

    /// Refuse a slate that cannot play in a channel of `profile` (checked once per channel,
    /// when its profile is settled). A slate that does not load now is not judged here:
    /// each slot it should fill fails on its own and is retried.
    pub(super) async fn check_slate(&self, ch: &Channel, profile: &Profile) -> Result<()> {
        let Some(url) = self.slate_url(ch) else {
            return Ok(());
        };
        let vod = match self.inner.vods.get(&url).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(channel = %ch.config.id, slate = %url, error = %e, "slate not loadable now; not checked");
                return Ok(());
            }
        };
        build_media(profile, &vod, None)
            .map(drop)
            .map_err(|e| Error::SlateIncompatible {
                channel: ch.config.id.clone(),
                slate: url,
                reason: e.to_string(),
            })
    }

    /// Settle every channel's profile and check its slate: a channel whose slate cannot
    /// serve it is an error naming the channel ([`crate::build`] refuses to start). A
    /// channel whose content does not load now is only logged (it starts when it does).
    pub async fn check_channels(&self) -> Result<()> {
        for id in self.channel_ids() {
            let ch = self.channel(&id)?;
            match self.profile(&ch).await {
                Ok(_) => {}
                Err(e @ Error::SlateIncompatible { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "channel profile not settled yet")
                }
            }
        }
        Ok(())
    }

    /// The channel's master playlist (same bytes for the channel and its sessions).
    pub async fn master(&self, target: &Target) -> Result<Bytes> {
        let ch = match target {
            Target::Channel(id) => self.channel(id)?,
            Target::Session(_) => {
                let scope = self.scope(target).await?;
                self.touch(&scope).await?;
                scope.channel.clone()
            }
        };
        let p = self.profile(&ch).await?;
        ch.master
            .get_or_init(|| async { Bytes::from(p.master().to_bytes()) })
            .await;
        Ok(ch.master.get().cloned().unwrap_or_default())
    }

    pub(super) async fn slate_media(&self, ch: &Channel, profile: &Profile) -> Result<EntryMedia> {
        let url = self
            .slate_url(ch)
            .ok_or_else(|| Error::Unusable("no slate configured".into()))?;
        let vod = self.inner.vods.get(&url).await?;
        build_media(profile, &vod, None)
    }

    /// Resolve an item to its media; the item returned is what the log must record (an
    /// ad break whose filler failed becomes one filled with the slate).
    pub(super) async fn resolve(
        &self,
        ch: &Channel,
        profile: &Profile,
        item: Item,
    ) -> Result<(Item, EntryMedia)> {
        match item {
            Item::Vod { ref url, .. } => {
                let vod = self.inner.vods.get(url).await?;
                let slate = self.slate_media(ch, profile).await.ok();
                let media = build_media(profile, &vod, slate.as_ref())?;
                Ok((item, media))
            }
            Item::Programme {
                ref url,
                offset_ms,
                max_ms,
                ..
            } => {
                let vod = match self.inner.vods.get(url).await {
                    Ok(v) => v,
                    Err(e) => {
                        // The slot keeps to the clock with the slate; the log records the
                        // slate (what every replica must render), as for any failed item.
                        metrics::counter!("engine_asset_failures_total", "kind" => "programme")
                            .increment(1);
                        tracing::warn!(channel = %ch.config.id, url = %url, error = %e, "programme unusable, playing slate in its slot");
                        let slate = Item::Slate {
                            reason: Some(format!("{url}: {e}")),
                            duration_ms: Some(max_ms),
                        };
                        return Box::pin(self.resolve(ch, profile, slate)).await;
                    }
                };
                let slate = self.slate_media(ch, profile).await;
                let content =
                    build_media(profile, &vod, slate.as_ref().ok())?.clip(offset_ms, max_ms);
                let left =
                    max_ms.saturating_sub(content.as_ref().map_or(0, |m| m.duration_ms()));
                // Pad with the slate up to the slot's end when the VOD is shorter.
                let pad = match &slate {
                    Ok(s) if left > 0 => s.looped(left)?.clip(0, left),
                    _ => None,
                };
                let media = match (content, pad) {
                    (Some(c), Some(p)) => c.then(&p)?,
                    (Some(c), None) => c,
                    (None, Some(p)) => p,
                    // Nothing of the VOD left at the offset and not one slate segment fits
                    // in the slot: the slate's first segment (less than one segment over).
                    (None, None) => {
                        let s = slate?;
                        let first = s.renditions[0].segments[0].dur_ms;
                        s.clip(0, first)
                            .ok_or_else(|| Error::Unusable("empty slate".into()))?
                    }
                };
                Ok((item, media))
            }
            Item::Slate { duration_ms, .. } => {
                let ms = duration_ms
                    .unwrap_or(self.inner.opts.slate_duration.as_millis() as u64)
                    .max(1);
                let media = self.slate_media(ch, profile).await?.looped(ms)?;
                Ok((item, media))
            }
            Item::AdBreak {
                duration_ms,
                ref filler,
            } => {
                let filled = match filler {
                    Some(u) => match self.inner.vods.get(u).await {
                        Ok(v) => build_media(profile, &v, None).and_then(|m| m.looped(duration_ms)),
                        Err(e) => Err(e),
                    },
                    None => Err(Error::Unusable("no filler".into())),
                };
                match filled {
                    Ok(m) => Ok((item, m)),
                    Err(e) => {
                        if filler.is_some() {
                            tracing::warn!(channel = %ch.config.id, error = %e, "ad filler unusable, filling the break with the slate");
                        }
                        let m = self.slate_media(ch, profile).await?.looped(duration_ms)?;
                        Ok((
                            Item::AdBreak {
                                duration_ms,
                                filler: None,
                            },
                            m,
                        ))
                    }
                }
            }
            Item::Live { .. } => Err(Error::Unusable(
                "a live entry is resolved where it is scheduled (its segments are not re-fetchable)"
                    .into(),
            )),
        }
    }

    /// Public info about every channel.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let now = self.now_ms();
        let chans: Vec<_> = self
            .inner
            .channels
            .read()
            .expect("channels lock")
            .values()
            .cloned()
            .collect();
        chans.into_iter().map(|c| self.info(&c, now)).collect()
    }

    pub fn channel_info(&self, id: &str) -> Result<ChannelInfo> {
        let c = self.channel(id)?;
        Ok(self.info(&c, self.now_ms()))
    }

    pub(super) fn info(&self, c: &Channel, now: Millis) -> ChannelInfo {
        let now_playing = self
            .inner
            .scopes
            .read()
            .expect("scopes lock")
            .get(&Target::Channel(c.config.id.clone()))
            .and_then(|s| {
                s.schedule
                    .read()
                    .expect("schedule lock")
                    .as_ref()
                    .and_then(|sch| sch.entry_at(now).map(|e| e.item.clone()))
            });
        ChannelInfo {
            id: c.config.id.clone(),
            title: c.config.title.clone(),
            master: format!("channels/{}/master.m3u8", c.config.id),
            profile: c.profile.get().map(|p| (**p).clone()),
            now_playing,
        }
    }
}
