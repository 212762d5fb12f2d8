//! SCTE-35: interop with an independent decoder (Python threefive) and
//! fuzzing of the parser.

mod common;

use media::scte35::{SpliceInfoSection, SpliceInsert};
use media::{Error, crc32_mpeg2};
use proptest::prelude::*;

/// Decodes `payload` (hex `0x..` or base64) with threefive; returns
/// `command_type event_id out_of_network duration_ticks|None auto_return
/// pts_ticks|None immediate program_id`.
fn threefive(payload: &str) -> String {
    let script = r#"
import sys
from threefive import Cue
c = Cue(sys.argv[1])
c.decode()
m = c.command
def ticks(v):
    return 'None' if v is None else str(round(v * 90000))
print(m.command_type, m.splice_event_id, m.out_of_network_indicator,
      ticks(m.break_duration) if m.duration_flag else 'None',
      m.break_auto_return if m.duration_flag else False,
      ticks(m.pts_time) if m.time_specified_flag else 'None',
      m.splice_immediate_flag, m.unique_program_id)
"#;
    common::run("python3", &["-c", script, payload])
        .trim()
        .to_string()
}

fn expected(s: &SpliceInsert) -> String {
    let opt = |v: Option<u64>| v.map_or("None".to_string(), |t| t.to_string());
    let b = |v: bool| if v { "True" } else { "False" };
    format!(
        "5 {} {} {} {} {} {} {}",
        s.event_id,
        b(s.out_of_network),
        opt(s.duration),
        b(s.duration.is_some() && s.auto_return),
        opt(s.pts),
        b(s.pts.is_none()),
        s.program_id
    )
}

#[test]
fn threefive_decodes_our_hex_and_base64() {
    if !common::have_threefive() {
        return;
    }
    let cases = [
        SpliceInsert::out(1, Some(756_296_448), Some(19_125_000)),
        SpliceInsert {
            program_id: 4242,
            ..SpliceInsert::out(0xDEAD_BEEF, None, Some(30 * 90_000))
        },
        SpliceInsert::back_in(0xDEAD_BEEF, Some(90_000 * 3600)),
        SpliceInsert::back_in(9, None),
        SpliceInsert {
            auto_return: false,
            ..SpliceInsert::out(10, Some((1 << 33) - 1), Some(1))
        },
    ];
    for c in cases {
        assert_eq!(threefive(&c.to_hex()), expected(&c), "hex of {c:?}");
        assert_eq!(threefive(&c.to_base64()), expected(&c), "base64 of {c:?}");
    }
}

#[test]
fn threefive_agrees_on_crc() {
    if !common::have_threefive() {
        return;
    }
    // threefive exposes the CRC it read; ours must be what it reads.
    let c = SpliceInsert::out(77, Some(12345), Some(900_000));
    let b = c.to_bytes();
    let crc = crc32_mpeg2(&b[..b.len() - 4]);
    let out = common::run(
        "python3",
        &[
            "-c",
            "import sys\nfrom threefive import Cue\nc=Cue(sys.argv[1]); c.decode(); print(c.info_section.crc)",
            &c.to_hex(),
        ],
    );
    assert_eq!(out.trim(), format!("{crc:#010x}"));
}

fn fix_crc(b: &mut [u8]) {
    let n = b.len();
    if n >= 4 {
        let crc = crc32_mpeg2(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_be_bytes());
    }
}

fn arb_insert() -> impl Strategy<Value = SpliceInsert> {
    (
        any::<u32>(),
        any::<bool>(),
        proptest::option::of(0u64..(1 << 33)),
        proptest::option::of(0u64..(1 << 33)),
        any::<bool>(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(event_id, out, pts, duration, ar, program_id, an, ae)| SpliceInsert {
                event_id,
                out_of_network: out,
                pts,
                duration,
                auto_return: ar && duration.is_some(),
                program_id,
                avail_num: an,
                avails_expected: ae,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn round_trip(s in arb_insert()) {
        prop_assert_eq!(SpliceInsert::parse(&s.to_bytes()).unwrap(), s);
        prop_assert_eq!(SpliceInsert::parse_hex(&s.to_hex()).unwrap(), s);
        prop_assert_eq!(SpliceInsert::parse_base64(&s.to_base64()).unwrap(), s);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = SpliceInfoSection::parse(&b);
        let mut b = b;
        if !b.is_empty() { b[0] = 0xFC; }
        fix_crc(&mut b);
        let _ = SpliceInfoSection::parse(&b);
    }

    #[test]
    fn mutated_sections_never_panic(
        s in arb_insert(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
        recrc in any::<bool>(),
    ) {
        let mut b = s.to_bytes();
        for (i, v) in edits { let n = b.len(); b[i % n] = v; }
        if recrc { fix_crc(&mut b); }
        let _ = SpliceInfoSection::parse(&b);
        let cut = cut % (b.len() + 1);
        let _ = SpliceInfoSection::parse(&b[..cut]);
        match SpliceInfoSection::parse(&b[..cut]) {
            Ok(_) | Err(Error::Truncated{..} | Error::Invalid{..} | Error::Crc{..} | Error::Unsupported{..}) => {}
            Err(e) => prop_assert!(false, "unexpected error kind {e}"),
        }
    }
}
