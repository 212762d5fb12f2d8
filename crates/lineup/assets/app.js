// lineup demo page. Plays the streams listed in page.json with hls.js, draws the live/DVR
// window with its ad breaks (EXT-X-DATERANGE) on the seek bar, and shows the machinery:
// what is on air, the pull/push fetchers, the API docs. No framework, no build step.
//
// For browser tests, `window.lineup` exposes `state()` and the actions a viewer has.
"use strict";

const $ = (id) => document.getElementById(id);
const video = $("video");
const monitor = createMonitor(video);

let config = null;   // page.json
let source = null;   // the selected entry of config.sources
let hls = null;      // the hls.js instance playing `source`
let details = null;  // the last loaded media playlist (hls.js LevelDetails)
let playedAtError = null; // monitor.playedSeconds when the error notice went up

// ---------------------------------------------------------------- time helpers

const pad = (n) => String(n).padStart(2, "0");
function clockText(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
function durationText(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

// Media time <-> programme date-time, through the fragment of the playlist that holds it
// (hls.js keeps fragment.start on the media timeline, programDateTime in ms); piecewise,
// so that a discontinuity whose media time drifts from its PDT does not shift the rest.
function fragmentAt(key, value) {
  const frags = details ? details.fragments.filter((f) => f.programDateTime) : [];
  let best = frags[0] || null;
  for (const f of frags) if (key(f) <= value) best = f;
  return best;
}
function timeToDate(t) {
  const f = fragmentAt((f) => f.start, t);
  return f ? new Date(f.programDateTime + (t - f.start) * 1000) : null;
}
function dateToTime(date) {
  const f = fragmentAt((f) => f.programDateTime, date.getTime());
  return f ? f.start + (date.getTime() - f.programDateTime) / 1000 : null;
}

// The seekable window: the playlist's first fragment to its live edge.
function liveWindow() {
  if (details && details.fragments.length) {
    return { start: details.fragmentStart, end: details.edge, live: details.live };
  }
  const r = video.seekable;
  return r.length ? { start: r.start(0), end: r.end(r.length - 1), live: true } : null;
}
// Where "live" is: the latency hls.js keeps from the edge (three target durations).
function livePosition() {
  if (hls && Number.isFinite(hls.liveSyncPosition)) return hls.liveSyncPosition;
  const w = liveWindow();
  return w ? w.end : 0;
}
function playheadDate() {
  if (hls && hls.playingDate) return hls.playingDate;
  if (!hls && video.getStartDate) {
    const d = video.getStartDate();
    if (!Number.isNaN(d.getTime())) return new Date(d.getTime() + video.currentTime * 1000);
  }
  return timeToDate(video.currentTime);
}

// ---------------------------------------------------------------- playback

function play(next) {
  source = next;
  location.hash = next.id;
  if (hls) hls.destroy();
  hls = null;
  if (shakaPlayer) shakaPlayer.destroy();
  shakaPlayer = null;
  details = null;
  monitor.reset();
  playedAtError = null;
  for (const b of $("sources").children) b.setAttribute("aria-selected", String(b.dataset.id === next.id));
  $("stat-source").textContent = next.label;
  $("stat-url").textContent = next.url;
  $("stat-url").href = next.url;
  notice(null);

  // A DRM source: hls.js plays it through EME with the ClearKey licence server; the
  // same stream in Shaka Player is one click away on the player check page.
  const licence = (config.licences || {})[next.id];
  const shakaLink = $("stat-shaka");
  if (shakaLink) {
    shakaLink.hidden = !licence;
    if (licence) shakaLink.href = shakaUrl(next.url, licence);
  }
  // An MPD plays here in Shaka Player; the same MPD in dash.js is one click away.
  const mpd = next.url.split("?")[0].endsWith(".mpd");
  const dashjsLink = $("stat-dashjs");
  if (dashjsLink) {
    dashjsLink.hidden = !mpd;
    if (mpd) dashjsLink.href = checkUrl(next.url, "dashjs", licence);
  }
  if (mpd) {
    playDash(next.url);
  } else if (window.Hls && Hls.isSupported()) {
    const drm = licence ? {
      emeEnabled: true,
      drmSystems: { "org.w3.clearkey": { licenseUrl: new URL(licence, location.href).href } },
    } : {};
    hls = new Hls({ liveDurationInfinity: true, enableWorker: true, ...drm });
    hls.on(Hls.Events.LEVEL_UPDATED, (_, data) => { details = data.details; drawAds(); });
    hls.on(Hls.Events.LEVEL_LOADED, (_, data) => { details = data.details; drawAds(); });
    hls.on(Hls.Events.ERROR, (_, data) => onHlsError(data));
    hls.loadSource(next.url);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = next.url; // Safari plays HLS natively
  } else {
    notice("This browser cannot play HLS (no Media Source Extensions).", true);
  }
  video.play().catch(() => {});
}

// An MPEG-DASH source: Shaka Player (vendored, loaded on first use) on the same video.
let shakaPlayer = null;
async function playDash(url) {
  if (!window.shaka) {
    await new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = document.querySelector('script[src$="/app.js"]').src.replace(/app\.js$/, "vendor/shaka-player.compiled.js");
      s.onload = resolve;
      s.onerror = () => reject(new Error("cannot load Shaka Player"));
      document.head.append(s);
    });
    shaka.polyfill.installAll();
  }
  const player = new shaka.Player();
  shakaPlayer = player;
  await player.attach(video);
  player.addEventListener("error", (ev) => {
    const e = ev.detail;
    const what = `shaka/${e.category}/${e.code}`;
    if (e.severity === 2) { monitor.fatal(what); notice(`Playback error (${what})`, true); }
    else monitor.error(what);
  });
  try {
    await player.load(url);
  } catch (e) {
    monitor.fatal(`shaka/${e.code}`);
    notice(`Cannot play the MPD (Shaka error ${e.code})`, true);
  }
  video.play().catch(() => {});
}

// The player check page playing `url` in Shaka Player with a ClearKey licence.
function shakaUrl(url, licence) {
  return checkUrl(url, "shaka", licence);
}
// The player check page playing `url` in `player`, with a ClearKey licence if given.
function checkUrl(url, player, licence) {
  const abs = (u) => new URL(u, location.href).href;
  const q = new URLSearchParams({ src: abs(url), player });
  if (licence) q.set("licence", abs(licence));
  return `player.html?${q}`;
}

function onHlsError(data) {
  const what = `${data.type}/${data.details}`;
  if (!data.fatal) {
    monitor.error(what);
    return;
  }
  monitor.fatal(what);
  notice(`Playback error (${data.details}); retrying…`, true);
  playedAtError = monitor.snapshot().playedSeconds;
  if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
    hls.recoverMediaError();
  } else {
    // e.g. the origin has nothing yet right after start: load the stream again, keeping
    // the errors seen so far for the tests
    const current = source;
    setTimeout(() => { if (source === current) reload(); }, 3000);
  }
}

// Load the same source again without clearing the monitor.
function reload() {
  const kept = monitor.snapshot();
  play(source);
  kept.fatal.forEach((f) => monitor.fatal(f));
}

function notice(text, error) {
  const n = $("notice");
  n.hidden = !text;
  n.textContent = text || "";
  n.classList.toggle("error", !!error);
}

function seekTo(t) {
  const w = liveWindow();
  if (!w) return;
  video.currentTime = Math.min(Math.max(t, w.start), Math.min(w.end, livePosition()));
  video.play().catch(() => {});
}
function goLive() { seekTo(livePosition()); }

// ---------------------------------------------------------------- seek bar

const bar = $("seekbar");
function fraction(t, w) { return Math.min(1, Math.max(0, (t - w.start) / (w.end - w.start || 1))); }
function timeAtPointer(ev) {
  const w = liveWindow();
  const r = bar.getBoundingClientRect();
  return w ? w.start + ((ev.clientX - r.left) / r.width) * (w.end - w.start) : null;
}
let dragging = false;
bar.addEventListener("pointerdown", (ev) => {
  dragging = true;
  bar.setPointerCapture(ev.pointerId);
  const t = timeAtPointer(ev);
  if (t !== null) seekTo(t);
});
bar.addEventListener("pointermove", (ev) => {
  if (!dragging) return;
  const t = timeAtPointer(ev);
  if (t !== null) seekTo(t);
});
bar.addEventListener("pointerup", () => { dragging = false; });
bar.addEventListener("keydown", (ev) => {
  const step = { ArrowLeft: -10, ArrowRight: 10, PageDown: -60, PageUp: 60 }[ev.key];
  if (step) { seekTo(video.currentTime + step); ev.preventDefault(); }
  if (ev.key === "End") { goLive(); ev.preventDefault(); }
});

// Ad breaks: every DATERANGE of the playlist with a duration (or SCTE35-OUT and a planned
// duration), drawn where it falls in the window.
function adBreaks() {
  if (!details || !details.dateRanges) return [];
  return Object.values(details.dateRanges).flatMap((dr) => {
    const start = dateToTime(dr.startDate);
    const seconds = dr.duration ?? dr.plannedDuration ?? null;
    if (dr.class === "com.lineup.programme") return []; // programme starts (EPG strip)
    const isAd = dr.attr["SCTE35-OUT"] || dr.attr["SCTE35-CMD"] || /ad/i.test(dr.class || dr.id);
    return start !== null && seconds && isAd ? [{ id: dr.id, start, end: start + seconds }] : [];
  });
}
function inAdBreak() {
  const t = video.currentTime;
  return adBreaks().some((a) => a.start <= t && t < a.end);
}
function drawAds() {
  const w = liveWindow();
  const box = $("ads");
  box.replaceChildren();
  if (!w) return;
  const visible = adBreaks().filter((a) => a.end > w.start && a.start < w.end);
  for (const a of visible) {
    const el = document.createElement("div");
    el.className = "ad";
    el.title = `ad break ${durationText(a.end - a.start)}`;
    el.style.left = `${fraction(a.start, w) * 100}%`;
    el.style.width = `${(fraction(a.end, w) - fraction(a.start, w)) * 100}%`;
    box.append(el);
  }
  $("ads-legend").hidden = visible.length === 0;
}

// ---------------------------------------------------------------- render loop

function behindLive() {
  const w = liveWindow();
  return w && w.live ? Math.max(0, w.end - video.currentTime) : 0;
}
function atLive() {
  const w = liveWindow();
  return !w || !w.live || video.currentTime >= livePosition() - (details ? details.targetduration : 2);
}

function render() {
  const w = liveWindow();
  if (w) {
    const f = fraction(video.currentTime, w);
    $("played").style.width = `${f * 100}%`;
    $("thumb").style.left = `${f * 100}%`;
    const b = video.buffered;
    if (b.length) {
      const end = b.end(b.length - 1);
      $("buffered").style.left = `${f * 100}%`;
      $("buffered").style.width = `${Math.max(0, fraction(end, w) - f) * 100}%`;
    }
    bar.setAttribute("aria-valuemin", w.start.toFixed(1));
    bar.setAttribute("aria-valuemax", w.end.toFixed(1));
    bar.setAttribute("aria-valuenow", video.currentTime.toFixed(1));
    const first = timeToDate(w.start);
    $("window-start").textContent = first
      ? `${clockText(first)} · ${durationText(w.end - w.start)} window`
      : `${durationText(w.end - w.start)} window`;
    $("window-end").textContent = w.live ? "live" : "end";
  }
  const date = playheadDate();
  const live = atLive();
  $("clock").innerHTML = "";
  $("clock").append(date ? clockText(date) : "--:--:--");
  const sub = document.createElement("small");
  sub.textContent = live ? "live" : `−${durationText(behindLive())}`;
  $("clock").append(sub);
  $("badge").textContent = live ? "LIVE" : `−${durationText(behindLive())}`;
  $("badge").className = `badge ${live ? "live" : "behind"}`;
  $("golive").classList.toggle("at-live", live);
  $("adbadge").hidden = !inAdBreak();
  $("play").textContent = video.paused ? "▶" : "❚❚";
  $("play").setAttribute("aria-label", video.paused ? "Play" : "Pause");

  const level = hls && hls.levels[hls.currentLevel];
  $("stat-level").textContent = level
    ? `${level.width}×${level.height} · ${Math.round(level.bitrate / 1000)} kb/s`
    : video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : "-";
  const b = video.buffered;
  $("stat-buffer").textContent = b.length ? `${Math.max(0, b.end(b.length - 1) - video.currentTime).toFixed(1)} s` : "-";
  $("stat-behind").textContent = w && w.live ? `${behindLive().toFixed(1)} s` : "-";
  const m = monitor.snapshot();
  $("stat-stalls").textContent = m.stalls ? `${m.stalls} (longest ${(m.maxStallMs / 1000).toFixed(1)} s)` : "0";
  // The error notice goes once playback has recovered for a few seconds.
  if (playedAtError !== null && m.playedSeconds > playedAtError + 3) playedAtError = null;
  if (m.started && playedAtError === null) notice(null);
}
setInterval(render, 250);
setInterval(drawAds, 1000);

$("play").addEventListener("click", () => (video.paused ? video.play() : video.pause()));
$("golive").addEventListener("click", goLive);

// ---------------------------------------------------------------- side panels

async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

function el(tag, props, ...children) {
  const e = Object.assign(document.createElement(tag), props || {});
  e.append(...children);
  return e;
}

async function refreshFetchers() {
  const box = $("fetchers");
  try {
    const list = await getJson(config.fetchers);
    box.replaceChildren(...(list.length ? list.map(fetcherView) : [el("span", { className: "muted" }, "no fetchers")]));
  } catch (e) {
    box.replaceChildren(el("span", { className: "pill error" }, `pull/push unreachable: ${e.message}`));
  }
}
function pill(state) {
  const p = el("span", { className: `pill ${state}` }, state);
  p.dataset.state = state;
  return p;
}
function fetcherView(f) {
  const stat = (name, value) => el("div", {}, el("dt", {}, name), el("dd", {}, value));
  const view = el("div", { className: `fetcher ${f.state}` },
    el("div", { className: "row" }, el("span", { className: "name" }, f.name), pill(f.state)),
    el("div", { className: "url", title: `${f.url} → ${f.destination}` }, `${f.output} → ${f.destination}`),
    el("dl", {},
      stat("Lag", `${Number(f.lag_seconds).toFixed(1)} s`),
      stat("Segments", String(f.segments_pushed)),
      stat("Pushed", `${(f.bytes_pushed / 1e6).toFixed(1)} MB`)));
  view.dataset.fetcher = f.name;
  if (f.last_error) view.append(el("div", { className: "err", title: f.last_error }, `Last error: ${f.last_error}`));
  return view;
}

// On air: the engine's item playing now (the EPG strip below says what is scheduled).
// A VOD without a title is named by its folder: `.../vod1/master.m3u8` -> `vod1`.
function vodName(id) {
  const parts = String(id).split("?")[0].split("/").filter(Boolean);
  return parts.length > 1 && /\.m3u8$/.test(parts[parts.length - 1]) ? parts[parts.length - 2] : String(id);
}
async function refreshOnAir() {
  if (!config.now_playing) return;
  try {
    const channel = await getJson(config.now_playing);
    const item = channel.now_playing;
    if (!item) return;
    const names = { vod: item.title || vodName(item.id), ad_break: "Ad break", slate: "Slate", live: "Live event" };
    $("onair-what").textContent = names[item.type] || item.type;
    $("onair-kind").textContent = item.type.replace("_", " ");
    $("onair-kind").className = `pill ${item.type === "ad_break" ? "ad" : "ok"}`;
    $("onair").hidden = false;
  } catch (_) { /* the engine API may be protected: the panel stays hidden */ }
}

// ---------------------------------------------------------------- EPG strip

// The channel's schedule (config.schedule: Eyevinn schedule-service events, epoch-ms
// start_time/end_time), fetched around the playhead and refreshed every 15 s. The
// programme at the playhead is highlighted: scrub back in the DVR window and the strip
// shows what was on then. Which programme that is comes from the stream when it says so
// (EXT-X-DATERANGE CLASS="com.lineup.programme" with X-PROGRAMME-ID, as the engine tags
// programme starts), else from the schedule's times and the playhead's date-time.
const EPG_BEHIND_MS = 60 * 1000;      // fetched before the DVR window's start
const EPG_AHEAD_MS = 10 * 60 * 1000;  // fetched after now
const EPG_BEFORE = 2;                 // programmes shown before the highlighted one
const EPG_AFTER = 6;                  // programmes shown after the one on air
let epg = { events: [], from: 0, to: 0, error: null, key: "", current: null, live: null, loading: false };

function epgRange() {
  const w = liveWindow();
  const first = w ? timeToDate(w.start) : null;
  const now = Date.now();
  const head = playheadDate();
  const from = Math.min(first ? first.getTime() : now, head ? head.getTime() : now, now) - EPG_BEHIND_MS;
  return { from, to: now + EPG_AHEAD_MS };
}

async function refreshEpg() {
  if (!config.schedule || epg.loading) return;
  epg.loading = true;
  const { from, to } = epgRange();
  const sep = config.schedule.includes("?") ? "&" : "?";
  try {
    const events = await getJson(`${config.schedule}${sep}start=${Math.floor(from)}&end=${Math.ceil(to)}`);
    epg.events = events
      .filter((e) => Number.isFinite(e.start_time) && Number.isFinite(e.end_time) && e.end_time > e.start_time)
      .sort((a, b) => a.start_time - b.start_time);
    epg.from = from;
    epg.to = to;
    epg.error = null;
  } catch (e) {
    // A service started with --api-token protects its whole API, reads included.
    epg.error = /HTTP 401/.test(e.message) ? "the schedule API needs the API token" : "unreachable";
  } finally {
    epg.loading = false;
  }
  drawEpg();
}

// The programme the stream itself names at the playhead (the last programme DATERANGE
// that started at or before it), if the playlist carries them.
function programmeFromStream(at) {
  if (!details || !details.dateRanges || !at) return null;
  let best = null;
  for (const dr of Object.values(details.dateRanges)) {
    if (dr.class !== "com.lineup.programme" || !dr.startDate) continue;
    const id = dr.attr && dr.attr["X-PROGRAMME-ID"];
    if (!id || dr.startDate.getTime() > at.getTime()) continue;
    if (!best || dr.startDate > best.start) best = { id, start: dr.startDate };
  }
  return best && best.id;
}

function eventAt(ms) {
  return epg.events.find((e) => e.start_time <= ms && ms < e.end_time) || null;
}

function epgClock(ms, withSeconds) {
  const d = new Date(ms);
  return withSeconds ? clockText(d) : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function drawEpg() {
  const card = $("epg");
  if (!config || !config.schedule) return;
  card.hidden = false;
  const now = Date.now();
  const head = playheadDate() || new Date(now);
  const fromStream = programmeFromStream(head);
  const current = (fromStream && epg.events.find((e) => e.id === fromStream)) || eventAt(head.getTime());
  const live = eventAt(now);
  epg.current = current;
  epg.live = live;
  // Refetch when the playhead left the range we hold (a seek far back, a long pause).
  if (epg.events.length && !epg.loading && (head.getTime() < epg.from || now > epg.to - EPG_AHEAD_MS / 2)) {
    refreshEpg();
  }
  const evs = epg.events;
  const at = current ? evs.indexOf(current) : evs.findIndex((e) => e.end_time > head.getTime());
  const liveAt = live ? evs.indexOf(live) : evs.findIndex((e) => e.start_time > now);
  const first = Math.max(0, (at >= 0 ? at : liveAt >= 0 ? liveAt : 0) - EPG_BEFORE);
  const last = Math.min(evs.length, Math.max(at, liveAt, first) + EPG_AFTER + 1);
  const shown = evs.slice(first, last);
  const behind = !atLive();
  $("epg-note").textContent = epg.error
    ? `schedule unavailable: ${epg.error}`
    : behind && current ? `watching ${durationText((now - head.getTime()) / 1000)} behind live` : "";

  // Redraw the items only when what they show changes; the progress bar moves every time.
  const key = JSON.stringify([shown.map((e) => [e.id, e.start_time, e.end_time, e.title]),
    current && current.id, live && live.id, behind]);
  const strip = $("epg-strip");
  if (key !== epg.key) {
    epg.key = key;
    if (!shown.length) {
      strip.replaceChildren(el("li", { className: "prog empty muted" },
        epg.error ? "The schedule cannot be read right now." : "Nothing scheduled."));
    } else {
      strip.replaceChildren(...shown.map((e) => programmeView(e, e === current, e === live, live, now)));
    }
    const mark = strip.querySelector(".prog.current") || strip.querySelector(".prog.live");
    if (mark) strip.scrollTo({ left: Math.max(0, mark.offsetLeft - 8), behavior: "smooth" });
  }
  const bar = strip.querySelector(".prog.current .progress i");
  if (bar && current) {
    const f = (head.getTime() - current.start_time) / (current.end_time - current.start_time);
    bar.style.width = `${Math.min(100, Math.max(0, f * 100))}%`;
  }
}

function programmeView(e, isCurrent, isLive, live, now) {
  const seconds = (e.end_time - e.start_time) < 120000 || new Date(e.start_time).getSeconds() !== 0;
  let label;
  if (isCurrent && isLive) label = "Now";
  else if (isCurrent) label = "Watching";
  else if (isLive) label = "Live now";
  else if (e.start_time >= now) label = live && e.start_time === live.end_time ? "Next" : `In ${durationText((e.start_time - now) / 1000)}`;
  else label = "Earlier";
  const type = String(e.type || "VOD").toUpperCase();
  const breaks = Array.isArray(e.adBreaks) ? e.adBreaks.length : 0;
  const meta = el("div", { className: "meta" },
    el("span", { className: `pill ${type === "AD" ? "ad" : type === "LIVE" ? "error" : "ok"}` }, type),
    el("span", {}, durationText((e.end_time - e.start_time) / 1000)));
  if (breaks) meta.append(el("span", { className: "muted" }, `${breaks} ad break${breaks > 1 ? "s" : ""}`));
  const li = el("li", {
    className: `prog${isCurrent ? " current" : ""}${isLive ? " live" : ""}${e.end_time <= now && !isCurrent ? " past" : ""}`,
    title: `${e.title} · ${epgClock(e.start_time, true)}–${epgClock(e.end_time, true)}`,
  },
  el("div", { className: "when" },
    el("span", { className: "label" }, label),
    el("span", { className: "time" }, `${epgClock(e.start_time, seconds)}–${epgClock(e.end_time, seconds)}`)),
  el("div", { className: "title" }, e.title || "Untitled"),
  meta);
  if (isCurrent) {
    li.setAttribute("aria-current", "true");
    li.append(el("div", { className: "progress" }, el("i")));
  }
  li.dataset.id = e.id;
  li.dataset.type = type;
  return li;
}

function drawStatic() {
  $("channel-title").textContent = config.title;
  document.title = `${config.title} · lineup`;
  $("sources").replaceChildren(...config.sources.map((s) => {
    const b = el("button", { role: "tab", title: s.note || s.label, onclick: () => play(s) }, s.label);
    b.dataset.id = s.id;
    return b;
  }));
  $("api-links").replaceChildren(...config.docs.map((d) =>
    el("li", {}, el("a", { href: d.url, className: "api-doc" }, d.name), el("span", { className: "muted url" }, d.url))));
  $("docs-nav").replaceChildren(...config.docs.map((d) => el("a", { href: d.url }, d.name)));
}

async function main() {
  config = await getJson("page.json");
  drawStatic();
  const wanted = config.sources.find((s) => `#${s.id}` === location.hash);
  play(wanted || config.sources.find((s) => s.id === config.default_source) || config.sources[0]);
  refreshFetchers();
  refreshOnAir();
  setInterval(refreshFetchers, 2000);
  setInterval(refreshOnAir, 3000);
  if (config.schedule) {
    refreshEpg();
    setInterval(refreshEpg, 15000);
    setInterval(drawEpg, 500);
  }
}
main().catch((e) => notice(`Cannot load the page configuration: ${e.message}`, true));

// ---------------------------------------------------------------- for tests

window.lineup = {
  select(id) { const s = config.sources.find((x) => x.id === id); if (s) play(s); return !!s; },
  goLive,
  seekTo,
  // Seek to a programme date-time (ms); returns the media time, or null outside the window.
  seekToDate(ms) {
    const t = dateToTime(new Date(ms));
    if (t !== null) seekTo(t);
    return t;
  },
  // The schedule the EPG strip holds.
  schedule: () => epg.events.map((e) => ({ id: e.id, start: e.start_time, end: e.end_time })),
  state() {
    const w = liveWindow();
    const date = playheadDate();
    const edge = w ? timeToDate(w.end) : null;
    return {
      source: source && source.id,
      window: w,
      livePosition: livePosition(),
      atLive: atLive(),
      playheadDate: date ? date.getTime() : null,
      liveEdgeDate: edge ? edge.getTime() : null,
      adBreaks: adBreaks().length,
      inAdBreak: inAdBreak(),
      epg: config && config.schedule ? {
        programmes: epg.events.length,
        current: epg.current && epg.current.id,
        live: epg.live && epg.live.id,
        fromStream: programmeFromStream(date),
      } : null,
      ...monitor.snapshot(),
    };
  },
  resetStats: () => monitor.reset(),
};
