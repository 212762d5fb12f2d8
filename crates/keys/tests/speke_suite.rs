//! The AWS SPEKE v2 verification test suite's cases (awslabs/speke-reference-server,
//! `spekev2_verification_testsuite`) ported to Rust and run against the key server over
//! HTTP, with no Python: the suite itself runs too (`tests/aws_suite.rs`, pytest). Its five
//! fixed request documents are used as they are (`tests/spekev2/`); the requests it
//! generates are built the way `helpers/generate_test_artifacts.py` builds them; the
//! answers are read with roxmltree (not with our CPIX model) and checked with the suite's
//! assertions (`helpers/speke_element_assertions.py`), named after its test functions.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use keys::{KeyServer, KeyServerConfig};

const CPIX: &str = "urn:dashif:org:cpix";
const PSKC: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const WIDEVINE: &str = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";
const PLAYREADY: &str = "9a04f079-9840-4286-ab92-e65be0885f95";
const FAIRPLAY: &str = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2";

async fn start() -> String {
    let server = KeyServer::new(KeyServerConfig {
        seed: "suite".into(),
        public_url: None,
        api_token: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, server.router()).await.unwrap() });
    format!("http://{addr}/speke/v2")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/spekev2/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("x-speke-version", "2.0")
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn post_ok(url: &str, body: String) -> String {
    let r = post(url, body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-speke-version"], "2.0");
    assert!(r.headers().contains_key("x-speke-user-agent"));
    let ct = r.headers()["content-type"].to_str().unwrap().to_lowercase();
    assert!(ct.contains("application/xml"), "{ct}");
    if ct.contains("charset") {
        assert!(ct.contains("charset=utf-8"), "{ct}");
    }
    r.text().await.unwrap()
}

/// A request as `generate_test_artifacts.py` builds it: one key per track type, each
/// system asked for every key, a key period unless VOD.
fn generated(track_types: &[&str], systems: &[&str], vod: bool) -> String {
    let scheme = if systems.contains(&FAIRPLAY) {
        "cbcs"
    } else {
        "cenc"
    };
    let kids: Vec<String> = track_types
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let period = format!("keyPeriod_{}", uuid::Uuid::new_v4());
    let mut x = format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<cpix:CPIX xmlns:cpix=\"{CPIX}\" \
         contentId=\"test_case_{}\" version=\"2.3\" xmlns:pksc=\"{PSKC}\">\n<cpix:ContentKeyList>",
        uuid::Uuid::new_v4()
    );
    for k in &kids {
        x += &format!("<cpix:ContentKey kid=\"{k}\" commonEncryptionScheme=\"{scheme}\" />");
    }
    x += "</cpix:ContentKeyList><cpix:DRMSystemList>";
    for s in systems {
        for k in &kids {
            x += &format!("<cpix:DRMSystem kid=\"{k}\" systemId=\"{s}\"><cpix:PSSH />");
            if *s != FAIRPLAY {
                x += "<cpix:ContentProtectionData />";
            }
            x += "<cpix:HLSSignalingData playlist=\"media\" />\
                  <cpix:HLSSignalingData playlist=\"master\" /></cpix:DRMSystem>";
        }
    }
    x += "</cpix:DRMSystemList>";
    if !vod {
        x += &format!(
            "<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id=\"{period}\" index=\"0\" />\
             </cpix:ContentKeyPeriodList>"
        );
    }
    x += "<cpix:ContentKeyUsageRuleList>";
    for (k, t) in kids.iter().zip(track_types) {
        x += &format!("<cpix:ContentKeyUsageRule kid=\"{k}\" intendedTrackType=\"{t}\">");
        if !vod {
            x += &format!("<cpix:KeyPeriodFilter periodId=\"{period}\" />");
        }
        let filter = if t.contains("AUDIO") {
            "AudioFilter"
        } else {
            "VideoFilter"
        };
        x += &format!("<cpix:{filter} /></cpix:ContentKeyUsageRule>");
    }
    x + "</cpix:ContentKeyUsageRuleList></cpix:CPIX>"
}

fn children<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    n.children()
        .filter(|c| {
            c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(CPIX)
        })
        .collect()
}

fn child<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    let c = children(n, name);
    assert_eq!(c.len(), 1, "exactly one {name} is expected");
    c[0]
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

/// `check_cpix_version`, `validate_root_element`, `validate_mandatory_cpix_child_elements`.
fn check_root(doc: &roxmltree::Document) {
    let root = doc.root_element();
    assert_eq!(root.tag_name().namespace(), Some(CPIX));
    assert_eq!(root.tag_name().name(), "CPIX");
    assert_eq!(root.attribute("version"), Some("2.3"));
    assert!(root.attribute("contentId").is_some());
    assert!(
        root.attribute("id").is_none(),
        "id is deprecated in SPEKE v2"
    );
    for l in ["ContentKeyList", "DRMSystemList", "ContentKeyUsageRuleList"] {
        child(root, l);
    }
}

/// `validate_content_key_list_element`.
fn check_keys(doc: &roxmltree::Document, count: usize, scheme: &str) {
    let keys = children(child(doc.root_element(), "ContentKeyList"), "ContentKey");
    assert_eq!(keys.len(), count);
    let kids: BTreeSet<_> = keys.iter().map(|k| k.attribute("kid").unwrap()).collect();
    assert_eq!(kids.len(), count, "kid values are unique");
    for k in keys {
        assert_eq!(k.attribute("commonEncryptionScheme"), Some(scheme));
        let secret = child(k, "Data")
            .children()
            .find(|c| c.tag_name().name() == "Secret" && c.tag_name().namespace() == Some(PSKC))
            .expect("pskc:Secret");
        let plain = secret
            .children()
            .find(|c| c.tag_name().name() == "PlainValue" && c.tag_name().namespace() == Some(PSKC))
            .expect("pskc:PlainValue");
        assert_eq!(unb64(plain.text().unwrap()).len(), 16);
    }
}

/// `validate_drm_system_list_element` and the per-system checks.
fn check_systems(
    doc: &roxmltree::Document,
    count: usize,
    kids: usize,
    wv: usize,
    pr: usize,
    fp: usize,
) {
    let systems = children(child(doc.root_element(), "DRMSystemList"), "DRMSystem");
    assert_eq!(systems.len(), count);
    let unique: BTreeSet<_> = systems
        .iter()
        .map(|s| s.attribute("kid").unwrap())
        .collect();
    assert_eq!(unique.len(), kids);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for s in &systems {
        let id = s.attribute("systemId").unwrap();
        *seen.entry(id).or_default() += 1;
        let hls = children(*s, "HLSSignalingData");
        for playlist in ["media", "master"] {
            let h: Vec<_> = hls
                .iter()
                .filter(|h| h.attribute("playlist") == Some(playlist))
                .collect();
            assert_eq!(h.len(), 1, "one HLSSignalingData playlist={playlist}");
            let line = String::from_utf8(unb64(h[0].text().unwrap())).unwrap();
            let tag = if playlist == "media" {
                "#EXT-X-KEY:METHOD="
            } else {
                "#EXT-X-SESSION-KEY:METHOD="
            };
            assert!(line.starts_with(tag), "{line}");
        }
        if id == FAIRPLAY {
            assert!(children(*s, "ContentProtectionData").is_empty());
            assert!(children(*s, "PSSH").is_empty());
        } else {
            assert!(!child(*s, "PSSH").text().unwrap().is_empty());
            assert!(
                !child(*s, "ContentProtectionData")
                    .text()
                    .unwrap()
                    .is_empty()
            );
        }
    }
    assert_eq!(seen.get(WIDEVINE).copied().unwrap_or(0), wv);
    assert_eq!(seen.get(PLAYREADY).copied().unwrap_or(0), pr);
    assert_eq!(seen.get(FAIRPLAY).copied().unwrap_or(0), fp);
}

/// `validate_content_key_usage_rule_list_element`.
fn check_rules(doc: &roxmltree::Document, count: usize) {
    let rules = children(
        child(doc.root_element(), "ContentKeyUsageRuleList"),
        "ContentKeyUsageRule",
    );
    assert_eq!(rules.len(), count);
    for (i, r) in rules.iter().enumerate() {
        assert!(r.attribute("kid").is_some() && r.attribute("intendedTrackType").is_some());
        if i > 0 {
            assert_ne!(rules[i - 1].attribute("kid"), r.attribute("kid"));
        }
    }
}

/// The suite's `test_case_1` .. `test_case_6`: every preset against every combination of
/// Widevine, PlayReady and FairPlay (general and VOD, as `--test-vod` runs them).
#[tokio::test]
async fn test_cases_1_to_6_every_preset_and_drm_combination() {
    let url = start().await;
    let cases: [&[&str]; 6] = [
        &["VIDEO", "AUDIO"],
        &["SD", "HD", "UHD", "STEREO_AUDIO", "MULTICHANNEL_AUDIO"],
        &[
            "SD",
            "HD1",
            "HD2",
            "UHD1",
            "UHD2",
            "STEREO_AUDIO",
            "MULTICHANNEL_AUDIO_3_6",
            "MULTICHANNEL_AUDIO_7",
        ],
        &[
            "SD+HD1",
            "HD2",
            "UHD1",
            "UHD2",
            "STEREO_AUDIO",
            "MULTICHANNEL_AUDIO",
        ],
        &["SD", "HD"],
        &["STEREO_AUDIO", "MULTICHANNEL_AUDIO"],
    ];
    let combos: [&[&str]; 7] = [
        &[WIDEVINE],
        &[PLAYREADY],
        &[FAIRPLAY],
        &[WIDEVINE, PLAYREADY],
        &[WIDEVINE, FAIRPLAY],
        &[PLAYREADY, FAIRPLAY],
        &[WIDEVINE, PLAYREADY, FAIRPLAY],
    ];
    for vod in [false, true] {
        for tracks in cases {
            for systems in combos {
                let text = post_ok(&url, generated(tracks, systems, vod)).await;
                let doc = roxmltree::Document::parse(&text).unwrap();
                let n = tracks.len();
                let scheme = if systems.contains(&FAIRPLAY) {
                    "cbcs"
                } else {
                    "cenc"
                };
                let count = |id| usize::from(systems.contains(&id)) * n;
                check_root(&doc);
                check_keys(&doc, n, scheme);
                check_systems(
                    &doc,
                    n * systems.len(),
                    n,
                    count(WIDEVINE),
                    count(PLAYREADY),
                    count(FAIRPLAY),
                );
                check_rules(&doc, n);
            }
        }
    }
}

/// `test_basic_checks`, `test_check_mandatory_elements`, `test_drm_system_specific_*`.
#[tokio::test]
async fn basic_checks_and_mandatory_elements() {
    let url = start().await;
    let generic = fixture("1_generic_spekev2_dash_widevine_preset_video_1_audio_1_no_rotation.xml");
    let text = post_ok(&url, generic.clone()).await;
    // The namespaces the suite requires are declared.
    assert!(text.contains(&format!("\"{CPIX}\"")) && text.contains(&format!("\"{PSKC}\"")));
    let doc = roxmltree::Document::parse(&text).unwrap();
    check_root(&doc);
    check_keys(&doc, 2, "cenc");
    check_systems(&doc, 2, 2, 2, 0, 0);
    check_rules(&doc, 2);
    // Widevine: the PSSH in ContentProtectionData is the PSSH element.
    for s in children(child(doc.root_element(), "DRMSystemList"), "DRMSystem") {
        let cpd =
            String::from_utf8(unb64(child(s, "ContentProtectionData").text().unwrap())).unwrap();
        let cpd = roxmltree::Document::parse(&cpd).unwrap();
        assert_eq!(
            cpd.root_element().tag_name().namespace(),
            Some("urn:mpeg:cenc:2013")
        );
        assert_eq!(cpd.root_element().text(), child(s, "PSSH").text());
    }
    // test_sending_same_request_sent_twice_to_keyserver_without_key_rotation
    let again = post_ok(&url, generic).await;
    assert_eq!(text, again, "the same request gets the same keys");
    // test_speke_v1_style_request_with_proper_response_received
    let v1 = post_ok(&url, fixture("2_speke_v1_style_implementation.xml")).await;
    let doc = roxmltree::Document::parse(&v1).unwrap();
    check_root(&doc);
    check_keys(&doc, 1, "cenc");
    check_systems(&doc, 1, 1, 1, 0, 0);
    check_rules(&doc, 1);
}

/// PlayReady: the PSSH is in ContentProtectionData beside `mspr:pro`, and the HLS lines
/// say `com.microsoft.playready` (`test_dash_playready_pssh_cpd_no_rotation`,
/// `test_playready_pssh_hlssignalingdata_no_rotation`); FairPlay's key and session key
/// agree (`test_fairplay_hlssignalingdata_no_rotation`).
#[tokio::test]
async fn system_specific_signalling() {
    let url = start().await;
    let text = post_ok(
        &url,
        generated(&["VIDEO", "AUDIO"], &[PLAYREADY, FAIRPLAY], false),
    )
    .await;
    let doc = roxmltree::Document::parse(&text).unwrap();
    for s in children(child(doc.root_element(), "DRMSystemList"), "DRMSystem") {
        let lines: Vec<String> = children(s, "HLSSignalingData")
            .iter()
            .map(|h| String::from_utf8(unb64(h.text().unwrap())).unwrap())
            .collect();
        let attrs = |l: &str| l.split_once(':').unwrap().1.to_string();
        assert_eq!(
            attrs(&lines[0]),
            attrs(&lines[1]),
            "EXT-X-KEY and EXT-X-SESSION-KEY agree"
        );
        if s.attribute("systemId") == Some(PLAYREADY) {
            assert!(lines[0].contains("KEYFORMAT=\"com.microsoft.playready\""));
            let cpd = String::from_utf8(unb64(child(s, "ContentProtectionData").text().unwrap()))
                .unwrap();
            let wrapped = format!("<cpd>{cpd}</cpd>");
            let cpd = roxmltree::Document::parse(&wrapped).unwrap();
            let pssh = cpd
                .root_element()
                .children()
                .find(|c| {
                    c.tag_name().name() == "pssh"
                        && c.tag_name().namespace() == Some("urn:mpeg:cenc:2013")
                })
                .unwrap();
            assert_eq!(pssh.text(), child(s, "PSSH").text());
        } else {
            assert!(lines[0].contains("KEYFORMAT=\"com.apple.streamingkeydelivery\""));
            assert!(lines[0].contains("URI=\"skd://"));
        }
    }
}

fn without(xml: &str, element: &str) -> String {
    // Remove every `<cpix:X .../>` or `<cpix:X ...>...</cpix:X>` (the suite's
    // `remove_element`, on the fixture's flat layout).
    let mut out = String::new();
    let mut rest = xml;
    let open = format!("<cpix:{element}");
    let close = format!("</cpix:{element}>");
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        if !after.starts_with([' ', '>', '/']) {
            out += &rest[..i + open.len()];
            rest = after;
            continue;
        }
        out += &rest[..i];
        let tag_end = after.find('>').unwrap();
        rest = if after[..tag_end].ends_with('/') {
            &after[tag_end + 1..]
        } else {
            let j = after.find(&close).unwrap();
            &after[j + close.len()..]
        };
    }
    out + rest
}

async fn assert_refused(url: &str, body: String, what: &str) {
    let r = post(url, body).await;
    let status = r.status().as_u16();
    assert!((400..500).contains(&status), "{what}: {status}");
    let json: serde_json::Value = r.json().await.unwrap();
    assert!(
        json["error"].is_string() && json["field"].is_string(),
        "{what}: {json}"
    );
}

/// `test_negative_cases`: each is a 4xx with a JSON body naming the problem.
#[tokio::test]
async fn negative_cases() {
    let url = start().await;
    let generic = fixture("1_generic_spekev2_dash_widevine_preset_video_1_audio_1_no_rotation.xml");
    assert_refused(&url, String::new(), "test_empty_request").await;
    assert_refused(
        &url,
        fixture("3_negative_wrong_version_spekev2_dash_widevine.xml"),
        "wrong version",
    )
    .await;
    for e in [
        "ContentKeyList",
        "DRMSystemList",
        "ContentKeyUsageRuleList",
        "ContentKey",
        "DRMSystem",
        "ContentKeyUsageRule",
    ] {
        let body = without(&generic, e);
        assert!(!body.contains(&format!("<cpix:{e} ")) && !body.contains(&format!("<cpix:{e}>")));
        assert_refused(&url, body, e).await;
    }
    let no_filters = without(&without(&generic, "VideoFilter"), "AudioFilter");
    assert_refused(&url, no_filters, "both filters missing").await;
    for (element, attrs) in [
        ("ContentKey", ["kid", "commonEncryptionScheme"]),
        ("DRMSystem", ["kid", "systemId"]),
        ("ContentKeyUsageRule", ["kid", "intendedTrackType"]),
    ] {
        let mut body = generic.clone();
        for a in attrs {
            // Drop the attribute from every such element.
            let re_open = format!("<cpix:{element} ");
            let mut out = String::new();
            let mut rest = body.as_str();
            while let Some(i) = rest.find(&re_open) {
                out += &rest[..i + re_open.len()];
                rest = &rest[i + re_open.len()..];
                let end = rest.find('>').unwrap();
                let tag = &rest[..end];
                let cut = regex_free_remove(tag, a);
                out += &cut;
                rest = &rest[end..];
            }
            body = out + rest;
        }
        assert_refused(&url, body, element).await;
    }
    let fairplay_cenc = generated(&["VIDEO", "AUDIO"], &[FAIRPLAY], false).replace("cbcs", "cenc");
    assert_refused(&url, fairplay_cenc, "FairPlay with cenc").await;
    assert_refused(
        &url,
        fixture("4_spekev2_negative_preset_shared_video.xml"),
        "shared video",
    )
    .await;
    assert_refused(
        &url,
        fixture("5_spekev2_negative_preset_shared_audio.xml"),
        "shared audio",
    )
    .await;
    // And what the suite does not send: no X-Speke-Version, not XML, another root.
    let r = reqwest::Client::new()
        .post(&url)
        .body(generic.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_refused(&url, "not xml <".into(), "garbage").await;
    assert_refused(&url, "<a xmlns=\"urn:other\"/>".into(), "another root").await;
}

/// `name="value"` removed from the inside of a start tag.
fn regex_free_remove(tag: &str, attr: &str) -> String {
    let key = format!("{attr}=\"");
    match tag.find(&key) {
        Some(i) if i == 0 || tag.as_bytes()[i - 1] == b' ' => {
            let end = i + key.len() + tag[i + key.len()..].find('"').unwrap() + 1;
            format!("{}{}", &tag[..i], &tag[end..])
        }
        _ => tag.to_string(),
    }
}
