// Playback monitor shared by the demo page and the player test page: counts stalls the way
// a viewer sees them, and keeps the player's errors. Browser tests read `snapshot()`.
//
// A stall is a stretch during which the video should be playing but `currentTime` does not
// move: after the first `playing`, neither paused, seeking nor ended (a `waiting` event
// starts one; they are counted too). Waiting for the first frame, and for the frames after a
// seek the viewer asked for, is start-up, not a stall.
"use strict";

function createMonitor(video) {
  const TICK_MS = 200;
  let s;
  function reset() {
    s = {
      // playing (a first `playing` since the reset, or playing at the reset)
      started: !video.paused && !video.seeking && video.readyState >= 3,
      playedSeconds: 0,     // media time advanced by playback (not by seeks)
      stalls: 0,            // stalls of any length
      maxStallMs: 0,        // the longest one
      waitingEvents: 0,
      rebuffers: 0,         // `waiting` after the first frame, not caused by a seek
      fatal: [],            // fatal player errors ("type/details")
      errors: [],           // non-fatal player errors
      lastTime: video.currentTime,
      frozenSince: null,    // performance.now() when currentTime stopped moving
      seeking: false,
    };
  }
  reset();

  function endStall(since) {
    if (since === null) return;
    const ms = performance.now() - since;
    if (ms >= TICK_MS) {
      s.stalls += 1;
      s.maxStallMs = Math.max(s.maxStallMs, Math.round(ms));
    }
  }

  video.addEventListener("playing", () => {
    s.started = true;
  });
  video.addEventListener("waiting", () => {
    s.waitingEvents += 1;
    if (s.started && !s.seeking && !video.seeking) s.rebuffers += 1;
  });
  video.addEventListener("seeking", () => {
    s.seeking = true;
    s.frozenSince = null;
  });
  video.addEventListener("seeked", () => { s.lastTime = video.currentTime; });

  setInterval(() => {
    const t = video.currentTime;
    const moved = t !== s.lastTime;
    if (moved && !s.seeking && t > s.lastTime && t - s.lastTime < 2) s.playedSeconds += t - s.lastTime;
    s.lastTime = t;
    if (moved) {
      s.seeking = video.seeking;
      if (s.frozenSince !== null) endStall(s.frozenSince);
      s.frozenSince = null;
    } else if (s.started && !video.paused && !video.seeking && !s.seeking && !video.ended) {
      if (s.frozenSince === null) s.frozenSince = performance.now() - TICK_MS;
      // a stall still going on counts towards the maximum already
      s.maxStallMs = Math.max(s.maxStallMs, Math.round(performance.now() - s.frozenSince));
    }
  }, TICK_MS);

  return {
    reset,
    fatal(what) { s.fatal.push(what); },
    error(what) { if (s.errors.length < 100) s.errors.push(what); },
    snapshot() {
      const { lastTime, frozenSince, ...pub } = s;
      return { ...pub, currentTime: video.currentTime, paused: video.paused };
    },
  };
}
