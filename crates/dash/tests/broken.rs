//! Every rule breaks on the fixture named after it (`tests/fixtures/broken-dash/`), and
//! the good MPD breaks none.

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/broken-dash")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_good_mpd_breaks_nothing() {
    let (snap, problems) = dash::check_text(&read("good.mpd"));
    assert!(problems.is_empty(), "{problems:#?}");
    let snap = snap.unwrap();
    assert_eq!(snap.periods.len(), 2);
    assert_eq!(snap.periods[1].reps[0].segments[0].number, 2);
}

#[test]
fn each_rule_breaks_on_its_fixture() {
    let mut covered = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".mpd") else {
            continue;
        };
        if stem == "good" || stem.ends_with(".2") {
            continue;
        }
        let (rule, problems) = match stem.strip_suffix(".1") {
            Some(rule) => {
                let mut t = dash::LiveTracker::new();
                let first = t.update(&read(&name));
                assert!(first.is_empty(), "{name}: {first:#?}");
                (rule, t.update(&read(&format!("{rule}.2.mpd"))))
            }
            None => (stem, dash::check_text(&read(&name)).1),
        };
        assert!(
            problems.iter().any(|p| p.rule == rule),
            "{name} does not break {rule}: {problems:#?}"
        );
        covered.insert(rule.to_string());
    }
    let all: std::collections::BTreeSet<String> =
        dash::RULES.iter().map(|(r, _)| r.to_string()).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "rules without a fixture: {missing:?}");
}
