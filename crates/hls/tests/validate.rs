//! The validator against the committed fixtures: every good playlist is clean, every broken
//! one reports the rule its file is named after (`broken/<rule>.m3u8`, or a live pair
//! `broken/<rule>.1.m3u8` + `.2.m3u8` fed to the live tracker as two reloads).

use std::path::{Path, PathBuf};

use hls::Playlist;
use hls::validate::{LiveTracker, Severity, check_text};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "m3u8") {
            out.push(p);
        }
    }
}

#[test]
fn good_fixtures_have_no_errors() {
    let mut all = Vec::new();
    walk(&fixtures(), &mut all);
    let mut checked = 0;
    for p in all
        .iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "broken"))
    {
        let text = std::fs::read_to_string(p).unwrap();
        let (_, problems) = check_text(&text);
        let errors: Vec<_> = problems
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", p.display());
        checked += 1;
    }
    assert!(checked >= 20);
}

#[test]
fn broken_fixtures_report_their_rule() {
    let dir = fixtures().join("broken");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".m3u8"))
        .collect();
    names.sort();
    let mut rules_checked = 0;
    for name in &names {
        let stem = name.trim_end_matches(".m3u8");
        if stem.ends_with(".2") {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let (rule, reported) = if let Some(rule) = stem.strip_suffix(".1") {
            let second = std::fs::read_to_string(dir.join(format!("{rule}.2.m3u8"))).unwrap();
            let mut t = LiveTracker::new();
            let mut reported = Vec::new();
            for (i, txt) in [&text, &second].into_iter().enumerate() {
                let (p, mut problems) = check_text(txt);
                reported.append(&mut problems);
                if let Some(Playlist::Media(m)) = p {
                    reported.extend(t.observe(&m, i as u64 * 1000));
                }
            }
            (rule, reported)
        } else {
            (stem, check_text(&text).1)
        };
        let rules: Vec<_> = reported.iter().map(|p| p.rule).collect();
        assert!(
            rules.contains(&rule),
            "{name}: expected rule {rule}, got {reported:#?}"
        );
        rules_checked += 1;
    }
    assert!(rules_checked >= 15, "only {rules_checked} broken playlists");
}
