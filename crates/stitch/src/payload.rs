//! The stitch payload: `{uri, breaks: [{pos, duration, url}]}` (lambda-stitch's format),
//! carried base64url-encoded in the `payload` query parameter.
//!
//! Decoding is strict and names the field at fault (`payload`, `payload.uri`,
//! `payload.breaks[2].pos`, ...), so a bad request is a 400 a user can act on. Decoding
//! accepts what lambda-stitch produces too (standard base64 with `+`/`/`, padded or not,
//! and a `+` that a query decoder turned into a space); encoding always writes base64url
//! without padding, which needs no escaping in a URL.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::error::Error;

/// One ad to insert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Break {
    /// Where to insert, milliseconds into the content. 0 = pre-roll; a mid-roll snaps to
    /// the first segment boundary at or after `pos`; `pos` at or past the end = post-roll.
    #[serde(serialize_with = "whole_ms")]
    pub pos: f64,
    /// Planned duration of the ad, milliseconds (used by Interstitials; spliced breaks use
    /// the ad's real length).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_ms_opt"
    )]
    pub duration: Option<f64>,
    /// The ad: an HLS VOD (multivariant or media playlist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Interstitials only: an asset-list URL (`X-ASSET-LIST`) instead of `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_list_url: Option<String>,
}

/// What to stitch: the content VOD and its breaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payload {
    /// The content: an HLS VOD's multivariant playlist URL.
    pub uri: String,
    #[serde(default)]
    pub breaks: Vec<Break>,
}

impl Payload {
    /// Decode and check the `payload` query parameter.
    pub fn decode(param: &str) -> Result<Self, Error> {
        let bytes = decode_base64(param)?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad("payload", format!("payload is not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Check a payload given as JSON (the POST API).
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let obj = value
            .as_object()
            .ok_or_else(|| Error::bad("payload", "payload must be a JSON object"))?;
        known_fields("payload", obj, &["uri", "breaks"])?;
        let uri = match obj.get("uri") {
            None | Some(Value::Null) => return Err(Error::bad("payload.uri", "uri is missing")),
            Some(Value::String(s)) => check_url("payload.uri", s)?,
            Some(_) => return Err(Error::bad("payload.uri", "uri must be a string")),
        };
        let breaks = match obj.get("breaks") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, b)| check_break(i, b))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(Error::bad("payload.breaks", "breaks must be an array")),
        };
        Ok(Payload { uri, breaks })
    }

    /// base64url (no padding) of the JSON: the canonical `payload` parameter.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }
}

/// Milliseconds as an integer when whole (`4000`, not `4000.0`): shorter payloads, and the
/// JSON lambda-stitch users write.
fn whole_ms<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && (0.0..9.0e15).contains(v) {
        s.serialize_u64(*v as u64)
    } else {
        s.serialize_f64(*v)
    }
}

fn whole_ms_opt<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => whole_ms(v, s),
        None => s.serialize_none(),
    }
}

fn decode_base64(param: &str) -> Result<Vec<u8>, Error> {
    let s: String = param
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    if s.is_empty() {
        return Err(Error::bad("payload", "payload is empty"));
    }
    URL_SAFE_NO_PAD
        .decode(&s)
        .or_else(|_| STANDARD_NO_PAD.decode(&s))
        .map_err(|e| Error::bad("payload", format!("payload is not base64url: {e}")))
}

fn check_url(field: &str, s: &str) -> Result<String, Error> {
    let url = Url::parse(s).map_err(|e| Error::bad(field, format!("not a URL ({e}): {s}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::bad(field, format!("not an http(s) URL: {s}")));
    }
    Ok(url.to_string())
}

fn check_ms(field: &str, v: Option<&Value>, required: bool) -> Result<Option<f64>, Error> {
    match v {
        None | Some(Value::Null) if required => Err(Error::bad(field, "missing")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(Error::bad(
                field,
                format!("must be milliseconds >= 0, got {n}"),
            )),
        },
        Some(other) => Err(Error::bad(
            field,
            format!("must be a number of milliseconds, got {other}"),
        )),
    }
}

/// Unknown fields are refused (as on every control API), naming the first one.
fn known_fields(
    at: &str,
    obj: &serde_json::Map<String, Value>,
    known: &[&str],
) -> Result<(), Error> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Error::bad(
            format!("{at}.{k}"),
            format!("unknown field `{k}`, expected one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn check_break(i: usize, b: &Value) -> Result<Break, Error> {
    let field = |name: &str| format!("payload.breaks[{i}]{name}");
    let obj = b
        .as_object()
        .ok_or_else(|| Error::bad(field(""), "a break must be an object"))?;
    known_fields(&field(""), obj, &["pos", "duration", "url", "assetListUrl"])?;
    let pos = check_ms(&field(".pos"), obj.get("pos"), true)?.unwrap_or(0.0);
    let duration = check_ms(&field(".duration"), obj.get("duration"), false)?;
    let url_of = |name: &str| -> Result<Option<String>, Error> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => check_url(&field(&format!(".{name}")), s).map(Some),
            Some(_) => Err(Error::bad(field(&format!(".{name}")), "must be a string")),
        }
    };
    let url = url_of("url")?;
    let asset_list_url = url_of("assetListUrl")?;
    if url.is_none() && asset_list_url.is_none() {
        return Err(Error::bad(field(".url"), "url is missing"));
    }
    Ok(Break {
        pos,
        duration,
        url,
        asset_list_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(param: &str) -> String {
        match Payload::decode(param) {
            Err(Error::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn round_trip_and_lambda_stitch_base64() {
        let json = r#"{"uri":"http://h/a/master.m3u8","breaks":[{"pos":0,"duration":15000,"url":"http://h/ad/master.m3u8"}]}"#;
        let p = Payload::decode(&b64(json)).unwrap();
        assert_eq!(p.breaks.len(), 1);
        assert_eq!(serde_json::to_string(&p).unwrap(), json);
        assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
        // Standard, padded base64 (what lambda-stitch's serialize() writes).
        let std = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(Payload::decode(&std).unwrap(), p);
        // ... with '+' decoded to ' ' by a query parser.
        assert_eq!(Payload::decode(&std.replace('+', " ")).unwrap(), p);
    }

    #[test]
    fn bad_payloads_name_the_field() {
        assert_eq!(field_of("!!!"), "payload");
        assert_eq!(field_of(&b64("not json")), "payload");
        assert_eq!(field_of(&b64("[]")), "payload");
        assert_eq!(field_of(&b64(r#"{"breaks":[]}"#)), "payload.uri");
        assert_eq!(field_of(&b64(r#"{"uri":"ftp://x/y"}"#)), "payload.uri");
        assert_eq!(
            field_of(&b64(r#"{"uri":"http://x/m.m3u8","breaks":{}}"#)),
            "payload.breaks"
        );
        assert_eq!(
            field_of(&b64(
                r#"{"uri":"http://x/m.m3u8","breaks":[{"pos":-1,"url":"http://x/a.m3u8"}]}"#
            )),
            "payload.breaks[0].pos"
        );
        assert_eq!(
            field_of(&b64(
                r#"{"uri":"http://x/m.m3u8","breaks":[{"pos":0,"url":"http://x/a.m3u8"},{"pos":1}]}"#
            )),
            "payload.breaks[1].url"
        );
        assert_eq!(
            field_of(&b64(
                r#"{"uri":"http://x/m.m3u8","breaks":[{"pos":"5","url":"http://x/a.m3u8"}]}"#
            )),
            "payload.breaks[0].pos"
        );
    }
}
