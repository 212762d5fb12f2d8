//! Ad markers per endpoint mode, from the ads fixture (CUE-OUT/CONT/IN + DATERANGE
//! SCTE-35); SCTE-35 payloads checked with the independent Python decoder `threefive`.

mod common;

use std::process::Command;

use common::*;

fn threefive(payload: &str) -> serde_json::Value {
    let script = "import sys,json,threefive\nc=threefive.Cue(sys.argv[1])\nc.decode()\nprint(json.dumps({'name':c.command.name,'out':c.command.out_of_network_indicator,'dur':getattr(c.command,'break_duration',None)}))";
    let out = Command::new("python3")
        .args(["-c", script, payload])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "threefive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn ad_marker_modes() {
    if testkit::require("python3:threefive").is_none() {
        return;
    }
    let dir = testkit::fixture("ads/vod1/360p");
    let r = start_default().await;
    let view = create(
        &r,
        serde_json::json!({"id": "ads", "endpoints": [
            {"id": "none"}, {"id": "pass", "ad_markers": "passthrough"},
            {"id": "enh", "ad_markers": "scte35_enhanced"}, {"id": "dr", "ad_markers": "daterange"}
        ]}),
    )
    .await;
    let c = DigestPut::from_view(&view, 0);
    let base = view.ingest[0].url.strip_suffix("/channel").unwrap();
    let text = std::fs::read_to_string(dir.join("index.m3u8")).unwrap();
    let mut pl = hls::parse_media(&text).unwrap();
    for (i, s) in pl.segments.iter_mut().enumerate() {
        let bytes = std::fs::read(dir.join(&s.uri)).unwrap();
        s.uri = format!("channel_1_{i}.ts");
        c.put_created(&format!("{base}/{}", s.uri), bytes).await;
    }
    pl.end_list = false;
    pl.playlist_type = None;
    c.put_created(&format!("{base}/channel_1.m3u8"), pl.to_bytes())
        .await;

    let get = |ep: &str| {
        let url = format!("{}/out/ads/{ep}/channel_1.m3u8", r.base);
        let http = r.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let none = get("none").await;
    assert!(
        !none.contains("CUE") && !none.contains("DATERANGE") && !none.contains("SCTE35"),
        "{none}"
    );
    let pass = get("pass").await;
    assert!(
        pass.contains("#EXT-X-CUE-OUT:DURATION=4") && pass.contains("#EXT-X-CUE-IN"),
        "{pass}"
    );
    assert!(
        pass.contains("ID=\"splice-1\"") && pass.contains("SCTE35-OUT=0xfc30"),
        "{pass}"
    );

    let enh = hls::parse_media(&get("enh").await).unwrap();
    let markers: Vec<&hls::Marker> = enh.segments.iter().flat_map(|s| &s.markers).collect();
    let oatcls = markers
        .iter()
        .find_map(|m| match m {
            hls::Marker::OatclsScte35(b) => Some(b.clone()),
            _ => None,
        })
        .expect("EXT-OATCLS-SCTE35");
    let d = threefive(&oatcls);
    assert_eq!(d["name"], "Splice Insert");
    assert_eq!(d["out"], true);
    assert_eq!(d["dur"], 4.0);
    assert_eq!(
        enh.segments[1]
            .markers
            .iter()
            .filter(|m| matches!(m, hls::Marker::CueOut { .. }))
            .count(),
        1
    );
    assert_eq!(
        enh.segments[1]
            .markers
            .iter()
            .find(|m| matches!(m, hls::Marker::CueOut { .. }))
            .unwrap()
            .duration(),
        Some(4.0)
    );
    let cont = enh.segments[2]
        .markers
        .iter()
        .find(|m| matches!(m, hls::Marker::CueOutCont { .. }))
        .expect("CUE-OUT-CONT");
    // (hls::Marker::elapsed() reads `e/d` first and trips on the '/' in base64; read raw.)
    assert!(
        cont.value()
            .unwrap()
            .starts_with("ElapsedTime=2,Duration=4,"),
        "{cont:?}"
    );
    assert!(cont.value().unwrap().contains("SCTE35="));
    assert!(enh.segments[3].markers.contains(&hls::Marker::CueIn));
    assert!(enh.segments.iter().all(|s| s.dateranges.is_empty()));

    let dr = hls::parse_media(&get("dr").await).unwrap();
    assert!(
        dr.segments
            .iter()
            .all(|s| s.markers.is_empty() && s.program_date_time.is_some())
    );
    let out = &dr.segments[1].dateranges[0];
    assert_eq!(out.planned_duration(), Some(4.0));
    let hex = out.attrs.get("SCTE35-OUT").unwrap();
    let d = threefive(hex);
    assert_eq!(
        (d["out"].as_bool(), d["dur"].as_f64()),
        (Some(true), Some(4.0))
    );
    let back = &dr.segments[3].dateranges[0];
    assert_eq!(back.id(), out.id());
    assert_eq!(back.duration(), Some(4.0));
    let d = threefive(back.attrs.get("SCTE35-IN").unwrap());
    assert_eq!(d["out"], false);
}
