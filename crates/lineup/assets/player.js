// Player check page: plays `?src=` in hls.js, Shaka Player or dash.js
// (`?player=hlsjs|shaka|dashjs`, dash.js for MPDs only) and exposes what a viewer would notice as `window.check.state()`: playback progress, stalls,
// errors, and the programme date-time at the playhead.
//
// DRM: `&licence=<W3C ClearKey licence URL>` plays through EME (hls.js: `emeEnabled`,
// `drmSystems['org.w3.clearkey'].licenseUrl`; Shaka: `drm.servers['org.w3.clearkey']`,
// its HLS parser told to ignore the playlists' key tags, which name no KEYFORMAT it knows
// for ClearKey, so the `pssh` of the init segments drives the licence requests; an MPD's
// `ContentProtection` is read; dash.js: `setProtectionData({'org.w3.clearkey':
// {serverURL}})`).
// `&keyurl=<URL>` makes hls.js fetch `identity` keys (AES-128, TS SAMPLE-AES) from there.
//
// `&mediatailor=1` (Shaka only): `src` is an SSAI session initialization URL
// (`/ads/v1/session/...`), played through Shaka's own MediaTailor integration: its ad manager
// POSTs the session, plays the `manifestUrl` it gets, polls the `trackingUrl` and fires the
// ads' beacons from the player; the ad events it raises are counted in `state().ads`.
//
// Several players on one page: repeat `src` (with a `player` and a `licence` each, `-` for
// none); `window.check.states()` gives every player's state, in order.
"use strict";

const params = new URLSearchParams(location.search);
const sources = params.getAll("src");
const players = params.getAll("player");
const licences = params.getAll("licence");
const keyUrl = params.get("keyurl");
const mediaTailor = params.get("mediatailor") === "1";
const assets = document.currentScript.dataset.assets;
const firstVideo = document.getElementById("video");

document.getElementById("src").value = sources[0] || "";
document.getElementById("player").value = ["shaka", "dashjs"].includes(players[0]) ? players[0] : "hlsjs";

function log(line) {
  document.getElementById("log").textContent += `${new Date().toISOString()} ${line}\n`;
}

const loaded = {};
function loadScript(path) {
  loaded[path] = loaded[path] || new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = `${assets}/${path}`;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${path}`));
    document.head.append(s);
  });
  return loaded[path];
}

async function withHlsJs(c) {
  await loadScript("vendor/hls.min.js");
  const config = { liveDurationInfinity: true };
  if (c.licence) {
    config.emeEnabled = true;
    config.drmSystems = { "org.w3.clearkey": { licenseUrl: c.licence } };
  }
  if (keyUrl) {
    config.xhrSetup = (xhr, url) => {
      if (url.includes("/keys/")) xhr.open("GET", keyUrl, true);
    };
  }
  const hls = new Hls(config);
  hls.on(Hls.Events.ERROR, (_, d) => {
    const what = `${d.type}/${d.details}`;
    log(`[${c.n}] ${d.fatal ? "FATAL" : "error"} ${what}`);
    if (d.fatal) c.monitor.fatal(what);
    else c.monitor.error(what);
  });
  hls.loadSource(c.src);
  hls.attachMedia(c.video);
  c.playheadDate = () => hls.playingDate;
  return `hls.js ${Hls.version}`;
}

async function withShaka(c) {
  await loadScript("vendor/shaka-player.compiled.js");
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  await player.attach(c.video);
  if (c.licence) {
    // HLS: ignore the key tags (see above); an MPD's ContentProtection is what DASH
    // players go by, so Shaka reads it.
    const mpd = new URL(c.src, location.href).pathname.endsWith(".mpd");
    player.configure({
      drm: { servers: { "org.w3.clearkey": c.licence } },
      manifest: { ignoreDrmInfo: !mpd },
    });
  }
  player.addEventListener("error", (ev) => {
    const e = ev.detail;
    const what = `${e.category}/${e.code}`;
    // shaka.util.Error.Severity.CRITICAL is 2: playback stopped.
    log(`[${c.n}] ${e.severity === 2 ? "FATAL" : "error"} shaka ${what}`);
    if (e.severity === 2) c.monitor.fatal(what);
    else c.monitor.error(what);
  });
  let src = c.src;
  if (mediaTailor) src = await viaMediaTailor(player, c);
  await player.load(src);
  c.playheadDate = () => player.getPlayheadTimeAsDate();
  return `Shaka Player ${shaka.Player.version}`;
}

// dash.js asks EME for a muxed Representation's codecs as they are
// (`video/mp4;codecs="avc1...,mp4a..."` among the video capabilities), which Chromium's
// requestMediaKeySystemAccess refuses (a video capability may name video codecs only), so
// encrypted muxed audio+video never starts. Shaka Player splits them; this does the same
// for dash.js, on this check page only: each capability keeps the codecs of its kind.
function splitMuxedCapabilities() {
  if (!navigator.requestMediaKeySystemAccess || navigator.requestMediaKeySystemAccess.split) return;
  const original = navigator.requestMediaKeySystemAccess.bind(navigator);
  const only = (caps, audio) => (caps || []).map((cap) => {
    const m = /^([^;]+);\s*codecs="([^"]*)"/.exec(cap.contentType || "");
    if (!m) return cap;
    const codecs = m[2].split(",").map((x) => x.trim())
      .filter((x) => x.startsWith("mp4a") === audio);
    return codecs.length ? { ...cap, contentType: `${m[1]};codecs="${codecs.join(",")}"` } : cap;
  });
  const split = (keySystem, configs) => original(keySystem, configs.map((cfg) => ({
    ...cfg,
    videoCapabilities: only(cfg.videoCapabilities, false),
    audioCapabilities: only(cfg.audioCapabilities, true),
  })));
  split.split = true;
  navigator.requestMediaKeySystemAccess = split;
}

async function withDashJs(c) {
  await loadScript("vendor/dash.all.min.js");
  if (c.licence) splitMuxedCapabilities();
  const player = dashjs.MediaPlayer().create();
  // Its own warnings and errors are kept as non-fatal errors: what a failure report needs.
  player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING, dispatchEvent: true } });
  player.on("log", (ev) => {
    if (ev && ev.level <= dashjs.Debug.LOG_LEVEL_WARNING) c.monitor.error(`dashjs/log/${String(ev.message).slice(0, 200)}`);
  });
  if (c.licence) {
    player.setProtectionData({ "org.w3.clearkey": { serverURL: c.licence } });
  }
  // dash.js reports what it cannot get past as ERROR (a manifest it cannot load, a
  // segment still missing after its retries, a key or licence refused, a media error):
  // playback of that stream stops, so every one is fatal here.
  player.on(dashjs.MediaPlayer.events.ERROR, (ev) => {
    const e = ev.error || {};
    const what = `dashjs/${e.code}/${e.message || ""}`.slice(0, 200);
    log(`[${c.n}] FATAL ${what}`);
    c.monitor.fatal(what);
  });
  player.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, (ev) => {
    const what = `dashjs/playback/${ev.error && (ev.error.code || ev.error.message)}`;
    log(`[${c.n}] FATAL ${what}`);
    c.monitor.fatal(what);
  });
  // The Periods it switched to (ids), for the tests.
  c.periods = [];
  player.on(dashjs.MediaPlayer.events.PERIOD_SWITCH_COMPLETED, (ev) => {
    const id = ev.toStreamInfo && ev.toStreamInfo.id;
    if (id && c.periods.length < 1000) c.periods.push(id);
  });
  player.initialize(c.video, c.src, true);
  // A live MPD: the playhead as wall-clock time (availabilityStartTime + presentation
  // time); a static one has no wall clock.
  c.playheadDate = () => {
    if (!player.isReady() || !player.isDynamic()) return null;
    const t = player.timeAsUTC();
    return Number.isFinite(t) && t > 0 ? new Date(t * 1000) : null;
  };
  return `dash.js ${player.getVersion()}`;
}

const WITH = { hlsjs: withHlsJs, shaka: withShaka, dashjs: withDashJs };

// Shaka's client-side MediaTailor integration: the session's manifest URL, and every ad
// event its ad manager raises counted in `c.ads` (ads-loaded, cue points, impressions, ...).
const AD_EVENTS = ["ads-loaded", "ad-cue-points-changed", "ad-impression", "ad-started",
  "ad-first-quartile", "ad-midpoint", "ad-third-quartile", "ad-complete", "ad-error"];
async function viaMediaTailor(player, c) {
  const ads = player.getAdManager();
  const container = document.createElement("div");
  c.video.parentElement.append(container);
  ads.initMediaTailor(container, player.getNetworkingEngine(), c.video);
  for (const name of AD_EVENTS) {
    ads.addEventListener(name, (ev) => {
      c.ads[name] = (c.ads[name] || 0) + 1;
      if (name === "ad-cue-points-changed") c.ads.cuepoints = (ev.cuepoints || []).length;
      log(`[${c.n}] shaka ${name}`);
    });
  }
  const uri = await ads.requestMediaTailorStream(c.src, { reportingMode: "client" });
  log(`[${c.n}] MediaTailor session: ${uri}`);
  c.manifest = uri;
  return uri;
}

// One player per `src`: the page's video for the first, a new one for each other.
const checks = sources.map((src, n) => {
  let video = firstVideo;
  if (n > 0) {
    const box = document.createElement("div");
    box.className = "player";
    video = document.createElement("video");
    Object.assign(video, { muted: true, autoplay: true, playsInline: true, controls: true });
    box.append(video);
    firstVideo.parentElement.after(box);
  }
  const licence = licences[n] && licences[n] !== "-" ? licences[n] : null;
  return {
    n, src, video, licence,
    which: WITH[players[n]] ? players[n] : "hlsjs",
    monitor: createMonitor(video),
    playheadDate: () => null,
    ads: {},
    manifest: null,
    version: null,
    loadError: null,
    periods: null,
  };
});

function stateOf(c) {
  const d = c.playheadDate();
  return { player: c.which, src: c.src, version: c.version, loadError: c.loadError,
           playheadDate: d ? d.getTime() : null, ads: c.ads, manifest: c.manifest,
           periods: c.periods, ...c.monitor.snapshot() };
}

window.check = {
  player: checks[0] ? checks[0].which : "hlsjs",
  state() { return checks[0] ? stateOf(checks[0]) : null; },
  states() { return checks.map(stateOf); },
};

for (const c of checks) {
  WITH[c.which](c)
    .then((version) => {
      c.version = version;
      log(`[${c.n}] ${version}: ${c.src}`);
      // A refused or interrupted play() is the page's business, not a player error.
      c.video.play().catch((e) => c.monitor.error(`play/${e && e.name}`));
    })
    .catch((e) => {
      c.loadError = String(e && (e.message || e.code) || e);
      c.monitor.fatal(`load/${c.loadError}`);
      log(`[${c.n}] FATAL ${c.loadError}`);
    });
}
