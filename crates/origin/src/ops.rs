//! The control operations both front doors call (the lineup API in `api`, the
//! MediaPackage API in `mediapackage`): add, replace and remove an endpoint, edit a
//! channel's description and tags, rotate ingest credentials. Each validates with the
//! model's rules, changes the channel under its lock and persists the definition; the
//! doors only translate.

use std::sync::Arc;

use crate::digest::Ha1;
use crate::error::OriginError;
use crate::model::{ChannelView, EndpointSpec, EndpointView};
use crate::registry::{Shared, random_token};
use crate::timeline::ChannelData;

type Result<T> = std::result::Result<T, OriginError>;

impl Shared {
    /// Add an endpoint to a channel (its id unique in the channel).
    pub(crate) async fn add_endpoint(
        &self,
        channel: &str,
        spec: EndpointSpec,
    ) -> Result<EndpointView> {
        spec.validate("")?;
        let ch = self.channel(channel)?;
        {
            let mut guard = ch.lock();
            let data = guard.change();
            if data.endpoints.iter().any(|e| e.id == spec.id) {
                return Err(OriginError::Conflict(format!(
                    "endpoint {:?} exists",
                    spec.id
                )));
            }
            data.endpoints.push(spec.clone());
        }
        self.save_definition(&ch).await?;
        Ok(self.endpoint_view(channel, spec))
    }

    /// Replace an endpoint's settings (found by `spec.id`).
    pub(crate) async fn replace_endpoint(
        &self,
        channel: &str,
        spec: EndpointSpec,
    ) -> Result<EndpointView> {
        spec.validate("")?;
        let ch = self.channel(channel)?;
        {
            let mut guard = ch.lock();
            let data = guard.change();
            let slot = data
                .endpoints
                .iter_mut()
                .find(|e| e.id == spec.id)
                .ok_or_else(|| OriginError::not_found(format!("endpoint {:?}", spec.id)))?;
            *slot = spec.clone();
            for v in data.variants.values_mut() {
                v.live_cache.remove(&spec.id);
            }
        }
        self.save_definition(&ch).await?;
        Ok(self.endpoint_view(channel, spec))
    }

    /// Remove an endpoint.
    pub(crate) async fn remove_endpoint(&self, channel: &str, endpoint: &str) -> Result<()> {
        let ch = self.channel(channel)?;
        {
            let mut guard = ch.lock();
            let data = guard.change();
            let before = data.endpoints.len();
            data.endpoints.retain(|e| e.id != endpoint);
            if data.endpoints.len() == before {
                return Err(OriginError::not_found(format!("endpoint {endpoint:?}")));
            }
        }
        self.save_definition(&ch).await
    }

    /// One endpoint's settings.
    pub(crate) fn endpoint(&self, channel: &str, endpoint: &str) -> Result<EndpointSpec> {
        self.channel(channel)?
            .lock()
            .endpoints
            .iter()
            .find(|e| e.id == endpoint)
            .cloned()
            .ok_or_else(|| OriginError::not_found(format!("endpoint {endpoint:?}")))
    }

    /// Every endpoint of every channel: (channel id, settings), by channel then endpoint.
    pub(crate) fn all_endpoints(&self) -> Vec<(String, EndpointSpec)> {
        let mut chans: Vec<Arc<crate::Channel>> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        chans.sort_by(|a, b| a.id.cmp(&b.id));
        chans
            .iter()
            .flat_map(|ch| {
                let mut eps = ch.lock().endpoints.clone();
                eps.sort_by(|a, b| a.id.cmp(&b.id));
                eps.into_iter().map(|e| (ch.id.clone(), e))
            })
            .collect()
    }

    /// Change a channel's description and tags: `edit` gets a copy, whose description and
    /// tags are checked as on creation and then kept.
    pub(crate) async fn edit_channel(
        &self,
        id: &str,
        edit: impl FnOnce(&mut crate::ChannelSpec),
    ) -> Result<ChannelView> {
        let ch = self.channel(id)?;
        let mut spec = {
            let data = ch.lock();
            channel_meta(id, &data)
        };
        edit(&mut spec);
        spec.validate()?;
        {
            let mut guard = ch.lock();
            let data = guard.change();
            data.description = spec.description;
            data.tags = spec.tags;
        }
        self.save_definition(&ch).await?;
        Ok(self.view(&ch))
    }

    /// New passwords for ingest `which` (1 or 2; `None`: both): the old ones are refused
    /// from now on (401), the usernames stay. The view holds the new passwords.
    pub(crate) async fn rotate_ingest(
        &self,
        id: &str,
        which: Option<usize>,
    ) -> Result<ChannelView> {
        let ch = self.channel(id)?;
        let mut users = (**ch.users.load()).clone();
        let mut passwords = [None, None];
        for (i, (user, ha1)) in users.iter_mut().enumerate() {
            if which.is_none_or(|n| n == i + 1) {
                let password = random_token(16);
                *ha1 = Ha1::new(user, &password);
                passwords[i] = Some(password);
            }
        }
        let old = ch.users.swap(Arc::new(users));
        if let Err(e) = self.save_definition(&ch).await {
            // Not stored: other replicas would keep the old passwords. Keep them here too.
            ch.users.store(old);
            return Err(e);
        }
        tracing::info!(channel = %id, ?which, "ingest credentials rotated");
        let mut view = self.view(&ch);
        for (v, p) in view.ingest.iter_mut().zip(passwords) {
            v.password = p;
        }
        Ok(view)
    }
}

/// The description and tags of a channel as a spec (no endpoints: they are checked on
/// their own).
fn channel_meta(id: &str, data: &ChannelData) -> crate::ChannelSpec {
    let mut spec = crate::ChannelSpec::new(id);
    spec.endpoints.clear();
    spec.description = data.description.clone();
    spec.tags = data.tags.clone();
    spec
}
