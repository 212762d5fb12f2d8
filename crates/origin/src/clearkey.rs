//! `POST /keys/{channel}/{endpoint}/clearkey`: a W3C EME ClearKey licence for the derived
//! keys of a DRM endpoint (one without a key provider: see [`crate::drm::DerivedKeys`]).
//!
//! The request is what a ClearKey CDM asks for, `{"kids": ["<base64url KID>", ...],
//! "type": "temporary"}`; the answer `{"keys": [{"kty": "oct", "kid", "k"}, ...], "type":
//! "temporary"}` holds the key of every KID this origin derived for the endpoint (a
//! derived KID names its key period, so nothing is looked up), and with each the other
//! track's key of the same period when they differ. KIDs of other endpoints or keys are
//! skipped; none known is a 404. An endpoint whose keys come from a key provider has no
//! licence here: its provider's licence server answers for it.
//!
//! Like the `/keys/...` URIs of AES-128, this hands keys to anyone who can reach it:
//! derived keys are for tests and demos, not for content that needs protecting.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use web::ApiError;

use crate::Shared;

/// The licence request of a ClearKey CDM.
#[derive(Debug, Deserialize)]
pub struct LicenceRequest {
    pub kids: Vec<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One key of a licence (a JSON Web Key).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    pub kid: String,
    pub k: String,
}

/// The licence.
#[derive(Debug, Serialize)]
pub struct Licence {
    pub keys: Vec<Jwk>,
    #[serde(rename = "type")]
    pub kind: String,
}

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes a base64url KID (padding tolerated) into 16 bytes.
fn kid_bytes(s: &str) -> Option<[u8; 16]> {
    B64URL.decode(s.trim_end_matches('=')).ok()?.try_into().ok()
}

pub async fn licence(
    State(s): State<Arc<Shared>>,
    Path((channel, endpoint)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Licence>, ApiError> {
    let req: LicenceRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_field("kids", format!("not a ClearKey licence request: {e}")))?;
    let derived = {
        let ch = s.channel(&channel)?;
        let data = ch.lock();
        let ep = data
            .endpoints
            .iter()
            .find(|e| e.id == endpoint)
            .ok_or_else(|| ApiError::not_found(format!("endpoint {endpoint:?} not found")))?;
        ep.encryption
            .drm()
            .is_some_and(|d| d.speke_key_provider.is_none())
    };
    if !derived {
        return Err(ApiError::not_found(
            "this endpoint has no ClearKey licence on this origin",
        ));
    }
    if req.kids.is_empty() || req.kids.len() > 64 {
        return Err(ApiError::bad_field("kids", "between 1 and 64 KIDs"));
    }
    let mut keys = Vec::new();
    for (i, k) in req.kids.iter().enumerate() {
        let kid = kid_bytes(k).ok_or_else(|| {
            ApiError::bad_field(format!("kids[{i}]"), "not a base64url 16-byte KID")
        })?;
        if let Some(period) = s.keys.period_of_kid(&channel, &endpoint, &kid) {
            keys.push(Jwk {
                kty: "oct",
                kid: B64URL.encode(kid),
                k: B64URL.encode(s.keys.key(&channel, &endpoint, period)),
            });
        }
    }
    if keys.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "none of these KIDs is a key of this endpoint",
        )
        .with_field("kids"));
    }
    Ok(Json(Licence {
        keys,
        kind: req.kind.unwrap_or_else(|| "temporary".into()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_decode_with_or_without_padding() {
        let kid = [7u8; 16];
        let s = B64URL.encode(kid);
        assert_eq!(kid_bytes(&s), Some(kid));
        assert_eq!(kid_bytes(&format!("{s}==")), Some(kid));
        assert_eq!(kid_bytes("AAAA"), None);
        assert_eq!(kid_bytes("!!"), None);
    }
}
