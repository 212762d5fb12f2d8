//! The one clock every lineup service reads time from.
//!
//! What it is for: time is an input. Policy code (schedules, windows, DVR positions, TTLs,
//! poll pacing, expiry) never calls `Utc::now()` or `Instant::now()` itself; it takes the
//! time as an argument, and the thin async shell around it reads that time from a
//! [`Clock`] it was given. Production passes [`SystemClock`]; tests pass a
//! [`ManualClock`] they move by hand, so the same service runs on a fake timeline.
//!
//! A clock answers two kinds of time:
//! - wall time ([`Clock::now`], [`Clock::now_ms`]): what content is positioned by
//!   (programme starts, live windows, `EXT-X-PROGRAM-DATE-TIME`, session expiry);
//! - monotonic time ([`Clock::instant`]): what intervals are measured by (cache TTLs, the
//!   next reload of a playlist, backoff after a failure, delete grace periods).
//!
//! What it is not for: timing work for metrics (a latency histogram measures real elapsed
//! time, `Instant::now()` there is right), and the timers a shell sleeps on (tokio's).
//!
//! Why a crate of its own: every service crate (engine, origin, schedule, ads, pullpush,
//! stitch) needs the same clock, and so do their pure cores' tests; `web` is the HTTP
//! server edge and `hls`/`media` do no I/O, so none of them is the place. This crate
//! depends on `chrono` only and compiles in a moment.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// Where "now" comes from. Shared as `Arc<dyn Clock>`.
pub trait Clock: Send + Sync + 'static {
    /// Wall time.
    fn now(&self) -> DateTime<Utc>;

    /// Wall time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis {
        self.now().timestamp_millis()
    }

    /// Monotonic time: never goes back, for deadlines, TTLs and intervals.
    fn instant(&self) -> Instant;
}

/// The system's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn now_ms(&self) -> Millis {
        Utc::now().timestamp_millis()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock as the `Arc<dyn Clock>` services take.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock tests move by hand. Clones share one time.
///
/// Wall time stands still until [`ManualClock::set`] or [`ManualClock::advance`] moves it,
/// so content positions are deterministic. Monotonic time runs in real time plus every
/// advance: the timeouts and backoffs a test meets against real peers (a Redis that comes
/// back, a source that answers again) still elapse while the content clock is frozen, and
/// advancing skips them. Setting wall time back never moves monotonic time back.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Manual>>);

#[derive(Debug)]
struct Manual {
    wall: DateTime<Utc>,
    /// Monotonic time added by hand.
    skipped: Duration,
}

impl ManualClock {
    /// A clock standing at `ms` since the Unix epoch.
    pub fn new(ms: Millis) -> Self {
        Self::at(DateTime::from_timestamp_millis(ms).unwrap_or_default())
    }

    /// A clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(Manual {
            wall: at,
            skipped: Duration::ZERO,
        })))
    }

    /// This clock as the `Arc<dyn Clock>` services take (sharing its time).
    pub fn shared(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manual> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Move wall time to `at` (monotonic time moves forward by as much, never back).
    pub fn set(&self, at: DateTime<Utc>) {
        let mut m = self.lock();
        if let Ok(forward) = (at - m.wall).to_std() {
            m.skipped += forward;
        }
        m.wall = at;
    }

    /// Move wall time to `ms` since the Unix epoch.
    pub fn set_ms(&self, ms: Millis) {
        self.set(DateTime::from_timestamp_millis(ms).unwrap_or_default());
    }

    /// Move both times forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut m = self.lock();
        m.wall += chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::MAX);
        m.skipped += by;
    }

    /// Move wall time by `ms` milliseconds, and monotonic time forward by as much (a
    /// negative `ms` moves wall time back and monotonic time not at all).
    pub fn advance_ms(&self, ms: Millis) {
        let mut m = self.lock();
        m.wall += chrono::TimeDelta::milliseconds(ms);
        m.skipped += Duration::from_millis(ms.max(0) as u64);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().wall
    }
    fn instant(&self) -> Instant {
        let skipped = self.lock().skipped;
        Instant::now() + skipped
    }
}

/// Real time sped up by `factor` from the moment it is made (wall time starts at the real
/// now): real-time tests that need minutes of content in seconds.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    start: Instant,
    base: DateTime<Utc>,
    factor: f64,
}

impl ScaledClock {
    pub fn new(factor: f64) -> Self {
        Self {
            start: Instant::now(),
            base: Utc::now(),
            factor,
        }
    }

    fn scaled(&self) -> Duration {
        self.start.elapsed().mul_f64(self.factor.max(0.0))
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        self.base + chrono::TimeDelta::from_std(self.scaled()).unwrap_or(chrono::TimeDelta::MAX)
    }
    fn instant(&self) -> Instant {
        self.start + self.scaled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_wall_time_stands_still_and_moves_by_hand() {
        let c = ManualClock::new(1_700_000_000_000);
        let shared = c.shared();
        assert_eq!(shared.now_ms(), 1_700_000_000_000);
        c.advance_ms(1_500);
        assert_eq!(shared.now_ms(), 1_700_000_001_500);
        c.advance_ms(-500);
        assert_eq!(shared.now_ms(), 1_700_000_001_000);
        c.set_ms(1_700_000_000_000);
        assert_eq!(c.now_ms(), 1_700_000_000_000);
        c.advance(Duration::from_millis(2));
        assert_eq!(c.now().timestamp_millis(), 1_700_000_000_002);
    }

    #[test]
    fn manual_monotonic_time_runs_and_skips_but_never_goes_back() {
        let c = ManualClock::new(1_000_000);
        let a = c.instant();
        c.advance(Duration::from_secs(60));
        let b = c.instant();
        assert!(b.duration_since(a) >= Duration::from_secs(60));
        c.set_ms(0);
        assert!(
            c.instant() >= b,
            "setting the wall back keeps monotonic time"
        );
        c.set_ms(10_000_000);
        assert!(c.instant().duration_since(b) >= Duration::from_secs(9_000));
    }

    #[test]
    fn scaled_clock_runs_faster() {
        let c = ScaledClock::new(1000.0);
        let (w, m) = (c.now_ms(), c.instant());
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.now_ms() - w >= 5_000);
        assert!(c.instant().duration_since(m) >= Duration::from_secs(5));
    }

    #[test]
    fn system_clock_agrees_with_the_system() {
        let c = system();
        let before = Utc::now().timestamp_millis();
        let now = c.now_ms();
        assert!(now >= before && now - before < 60_000);
        assert!(c.instant() <= Instant::now());
    }
}
