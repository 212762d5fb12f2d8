//! `schedule`: the catalog (HLS VOD assets, exported as MRSS and Atom feeds) and the
//! schedule service (channels, their programme schedules, auto-fill from a feed, manual
//! events, XMLTV).
//!
//! **For**: knowing what a channel plays when. `lineup catalog` keeps assets (`POST
//! /api/v1/assets` or `lineup catalog add <HLS URL>...` reads each VOD's duration and
//! renditions) and publishes them at `/mrss/{feed}.xml` (RSS 2.0 + Media RSS) and
//! `/mrss/{feed}.atom` (the Atom shape Eyevinn's schedule service reads). House ads
//! ([`Asset::is_house_ad`]: category `ad` or tag `house-ad`) stay out of those feeds; they
//! fill breaks: [`Service::house_ads`] for the engine, and the stitched feed
//! `/mrss/stitched/{feed}.xml` whose items point at the stitch service with house ads
//! inserted ([`stitched::StitchFeed`]; `lineup catalog --stitch-url`). `lineup schedule`
//! keeps channels and events with Eyevinn schedule-service's JSON and paths, fills a
//! channel from a feed (`POST /api/v1/auto/mrss`), takes manual events, and exports XMLTV.
//! The engine asks [`ScheduleClient::events_between`] what to play.
//! **Not for**: playing anything (the engine does), stitching ads into VODs (the stitched
//! feed only writes the `stitch` crate's payload URLs), or hosting media.
//!
//! Main types: [`Service`] (the async shell over a [`Db`]), [`plan`] (the pure policy),
//! [`ScheduleEvent`], [`Channel`], [`Asset`], [`FillConfig`], [`ScheduleClient`];
//! routers [`catalog_api::router`] and [`schedule_api::router`].
//!
//! # Architecture
//! ```text
//!  lineup catalog add URL --probe (hls)--> assets --feeds::mrss/atom--> /mrss/all.xml
//!     house ads (category "ad" / tag "house-ad", never in the feeds above)     |
//!       --stitched::StitchFeed::item--> /mrss/stitched/all.xml (items at /stitch)  |
//!                                                                           |
//!  POST /api/v1/auto/mrss {url, channelId, config} --read_feed (feeds::parse)-'
//!      -> channel.auto.programmes (stored with the channel)
//!  Service::refill / add_event / delete_event (every tick, and on each change):
//!      events = plan::fill(channel, config, programmes, stored events, now)
//!      -> diff against the stored events -> ONE transaction (Db::write)
//!  GET /api/v1/channels/{id}/schedule, /xmltv, ScheduleClient::events_between <- stored
//! ```
//! Invariants:
//! - The policy is pure: [`plan::fill`] and [`plan::add_manual`] take the programmes, the
//!   events and the instant and return events; tests drive them with a fake clock. The
//!   stored schedule always satisfies [`plan::check`] (sorted, no overlaps): `store` refuses
//!   a plan that does not.
//! - Events that started are never moved; manual events are never moved by the filler; in
//!   LOOP mode the future up to the horizon has no gaps (an auto programme that does not fit
//!   before a manual event is cut at its start); in LINEAR mode it moves after the event and
//!   the gap is slate.
//! - Auto event ids are `<channel>-auto-<seq>` where `seq` counts programmes placed: a
//!   refill with nothing new re-creates the same events, and writes nothing.
//! - Every change is one transaction: a process killed mid-write leaves the previous
//!   schedule (checked by a test that kills `lineup schedule` while it writes).
//! - One writer per process (a mutex around read-plan-write). Two schedule processes on one
//!   database would each keep the invariants per write but could interleave; run one
//!   writer per channel set.
//!
//! # Storage: rusqlite + tokio-postgres, not sqlx
//! SQLite by default (a file in the data folder), PostgreSQL with `--database-url
//! postgres://...`. sqlx's `Any` driver would give one code path, but sqlx 0.8's SQLite
//! driver requires `libsqlite3-sys ^0.30`, and the workspace already has rusqlite 0.37
//! (bundled) on `libsqlite3-sys 0.35` linking `sqlite3`: two crates may not link the same
//! native library, so the build fails (checked against the crates.io index). sqlx 0.9
//! accepts `libsqlite3-sys < 0.38` but needs Rust 1.94; the workspace promises 1.85.
//! Instead [`Db`] is a small enum over rusqlite and tokio-postgres: every table is keys plus
//! a JSON body, the SQL text is the same for both (`$1` placeholders, `ON CONFLICT DO
//! UPDATE`), and only the two driver calls (`query`, `write` in a transaction) differ.
//! tokio-postgres is also lighter to build than sqlx (no macros, no TLS here).

pub mod catalog_api;
pub mod cli;
pub mod client;
pub mod db;
pub mod error;
pub mod feeds;
pub mod model;
pub mod plan;
pub mod probe;
pub mod requests;
pub mod schedule_api;
pub mod service;
pub mod stitched;
pub mod xmltv;

pub use client::ScheduleClient;
pub use db::Db;
pub use error::{Error, Result};
pub use model::*;
pub use service::{AutoMrss, NewAsset, NewEvent, Service};
