//! Viewer-load generator for the lineup engine.
//!
//! N viewers, each holding its own engine session (`POST /api/v1/sessions`), reload their
//! media playlist every target duration, as players do. Every answer is checked:
//!
//! - it is a 200 and parses as a media playlist (`hls::parse_media`);
//! - its `EXT-X-MEDIA-SEQUENCE` never goes backwards for a viewer (**non-monotonic**);
//! - it is not **stale**: the last listed segment ends after the instant the request was
//!   sent (from the playlist's `EXT-X-PROGRAM-DATE-TIME`s and `EXTINF`s). The engine
//!   publishes a segment once its start has passed, so a segment that started before the
//!   request left is one the window should hold; an answer without it missed it;
//! - it does not **skip** segments: its first sequence is at most one past the last
//!   sequence of the viewer's previous playlist.
//!
//! Viewers share a pool of keep-alive connections (`--conns`, default 1,000: a player would
//! hold its own, but this machine's file-descriptor limit is 20,000 and a CDN edge in front
//! of the engine pools them too); a request's latency is measured from the moment it is
//! written to the moment its body is read, not counting its wait for a free connection
//! (reported separately as `late`: reloads sent more than 100 ms after their due time).
//!
//! Phases: create the sessions; start the viewers spread over `--ramp-ms` (their first
//! playlists build each session's schedule); after `--warm-secs`, measure for `--secs`:
//! playlists/s, latency p50/p99/max, errors, stale, skipped, non-monotonic, and, with
//! `--server-pid`, the server's CPU-seconds per 1,000 reloads (utime + stime from
//! `/proc/<pid>/stat`) and its RSS. The generator's own CPU is reported too: it shares
//! the machine with the server.
//!
//! ```text
//! viewers --base http://127.0.0.1:PORT --channel ID --viewers N [--secs 40] [--conns 1000]
//!         [--channels K: no sessions, viewer i watches channel <ID><i % K>]
//!         [--rendition v0] [--ramp-ms 2000] [--warm-secs 6] [--server-pid PID]
//!         [--markdown-row]
//! viewers --markdown-header
//! ```

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// A playlist whose last segment ends this close to the send instant (ms) is not counted
/// stale: `EXTINF` is written in ms, PDTs in ms, so sums can be off by a ms per segment.
const STALE_TOLERANCE_MS: i64 = 5;
/// Latency histogram resolution and range.
const BUCKET_US: u64 = 10;
const BUCKETS: usize = 100_000; // 1 s; slower answers land in the last bucket

struct Args {
    addr: String,
    prefix: String,
    channel: String,
    viewers: usize,
    secs: u64,
    conns: usize,
    rendition: String,
    ramp_ms: u64,
    warm_secs: u64,
    server_pid: Option<u32>,
    markdown_row: bool,
    /// `--channels N`: no sessions; viewer i watches channel `<channel><i % N>` (e.g.
    /// `--channel ch --channels 1000`: channels ch0..ch999, one viewer each at N viewers).
    channels: Option<usize>,
}

const HEADER: &str = "| viewers | conns | reloads/s (expected) | p50 | p99 | max | errors | stale | skipped | non-monotonic | late sends | server CPU-s / 1,000 reloads | server CPU | server RSS | generator CPU |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn usage() -> ! {
    eprintln!(
        "usage: viewers --base http://HOST:PORT[/prefix] --channel ID --viewers N [--secs 40] \
         [--conns 1000] [--rendition v0] [--ramp-ms 2000] [--warm-secs 6] [--server-pid PID] \
         [--channels N] [--markdown-row] | --markdown-header"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: String::new(),
        prefix: String::new(),
        channel: String::new(),
        viewers: 0,
        secs: 40,
        conns: 1000,
        rendition: "v0".into(),
        ramp_ms: 2000,
        warm_secs: 6,
        server_pid: None,
        markdown_row: false,
        channels: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--base" => {
                let v = val();
                let rest = v.strip_prefix("http://").unwrap_or_else(|| usage());
                let (addr, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                a.addr = addr.to_string();
                a.prefix = prefix.trim_end_matches('/').to_string();
                if !a.prefix.is_empty() {
                    a.prefix.insert(0, '/');
                }
            }
            "--channel" => a.channel = val(),
            "--viewers" => a.viewers = num(val()) as usize,
            "--secs" => a.secs = num(val()),
            "--conns" => a.conns = num(val()).max(1) as usize,
            "--rendition" => a.rendition = val(),
            "--ramp-ms" => a.ramp_ms = num(val()),
            "--warm-secs" => a.warm_secs = num(val()),
            "--server-pid" => a.server_pid = Some(num(val()) as u32),
            "--markdown-row" => a.markdown_row = true,
            "--channels" => a.channels = Some(num(val()).max(1) as usize),
            "--markdown-header" => {
                println!("{HEADER}");
                std::process::exit(0)
            }
            _ => usage(),
        }
    }
    if a.addr.is_empty() || a.channel.is_empty() || a.viewers == 0 {
        usage()
    }
    a
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ------------------------------------------------------------------------ HTTP/1.1 client

struct Request {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    reply: oneshot::Sender<Answer>,
}

struct Answer {
    result: Result<(u16, Vec<u8>), String>,
    /// When the request was written (after its wait for the connection).
    sent: Instant,
    sent_wall_ms: i64,
    done: Instant,
}

/// One keep-alive connection serving requests one at a time. Minimal HTTP/1.1: the engine
/// answers with Content-Length; chunked bodies are refused as errors.
async fn connection(addr: String, mut rx: mpsc::Receiver<Request>) {
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(req) = rx.recv().await {
        let mut head = Vec::with_capacity(160);
        let _ = write!(
            head,
            "{} {} HTTP/1.1\r\nhost: {addr}\r\n",
            req.method, req.path
        );
        if !req.body.is_empty() {
            let _ = write!(
                head,
                "content-type: application/json\r\ncontent-length: {}\r\n",
                req.body.len()
            );
        }
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(&req.body);
        let mut tries = 0;
        let (result, sent, sent_wall_ms) = loop {
            tries += 1;
            let sent = Instant::now();
            let sent_wall_ms = wall_ms();
            if stream.is_none() {
                match TcpStream::connect(&addr).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        stream = Some(s);
                    }
                    Err(e) => break (Err(format!("connect: {e}")), sent, sent_wall_ms),
                }
            }
            let s = stream.as_mut().expect("connected");
            match exchange(s, &head, &mut buf).await {
                Ok((status, body, close)) => {
                    if close {
                        stream = None;
                    }
                    break (Ok((status, body)), sent, sent_wall_ms);
                }
                Err(e) => {
                    stream = None;
                    // A kept-alive connection the server closed meanwhile: retry once.
                    if tries >= 2 {
                        break (Err(e), sent, sent_wall_ms);
                    }
                }
            }
        };
        let _ = req.reply.send(Answer {
            result,
            sent,
            sent_wall_ms,
            done: Instant::now(),
        });
    }
}

async fn exchange(
    s: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(u16, Vec<u8>, bool), String> {
    s.write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    buf.clear();
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err("response head over 64 KiB".into());
        }
        let n = s.read_buf(buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed before a response".into());
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "non-UTF-8 head")?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("bad status line")?;
    let mut len = 0usize;
    let mut close = false;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            len = v.parse().map_err(|_| "bad content-length")?;
        } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
            close = true;
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked answers are not supported".into());
        }
    }
    while buf.len() < head_end + len {
        let n = s
            .read_buf(buf)
            .await
            .map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err("connection closed in the body".into());
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    Ok((status, body, close))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Connections, each fed by its own queue; request `i` goes to connection `i % len`.
#[derive(Clone)]
struct Pool(Arc<Vec<mpsc::Sender<Request>>>);

impl Pool {
    fn new(addr: &str, n: usize) -> Self {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(4096);
            tokio::spawn(connection(addr.to_string(), rx));
            v.push(tx);
        }
        Pool(Arc::new(v))
    }
    async fn send(&self, i: usize, method: &'static str, path: String, body: Vec<u8>) -> Answer {
        let (reply, answer) = oneshot::channel();
        let t = Instant::now();
        let q = &self.0[i % self.0.len()];
        if q.send(Request {
            method,
            path,
            body,
            reply,
        })
        .await
        .is_err()
        {
            return Answer {
                result: Err("connection task gone".into()),
                sent: t,
                sent_wall_ms: wall_ms(),
                done: Instant::now(),
            };
        }
        answer.await.unwrap_or(Answer {
            result: Err("connection task gone".into()),
            sent: t,
            sent_wall_ms: wall_ms(),
            done: Instant::now(),
        })
    }
}

// ------------------------------------------------------------------------ statistics

#[derive(Default)]
struct Counters {
    reloads: AtomicU64,
    errors: AtomicU64,
    stale: AtomicU64,
    skipped: AtomicU64,
    non_monotonic: AtomicU64,
    late: AtomicU64,
    max_us: AtomicU64,
}

struct Stats {
    /// Counted for requests sent inside the measurement window.
    measured: Counters,
    /// Everything, warm-up included (every playlist is checked, not only measured ones).
    all: Counters,
    hist: Vec<AtomicU64>,
    /// The target duration the playlists announce (s), for the expected reload rate.
    target: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
    first_stale: std::sync::Mutex<Option<String>>,
}

impl Stats {
    fn new() -> Self {
        Self {
            measured: Counters::default(),
            all: Counters::default(),
            hist: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            target: AtomicU64::new(0),
            first_error: Default::default(),
            first_stale: Default::default(),
        }
    }
    fn note(slot: &std::sync::Mutex<Option<String>>, what: impl FnOnce() -> String) {
        let mut g = slot.lock().expect("stats lock");
        if g.is_none() {
            *g = Some(what());
        }
    }
    fn quantile(&self, q: f64) -> f64 {
        let total: u64 = self.hist.iter().map(|b| b.load(Relaxed)).sum();
        if total == 0 {
            return 0.0;
        }
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.hist.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= want {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        (BUCKETS as u64 * BUCKET_US) as f64 / 1000.0
    }
}

/// What a viewer remembers between reloads.
#[derive(Default)]
struct Viewer {
    first_seq: Option<u64>,
    last_seq: Option<u64>,
}

enum Verdict {
    Ok { target: u64 },
    Error(String),
    Checked { target: u64, problems: Vec<Problem> },
}

enum Problem {
    Stale(String),
    Skipped,
    NonMonotonic,
}

fn check(v: &mut Viewer, status: u16, body: &[u8], sent_wall_ms: i64) -> Verdict {
    if status != 200 {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
        return Verdict::Error(format!("HTTP {status}: {text}"));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Verdict::Error("playlist is not UTF-8".into());
    };
    let pl = match hls::parse_media(text) {
        Ok(pl) => pl,
        Err(e) => return Verdict::Error(format!("playlist does not parse: {e}")),
    };
    let target = pl.target_duration.unwrap_or(2).max(1);
    if pl.segments.is_empty() {
        return Verdict::Error("empty playlist".into());
    }
    let first = pl.media_sequence;
    let last = first + pl.segments.len() as u64 - 1;
    let mut problems = Vec::new();
    if v.first_seq.is_some_and(|p| first < p) || v.last_seq.is_some_and(|p| last < p) {
        problems.push(Problem::NonMonotonic);
    }
    if v.last_seq.is_some_and(|p| first > p + 1) {
        problems.push(Problem::Skipped);
    }
    // End of the last segment: the latest PDT carried forward over EXTINFs.
    let mut t: Option<i64> = None;
    for s in &pl.segments {
        if let Some(p) = s.program_date_time {
            t = Some(p.timestamp_millis());
        }
        t = t.map(|t| t + (s.duration * 1000.0).round() as i64);
    }
    match t {
        Some(end) if end + STALE_TOLERANCE_MS <= sent_wall_ms => {
            problems.push(Problem::Stale(format!(
                "last segment (seq {last}) ended {} ms before the request was sent",
                sent_wall_ms - end
            )))
        }
        None => problems.push(Problem::Stale("no PROGRAM-DATE-TIME".into())),
        _ => {}
    }
    v.first_seq = Some(v.first_seq.map_or(first, |p| p.max(first)));
    v.last_seq = Some(v.last_seq.map_or(last, |p| p.max(last)));
    if problems.is_empty() {
        Verdict::Ok { target }
    } else {
        Verdict::Checked { target, problems }
    }
}

struct Window {
    from: Instant,
    to: Instant,
}

async fn viewer(
    i: usize,
    path: String,
    pool: Pool,
    stats: Arc<Stats>,
    start: Instant,
    win: Arc<Window>,
) {
    let mut state = Viewer::default();
    let mut due = start;
    loop {
        tokio::time::sleep_until(due.into()).await;
        if Instant::now() >= win.to {
            break;
        }
        let a = pool.send(i, "GET", path.clone(), Vec::new()).await;
        let measured = a.sent >= win.from && a.sent < win.to;
        let us = a.done.duration_since(a.sent).as_micros() as u64;
        let late = a.sent.duration_since(due) > Duration::from_millis(100);
        let verdict = match &a.result {
            Ok((status, body)) => check(&mut state, *status, body, a.sent_wall_ms),
            Err(e) => Verdict::Error(e.clone()),
        };
        let mut counters = vec![&stats.all];
        if measured {
            counters.push(&stats.measured);
            stats.hist[((us / BUCKET_US) as usize).min(BUCKETS - 1)].fetch_add(1, Relaxed);
        }
        let mut target = 2;
        for c in &counters {
            c.reloads.fetch_add(1, Relaxed);
            c.max_us.fetch_max(us, Relaxed);
            if late {
                c.late.fetch_add(1, Relaxed);
            }
        }
        match verdict {
            Verdict::Ok { target: t } => target = t,
            Verdict::Error(e) => {
                for c in &counters {
                    c.errors.fetch_add(1, Relaxed);
                }
                Stats::note(&stats.first_error, || format!("{path}: {e}"));
            }
            Verdict::Checked {
                target: t,
                problems,
            } => {
                target = t;
                for p in problems {
                    for c in &counters {
                        match &p {
                            Problem::Stale(_) => c.stale.fetch_add(1, Relaxed),
                            Problem::Skipped => c.skipped.fetch_add(1, Relaxed),
                            Problem::NonMonotonic => c.non_monotonic.fetch_add(1, Relaxed),
                        };
                    }
                    if let Problem::Stale(why) = p {
                        Stats::note(&stats.first_stale, || format!("{path}: {why}"));
                    }
                }
            }
        }
        stats.target.store(target, Relaxed);
        // A player reloads every target duration; one that fell behind reloads at once.
        due += Duration::from_secs(target);
        let now = Instant::now();
        if due < now {
            due = now;
        }
    }
}

// ------------------------------------------------------------------------ /proc

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of a process, seconds.
fn cpu_secs(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name (which may hold spaces).
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clk_tck())
}

fn rss_mb(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

// ------------------------------------------------------------------------ main

#[tokio::main]
async fn main() {
    let args = parse_args();
    let pool = Pool::new(&args.addr, args.conns);
    let n = args.viewers;

    // 1. Sessions (or, with --channels, static channels: nothing to create).
    let t0 = Instant::now();
    if let Some(k) = args.channels {
        let paths = (0..n)
            .map(|i| {
                format!(
                    "{}/channels/{}{}/{}.m3u8",
                    args.prefix,
                    args.channel,
                    i % k,
                    args.rendition
                )
            })
            .collect();
        return watch(&args, pool, paths).await;
    }
    let body = serde_json::json!({ "channel": args.channel }).to_string();
    let mut creators = Vec::with_capacity(n);
    for i in 0..n {
        let pool = pool.clone();
        let path = format!("{}/api/v1/sessions", args.prefix);
        let body = body.clone().into_bytes();
        creators.push(tokio::spawn(async move {
            let a = pool.send(i, "POST", path, body).await;
            match a.result {
                Ok((201, b)) => serde_json::from_slice::<serde_json::Value>(&b)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
                    .ok_or_else(|| "no id in the answer".to_string()),
                Ok((s, b)) => Err(format!("HTTP {s}: {}", String::from_utf8_lossy(&b))),
                Err(e) => Err(e),
            }
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for c in creators {
        match c.await {
            Ok(Ok(id)) => ids.push(id),
            Ok(Err(e)) => {
                eprintln!("viewers: session creation failed: {e}");
                std::process::exit(1)
            }
            Err(e) => {
                eprintln!("viewers: {e}");
                std::process::exit(1)
            }
        }
    }
    let create_secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "viewers: {n} sessions created in {create_secs:.1} s ({:.0}/s)",
        n as f64 / create_secs
    );

    let paths = ids
        .into_iter()
        .map(|id| format!("{}/sessions/{id}/{}.m3u8", args.prefix, args.rendition))
        .collect();
    watch(&args, pool, paths).await
}

/// Every viewer reloads its path (spread over the ramp), measured over the window.
async fn watch(args: &Args, pool: Pool, paths: Vec<String>) {
    let n = paths.len();
    // 2. Viewers, spread over the ramp; 3. the measurement window.
    let stats = Arc::new(Stats::new());
    let start = Instant::now() + Duration::from_millis(100);
    let from = start + Duration::from_millis(args.ramp_ms) + Duration::from_secs(args.warm_secs);
    let win = Arc::new(Window {
        from,
        to: from + Duration::from_secs(args.secs),
    });
    let mut tasks = Vec::with_capacity(n);
    for (i, path) in paths.into_iter().enumerate() {
        let at = start + Duration::from_millis(args.ramp_ms * i as u64 / n as u64);
        tasks.push(tokio::spawn(viewer(
            i,
            path,
            pool.clone(),
            stats.clone(),
            at,
            win.clone(),
        )));
    }
    tokio::time::sleep_until(win.from.into()).await;
    let pid = args.server_pid.map(|p| p.to_string());
    let server0 = pid.as_deref().and_then(cpu_secs);
    let self0 = cpu_secs("self");
    eprintln!(
        "viewers: measuring {} s ({} reloads during warm-up, {} errors so far)",
        args.secs,
        stats.all.reloads.load(Relaxed),
        stats.all.errors.load(Relaxed)
    );
    tokio::time::sleep_until(win.to.into()).await;
    let server1 = pid.as_deref().and_then(cpu_secs);
    let self1 = cpu_secs("self");
    let rss = pid.as_deref().and_then(rss_mb);
    for t in tasks {
        let _ = t.await;
    }

    let m = &stats.measured;
    let reloads = m.reloads.load(Relaxed);
    let rate = reloads as f64 / args.secs as f64;
    let expected = n as f64 / stats.target.load(Relaxed).max(1) as f64;
    let server_cpu = match (server0, server1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let gen_cpu = match (self0, self1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let per_k = server_cpu
        .filter(|_| reloads > 0)
        .map(|c| format!("{:.3}", c / (reloads as f64 / 1000.0)))
        .unwrap_or_else(|| "n/a".into());
    let pct = |c: Option<f64>| {
        c.map(|c| format!("{:.0} %", c / args.secs as f64 * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let row = format!(
        "| {n} | {} | {rate:.0} ({expected:.0}) | {:.2} ms | {:.2} ms | {:.1} ms | {} | {} | {} | {} | {} | {per_k} | {} | {} | {} |",
        args.conns,
        stats.quantile(0.50),
        stats.quantile(0.99),
        m.max_us.load(Relaxed) as f64 / 1000.0,
        m.errors.load(Relaxed),
        m.stale.load(Relaxed),
        m.skipped.load(Relaxed),
        m.non_monotonic.load(Relaxed),
        m.late.load(Relaxed),
        pct(server_cpu),
        rss.map(|r| format!("{r:.0} MB"))
            .unwrap_or_else(|| "n/a".into()),
        pct(gen_cpu),
    );
    let a = &stats.all;
    eprintln!(
        "viewers: every playlist of the run (warm-up included): {} reloads, {} errors, {} stale, {} skipped, {} non-monotonic",
        a.reloads.load(Relaxed),
        a.errors.load(Relaxed),
        a.stale.load(Relaxed),
        a.skipped.load(Relaxed),
        a.non_monotonic.load(Relaxed)
    );
    if let Some(e) = stats.first_error.lock().expect("stats lock").as_ref() {
        eprintln!("viewers: first error: {e}");
    }
    if let Some(e) = stats.first_stale.lock().expect("stats lock").as_ref() {
        eprintln!("viewers: first stale playlist: {e}");
    }
    if args.markdown_row {
        println!("{row}");
    } else {
        println!("{HEADER}\n{row}");
    }
}
