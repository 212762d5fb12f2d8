//! Following wrapper chains: the async shell around [`parse_document`] (see the module
//! doc of `vast` for the rules).

use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, join_all};

use super::parse::{Node, WrapperAd, parse_document};
use super::{ErrorCode, LinearAd, fill_macros, vmap};
use crate::error::{AdsError, Result};

/// How far and how long to follow wrappers.
#[derive(Debug, Clone, Copy)]
pub struct ResolveOptions {
    /// Deadline of each request (the top-level one and each wrapper's).
    pub timeout: Duration,
    /// Most wrappers above an inline ad (IAB recommends 5).
    pub max_depth: u8,
    /// Largest answer read, bytes.
    pub max_bytes: usize,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            max_depth: 5,
            max_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The ads of an answer, wrappers followed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// The pod by sequence, then standalone ads in document order.
    pub ads: Vec<LinearAd>,
    /// Error URLs to fire now (macros filled) for what was dropped on the way.
    pub errors: Vec<String>,
    /// The VMAP break's own tracking (`breakStart`, `breakEnd`, `error`), for pre-rolls.
    pub break_beacons: Vec<(String, String)>,
}

/// GET `url` within the deadline, at most `max` bytes, as text.
async fn fetch(http: &reqwest::Client, url: &str, opts: &ResolveOptions) -> Result<String> {
    let fut = async {
        let resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| AdsError::AdServer(format!("{url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(AdsError::AdServer(format!("{url}: HTTP {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > opts.max_bytes as u64)
        {
            return Err(AdsError::AdServer(format!("{url}: answer too large")));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| AdsError::AdServer(format!("{url}: {e}")))?;
        if body.len() > opts.max_bytes {
            return Err(AdsError::AdServer(format!("{url}: answer too large")));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(opts.timeout, fut)
        .await
        .map_err(|_| AdsError::AdServer(format!("{url}: no answer within {:?}", opts.timeout)))?
}

fn fired(urls: &[String], code: ErrorCode) -> Vec<String> {
    urls.iter().map(|u| fill_macros(u, Some(code))).collect()
}

/// The ads of the nodes of one document at `depth` wrappers down; `chain_errors` are the
/// error URLs of the wrappers above (fired with any failure below).
fn nodes(
    http: &reqwest::Client,
    list: Vec<Node>,
    depth: u8,
    chain_errors: Vec<String>,
    opts: ResolveOptions,
) -> BoxFuture<'_, (Vec<LinearAd>, Vec<String>)> {
    async move {
        let mut slots: Vec<BoxFuture<'_, (Vec<LinearAd>, Vec<String>)>> = Vec::new();
        for node in list {
            match node {
                Node::InLine { ads, .. } => {
                    slots.push(async move { (ads, Vec::new()) }.boxed());
                }
                Node::Wrapper(w) => {
                    slots.push(follow(http, w, depth + 1, chain_errors.clone(), opts));
                }
            }
        }
        let mut ads = Vec::new();
        let mut errors = Vec::new();
        for (a, e) in join_all(slots).await {
            ads.extend(a);
            errors.extend(e);
        }
        (ads, errors)
    }
    .boxed()
}

/// Follows one wrapper (it is the `depth`-th level).
fn follow(
    http: &reqwest::Client,
    w: WrapperAd,
    depth: u8,
    mut chain_errors: Vec<String>,
    opts: ResolveOptions,
) -> BoxFuture<'_, (Vec<LinearAd>, Vec<String>)> {
    async move {
        chain_errors.extend(
            w.beacons
                .iter()
                .filter(|(e, _)| e == "error")
                .map(|(_, u)| u.clone()),
        );
        if depth > opts.max_depth || w.tag_uri.is_empty() {
            let code = if w.tag_uri.is_empty() {
                ErrorCode::WrapperGeneral
            } else {
                ErrorCode::WrapperLimit
            };
            return (Vec::new(), fired(&chain_errors, code));
        }
        let text = match fetch(http, &w.tag_uri, &opts).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(url = w.tag_uri, error = %e, depth, "VAST wrapper not followed");
                return (Vec::new(), fired(&chain_errors, ErrorCode::WrapperTimeout));
            }
        };
        let doc = match parse_document(&text) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(url = w.tag_uri, error = %e, depth, "VAST wrapper answered no VAST");
                return (Vec::new(), fired(&chain_errors, ErrorCode::XmlParse));
            }
        };
        if doc.ads.is_empty() {
            let mut urls = chain_errors.clone();
            urls.extend(doc.errors.iter().cloned());
            return (Vec::new(), fired(&urls, ErrorCode::NoAds));
        }
        let (inline, wrappers): (Vec<Node>, Vec<Node>) = doc
            .ads
            .into_iter()
            .partition(|n| matches!(n, Node::InLine { .. }));
        let mut errors = Vec::new();
        let mut list = inline;
        if w.follow_additional {
            list.extend(wrappers);
        } else if !wrappers.is_empty() {
            errors.extend(fired(&chain_errors, ErrorCode::WrapperLimit));
        }
        let (mut ads, more) = nodes(http, list, depth, chain_errors.clone(), opts).await;
        errors.extend(more);
        if !w.allow_multiple && ads.len() > 1 {
            let first = ads.iter().position(|a| a.sequence.is_none()).unwrap_or(0);
            ads = vec![ads.swap_remove(first)];
        }
        if ads.is_empty() && errors.is_empty() {
            errors.extend(fired(&chain_errors, ErrorCode::NoAds));
        }
        for ad in &mut ads {
            ad.beacons.extend(w.beacons.iter().cloned());
            ad.wrapper_depth += 1;
            if w.sequence.is_some() {
                ad.sequence = w.sequence;
            }
        }
        (ads, errors)
    }
    .boxed()
}

/// The pod by sequence, then standalone ads in order.
fn order(ads: Vec<LinearAd>) -> Vec<LinearAd> {
    let (mut pod, standalone): (Vec<LinearAd>, Vec<LinearAd>) =
        ads.into_iter().partition(|a| a.sequence.is_some());
    pod.sort_by_key(|a| a.sequence);
    pod.extend(standalone);
    pod
}

async fn resolve_text(
    http: &reqwest::Client,
    text: &str,
    opts: ResolveOptions,
) -> Result<Resolved> {
    let doc = parse_document(text)?;
    if doc.ads.is_empty() {
        return Ok(Resolved {
            errors: fired(&doc.errors, ErrorCode::NoAds),
            ..Default::default()
        });
    }
    let (ads, errors) = nodes(http, doc.ads, 0, Vec::new(), opts).await;
    Ok(Resolved {
        ads: order(ads),
        errors,
        break_beacons: Vec::new(),
    })
}

/// Asks the ad decision server at `url` and follows every wrapper. An answer that cannot
/// be fetched or is not VAST is an error; everything below it is dropped ad by ad, with
/// error URLs to fire.
pub async fn resolve(http: &reqwest::Client, url: &str, opts: ResolveOptions) -> Result<Resolved> {
    let text = fetch(http, url, &opts).await?;
    resolve_text(http, &text, opts).await
}

/// A pre-roll: asks `url`, which may answer VMAP (its `start` break is used: inline VAST
/// data or an ad tag URI, followed like a wrapper) or plain VAST.
pub async fn preroll(http: &reqwest::Client, url: &str, opts: ResolveOptions) -> Result<Resolved> {
    let text = fetch(http, url, &opts).await?;
    if !vmap::is_vmap(&text) {
        return resolve_text(http, &text, opts).await;
    }
    let breaks = vmap::parse(&text)?;
    let Some(b) = breaks.into_iter().find(|b| b.offset == vmap::Offset::Start) else {
        return Ok(Resolved::default());
    };
    let mut resolved = match &b.source {
        vmap::Source::VastData(xml) => resolve_text(http, xml, opts).await?,
        vmap::Source::AdTagUri(u) => resolve(http, u, opts).await?,
        vmap::Source::None => Resolved::default(),
    };
    resolved.break_beacons = b.tracking;
    Ok(resolved)
}
