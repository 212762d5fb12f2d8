//! Persistence and replicas (`--store disk`/`s3`): writing a channel's definition and
//! timeline index beside its segments, and following what other replicas wrote
//! ([`Shared::refresh`], every `follow_interval_ms`). See [`crate::persist`] for the
//! object layout and the single-writer rule.

use std::sync::Arc;

use crate::channel::{Channel, same_users};
use crate::error::OriginError;
use crate::persist;
use crate::registry::Shared;
use crate::timeline::ChannelData;

impl Shared {
    /// How often replicas re-list the store (`follow_interval_ms`, at least 50 ms).
    pub(crate) fn follow_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.follow_interval_ms.max(50))
    }

    /// Whether `ch` is still the channel registered under its id (not deleted or
    /// replaced meanwhile: then it must not be written back).
    pub(crate) fn is_current(&self, ch: &Channel) -> bool {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ch.id)
            .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), ch))
    }

    pub(crate) fn persist_failed(ch: &Channel, e: &OriginError) {
        tracing::warn!(channel = %ch.id, error = %e, "persisting the channel failed");
        metrics::counter!("origin_persist_failed_total").increment(1);
    }

    /// Write a channel's definition (with `--store disk`/`s3`). A failure is logged,
    /// counted and returned.
    pub(crate) async fn save_definition(&self, ch: &Channel) -> Result<(), OriginError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let _g = ch.persist_lock.lock().await;
        if !self.is_current(ch) {
            return Ok(());
        }
        let bytes = persist::definition_bytes(&ch.id, &ch.users.load(), &ch.lock());
        index
            .put(&ch.id, persist::Part::Definition, bytes)
            .await
            .inspect_err(|e| Self::persist_failed(ch, e))
    }

    /// Write a channel's timeline index if it changed since the last write (with
    /// `--store disk`/`s3`). A failure is logged, counted and returned; the next write
    /// retries.
    pub(crate) async fn save_index(&self, ch: &Channel) -> Result<(), OriginError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let mut st = ch.persist_lock.lock().await;
        if !self.is_current(ch) {
            return Ok(());
        }
        let (version, plan) = {
            let data = ch.lock();
            let version = data.index_version();
            if version == st.version {
                return Ok(());
            }
            (version, persist::index_write(&data, &st.pages))
        };
        self.store_index(index, &ch.id, &mut st, plan)
            .await
            .inspect_err(|e| Self::persist_failed(ch, e))?;
        st.version = version;
        Ok(())
    }

    /// Pages first (the head must never name a page that is not stored), the head, then
    /// pages that left the window.
    pub(crate) async fn store_index(
        &self,
        index: &persist::Index,
        id: &str,
        st: &mut persist::Persisted,
        plan: persist::IndexWrite,
    ) -> Result<(), OriginError> {
        for p in &plan.pages {
            index
                .put_page(id, &p.slug, p.block, p.bytes.clone())
                .await?;
            st.pages.wrote(p);
        }
        index.put(id, persist::Part::Index, plan.head).await?;
        for (slug, block) in plan.gone {
            index.delete_page(id, &slug, block).await?;
            st.pages.deleted(&slug, block);
        }
        Ok(())
    }

    /// Whether this process ingested into `ch` within [`persist::INGEST_QUIET`].
    pub(crate) fn ingesting(&self, ch: &Channel) -> bool {
        let last = ch.last_ingest_ms.load(std::sync::atomic::Ordering::Relaxed);
        last != 0
            && self.clock.now().timestamp_millis() - last < persist::INGEST_QUIET.as_millis() as i64
    }

    /// Bring channels up to date with the store: channels other replicas created appear,
    /// changed definitions apply, changed indexes replace the timeline (unless this process
    /// is ingesting into that channel), channels deleted elsewhere disappear. Runs at start
    /// and every `follow_interval_ms`.
    pub(crate) async fn refresh(&self) -> Result<(), OriginError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let stamp = index.now_stamp();
        let mut listed = index.list().await?;
        let mut defined = std::collections::HashSet::new();
        let mut buried = std::collections::HashSet::new();
        // Definitions first, so an index always finds its channel.
        listed.sort_by_key(|l| l.part != persist::Part::Definition);
        for l in &listed {
            match l.part {
                persist::Part::Definition => defined.insert(l.id.clone()),
                persist::Part::Tombstone => buried.insert(l.id.clone()),
                persist::Part::Index => false,
            };
            if l.part == persist::Part::Tombstone || !index.changed(l) {
                continue;
            }
            let existing = self.channel(&l.id).ok();
            let result = match l.part {
                persist::Part::Definition => self.apply_definition(index, &l.id, existing).await,
                persist::Part::Index => match existing {
                    Some(ch) if !self.ingesting(&ch) => self.apply_index(index, &ch).await,
                    _ => Ok(()),
                },
                persist::Part::Tombstone => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(channel = %l.id, error = %e, "channel not taken from the store");
                metrics::counter!("origin_follow_failed_total").increment(1);
                // Not applied: try again on the next pass even if the object stays as is.
                index.unsee(&l.id, l.part);
            }
        }
        let missing: Vec<Arc<Channel>> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(id, _)| !defined.contains(*id) && index.definition_known_before(id, stamp))
            .map(|(_, ch)| ch.clone())
            .collect();
        let (gone, lost): (Vec<_>, Vec<_>) =
            missing.into_iter().partition(|ch| buried.contains(&ch.id));
        // No tombstone: the store lost the definition (emptied, restored from an older
        // copy), nobody deleted the channel. Write it again; the index follows with the
        // next ingest.
        for ch in lost {
            tracing::warn!(channel = %ch.id, "the store lost this channel's definition: writing it again");
            // A failure is logged and counted; the next pass finds it missing again.
            let _ = self.save_definition(&ch).await;
        }
        for id in gone.into_iter().map(|ch| ch.id.clone()) {
            let removed = self
                .channels
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if removed.is_some() {
                index.forget(&id);
                metrics::gauge!("origin_channels").decrement(1.0);
                tracing::info!(channel = %id, "channel deleted by another replica");
            }
        }
        Ok(())
    }

    pub(crate) async fn apply_definition(
        &self,
        index: &persist::Index,
        id: &str,
        existing: Option<Arc<Channel>>,
    ) -> Result<(), String> {
        let Some(bytes) = index
            .get(id, persist::Part::Definition)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let def = persist::parse_definition(&bytes)?;
        if def.id != id {
            return Err(format!("object names channel {:?}", def.id));
        }
        if let Some(ch) = existing.filter(|ch| same_users(&ch.users.load(), &def.users)) {
            // Rotated ingest credentials: the same channel with new passwords.
            if **ch.users.load() != def.users {
                ch.users.store(Arc::new(def.users));
            }
            let mut guard = ch.lock();
            if guard.description != def.description
                || guard.endpoints != def.endpoints
                || guard.tags != def.tags
            {
                let data = guard.change();
                data.description = def.description;
                data.endpoints = def.endpoints;
                data.tags = def.tags;
            }
            return Ok(());
        }
        // New here, or deleted and created again elsewhere (new ingest users): a new channel.
        let mut data = ChannelData::default();
        data.description = def.description;
        data.endpoints = def.endpoints;
        data.tags = def.tags;
        let ch = Arc::new(Channel::new(def.id.clone(), def.users, data));
        let added = {
            let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
            match channels.get(&def.id) {
                Some(c) if same_users(&c.users.load(), &ch.users.load()) => false,
                old => {
                    if old.is_none() {
                        metrics::gauge!("origin_channels").increment(1.0);
                    }
                    channels.insert(def.id.clone(), ch.clone());
                    true
                }
            }
        };
        if added {
            tracing::info!(channel = %def.id, "channel taken from the store");
            // Its index, if any, in the same pass.
            self.apply_index(index, &ch).await?;
        }
        Ok(())
    }

    pub(crate) async fn apply_index(
        &self,
        index: &persist::Index,
        ch: &Channel,
    ) -> Result<(), String> {
        let mut st = ch.persist_lock.lock().await;
        let Some(bytes) = index
            .get(&ch.id, persist::Part::Index)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let head = persist::IndexHead::parse(&bytes)?;
        let mut read = Vec::new();
        for (slug, r) in head.missing(&st.pages) {
            let page = index
                .get_page(&ch.id, &slug, r.block)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("page {slug}/{} is gone (the writer moved on)", r.block))?;
            read.push((slug, r, page));
        }
        let mut guard = ch.lock();
        if self.ingesting(ch) {
            return Ok(()); // ingest started here meanwhile: this process is the writer now
        }
        // Only now: pages of a head that is not applied must not enter the bookkeeping.
        for (slug, r, page) in read {
            persist::read_page(&mut st.pages, &slug, r, &page)?;
        }
        persist::apply_index(head, &mut st.pages, guard.change())?;
        // What is stored now is this content: no need to write it back.
        st.version = guard.index_version();
        Ok(())
    }
}
