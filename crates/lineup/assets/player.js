// Player check page: plays `?src=` in hls.js or Shaka Player (`?player=hlsjs|shaka`) and
// exposes what a viewer would notice as `window.check.state()`: playback progress, stalls,
// errors, and the programme date-time at the playhead.
"use strict";

const params = new URLSearchParams(location.search);
const src = params.get("src");
const which = params.get("player") === "shaka" ? "shaka" : "hlsjs";
const assets = document.currentScript.dataset.assets;
const video = document.getElementById("video");
const monitor = createMonitor(video);
let playheadDate = () => null;

document.getElementById("src").value = src || "";
document.getElementById("player").value = which;

function log(line) {
  document.getElementById("log").textContent += `${new Date().toISOString()} ${line}\n`;
}

function loadScript(path) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = `${assets}/${path}`;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${path}`));
    document.head.append(s);
  });
}

async function withHlsJs() {
  await loadScript("vendor/hls.min.js");
  const hls = new Hls({ liveDurationInfinity: true });
  hls.on(Hls.Events.ERROR, (_, d) => {
    const what = `${d.type}/${d.details}`;
    log(`${d.fatal ? "FATAL" : "error"} ${what}`);
    if (d.fatal) monitor.fatal(what);
    else monitor.error(what);
  });
  hls.loadSource(src);
  hls.attachMedia(video);
  playheadDate = () => hls.playingDate;
  return `hls.js ${Hls.version}`;
}

async function withShaka() {
  await loadScript("vendor/shaka-player.compiled.js");
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  await player.attach(video);
  player.addEventListener("error", (ev) => {
    const e = ev.detail;
    const what = `${e.category}/${e.code}`;
    // shaka.util.Error.Severity.CRITICAL is 2: playback stopped.
    log(`${e.severity === 2 ? "FATAL" : "error"} shaka ${what}`);
    if (e.severity === 2) monitor.fatal(what);
    else monitor.error(what);
  });
  await player.load(src);
  playheadDate = () => player.getPlayheadTimeAsDate();
  return `Shaka Player ${shaka.Player.version}`;
}

window.check = {
  player: which,
  version: null,
  loadError: null,
  state() {
    const d = playheadDate();
    return { player: which, version: this.version, loadError: this.loadError,
             playheadDate: d ? d.getTime() : null, ...monitor.snapshot() };
  },
};

if (src) {
  (which === "shaka" ? withShaka() : withHlsJs())
    .then((version) => {
      window.check.version = version;
      log(`${version}: ${src}`);
      return video.play();
    })
    .catch((e) => {
      window.check.loadError = String(e && (e.message || e.code) || e);
      monitor.fatal(`load/${window.check.loadError}`);
      log(`FATAL ${window.check.loadError}`);
    });
}
