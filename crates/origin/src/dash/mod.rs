//! MPEG-DASH from the origin: `packaging: "dash"` endpoints serve a dynamic MPD
//! (`index.mpd`) over the fMP4 fragments the CMAF endpoint already remuxes (one remux, one
//! cache: the fragment for `$Number$` N is byte for byte the CMAF HLS segment at media
//! sequence N), and the origin answers `GET /time` for `UTCTiming`.
//!
//! - [`mpd`]: the MPD model and its quick-xml writer (pure).
//! - [`build`]: channel timelines -> MPD: Periods at discontinuities and ad avails, one
//!   `SegmentTemplate` (`$Number$` + `SegmentTimeline`) per Representation, demuxed audio as
//!   one AdaptationSet per language, SCTE-35 as an `EventStream` (pure).
//! - `serve`: the HTTP handlers (`index.mpd` live, `?start=` start-over, `?start=&end=`
//!   time-shifted static MPD; `/time`).
//!
//! Settings are MediaPackage's `DashPackage` ones ([`crate::model::DashSettings`]).

pub mod build;
pub mod mpd;
pub(crate) mod serve;
