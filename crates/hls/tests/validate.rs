//! The validator against the committed fixtures:
//! - every good playlist is clean, and every good master's media playlists pass the
//!   cross-variant rules;
//! - every broken one reports the rule its file is named after (`broken/<rule>.m3u8`, a live
//!   pair `broken/<rule>.1.m3u8` + `.2.m3u8` fed to the live tracker as two reloads, or a
//!   set `broken/<rule>/master.m3u8` + the media playlists it names, for the cross-variant
//!   rules);
//! - a broken playlist with `# fix: L<n>: <text>` lines is clean once line n is replaced by
//!   the text (`\n` for several lines, nothing to delete it): the passing case of its rule,
//!   one edit away from the broken one;
//! - the rule table of `hls::validate::rules` (RULES.md) names every fixture's rule, and every
//!   rule id in the table has a broken fixture (or is on the short list of rules that a
//!   fixture cannot show: time, bytes).

use std::path::{Path, PathBuf};

use hls::validate::{LiveTracker, Problem, Severity, check_text, check_variants};
use hls::{MasterPlaylist, MediaPlaylist, Playlist};

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

fn errors(problems: &[Problem]) -> Vec<&Problem> {
    problems
        .iter()
        .filter(|x| x.severity == Severity::Error)
        .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn media(text: &str) -> Option<MediaPlaylist> {
    match check_text(text).0 {
        Some(Playlist::Media(m)) => Some(m),
        _ => None,
    }
}

/// The media playlists a master file names that exist next to it, with their URIs.
fn children(master_path: &Path, m: &MasterPlaylist) -> Vec<(String, MediaPlaylist)> {
    let dir = master_path.parent().unwrap();
    let uris = m
        .variants
        .iter()
        .map(|v| v.uri.as_str())
        .chain(m.media.iter().filter_map(|r| r.uri()))
        .chain(m.i_frame_streams.iter().filter_map(|f| f.uri()));
    let mut out: Vec<(String, MediaPlaylist)> = Vec::new();
    for uri in uris {
        let path = dir.join(uri);
        if out.iter().any(|(u, _)| u == uri) || !path.is_file() {
            continue;
        }
        if let Some(p) = media(&read(&path)) {
            out.push((uri.to_string(), p));
        }
    }
    out
}

fn variant_problems(master_path: &Path) -> Option<Vec<Problem>> {
    let Some(Playlist::Master(m)) = check_text(&read(master_path)).0 else {
        return None;
    };
    let kids = children(master_path, &m);
    let refs: Vec<(&str, &MediaPlaylist)> = kids.iter().map(|(u, p)| (u.as_str(), p)).collect();
    Some(check_variants(&m, &refs))
}

fn is_broken(p: &Path) -> bool {
    p.components().any(|c| c.as_os_str() == "broken")
}

#[test]
fn good_fixtures_have_no_errors() {
    let mut all = Vec::new();
    walk(&fixtures(), &mut all);
    let mut checked = 0;
    let mut masters = 0;
    for p in all.iter().filter(|p| !is_broken(p)) {
        let (parsed, problems) = check_text(&read(p));
        let errs = errors(&problems);
        assert!(errs.is_empty(), "{}: {errs:#?}", p.display());
        checked += 1;
        if matches!(parsed, Some(Playlist::Master(_))) {
            let problems = variant_problems(p).unwrap();
            let errs = errors(&problems);
            assert!(errs.is_empty(), "{} (variants): {errs:#?}", p.display());
            masters += 1;
        }
    }
    assert!(checked >= 20);
    assert!(masters >= 8, "only {masters} masters");
}

/// Apply the `# fix: L<n>: <text>` lines of a fixture.
fn fixed(text: &str) -> Option<String> {
    let fixes: Vec<(usize, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# fix: L"))
        .map(|l| {
            let (n, rep) = l.split_once(": ").unwrap_or((l.trim_end_matches(':'), ""));
            (n.parse().unwrap(), rep.replace("\\n", "\n"))
        })
        .collect();
    if fixes.is_empty() {
        return None;
    }
    let mut lines: Vec<Option<String>> = text.split('\n').map(|l| Some(l.to_string())).collect();
    for (n, rep) in fixes {
        lines[n - 1] = (!rep.is_empty()).then_some(rep);
    }
    Some(lines.into_iter().flatten().collect::<Vec<_>>().join("\n"))
}

fn live_pair(first: &str, second: &str) -> Vec<Problem> {
    let mut t = LiveTracker::new();
    let mut reported = Vec::new();
    for (i, txt) in [first, second].into_iter().enumerate() {
        let (p, mut problems) = check_text(txt);
        reported.append(&mut problems);
        if let Some(Playlist::Media(m)) = p {
            reported.extend(t.observe(&m, i as u64 * 1000));
        }
    }
    reported
}

#[test]
fn broken_fixtures_report_their_rule() {
    let dir = fixtures().join("broken");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut rules_checked = 0;
    let mut fixes_checked = 0;
    for name in &names {
        let path = dir.join(name);
        if path.is_dir() {
            let reported = variant_problems(&path.join("master.m3u8"))
                .unwrap_or_else(|| panic!("{name}/master.m3u8 is not a master"));
            let rules: Vec<_> = reported.iter().map(|p| p.rule).collect();
            assert!(
                rules.contains(&name.as_str()),
                "{name}/: expected rule {name}, got {reported:#?}"
            );
            rules_checked += 1;
            continue;
        }
        let Some(stem) = name.strip_suffix(".m3u8") else {
            continue;
        };
        if stem.ends_with(".2") {
            continue;
        }
        let text = read(&path);
        let (rule, reported) = if let Some(rule) = stem.strip_suffix(".1") {
            let second = read(&dir.join(format!("{rule}.2.m3u8")));
            if let Some(good) = fixed(&second) {
                let alone = errors(&check_text(&text).1).len();
                assert_eq!(alone, 0, "{name} must be valid on its own");
                let after = live_pair(&text, &good);
                let errs = errors(&after);
                assert!(errs.is_empty(), "{rule}.2 fixed:\n{good}\n{errs:#?}");
                fixes_checked += 1;
            }
            (rule, live_pair(&text, &second))
        } else {
            if let Some(good) = fixed(&text) {
                let problems = check_text(&good).1;
                let errs = errors(&problems);
                assert!(errs.is_empty(), "{name} fixed:\n{good}\n{errs:#?}");
                fixes_checked += 1;
            }
            (stem, check_text(&text).1)
        };
        let rules: Vec<_> = reported.iter().map(|p| p.rule).collect();
        assert!(
            rules.contains(&rule),
            "{name}: expected rule {rule}, got {reported:#?}"
        );
        rules_checked += 1;
    }
    assert!(rules_checked >= 80, "only {rules_checked} broken playlists");
    assert!(fixes_checked >= 60, "only {fixes_checked} fixed playlists");
}

/// Rule ids in the first column of RULES.md tables: `` `id` `` cells.
fn documented_rules() -> Vec<String> {
    let doc = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/validate/RULES.md"));
    let mut out = Vec::new();
    for line in doc.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').collect();
        // | section | requirement | rule | ...
        let Some(rule_cell) = cells.get(3) else {
            continue;
        };
        for part in rule_cell.split('`').skip(1).step_by(2) {
            if part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            {
                out.push(part.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn rule_table_and_fixtures_agree() {
    let documented = documented_rules();
    assert!(documented.len() >= 80, "{documented:?}");
    let dir = fixtures().join("broken");
    let mut fixture_rules: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let n = n.trim_end_matches(".m3u8");
            let n = n.strip_suffix(".1").or(n.strip_suffix(".2")).unwrap_or(n);
            n.to_string()
        })
        .collect();
    fixture_rules.sort();
    fixture_rules.dedup();
    for r in &fixture_rules {
        assert!(
            documented.contains(r),
            "fixture rule {r} is not in RULES.md"
        );
    }
    // Rules no playlist text alone can show: time between reloads, bytes, HTTP.
    let no_fixture = [
        "playlist-stale",
        "reload-gap",
        "not-utf8",
        "fetch-failed",
        "segment-unreachable",
        "wrong-playlist-kind",
    ];
    for r in &documented {
        assert!(
            fixture_rules.contains(r) || no_fixture.contains(&r.as_str()),
            "RULES.md names {r} but tests/fixtures/broken has no {r} fixture"
        );
    }
}
