// The Node.js reference for bench/engine/run.sh: eyevinn-channel-engine 3.0.5 with an asset
// manager that round-robins the same fixture VODs lineup plays, and a channel manager whose
// profile matches the fixtures. Bound to 127.0.0.1 only.
//
// env: REF_PORT (listen port), REF_VODS (comma-separated VOD master URLs), REF_SLATE (slate
// master URL), REF_CHANNELS (initial channel count, default 1).
// Bench-only control routes: GET /bench/channels?n=N grows the channel list to N channels
// ("1".."N") and starts them at once (the engine itself only polls the channel manager every
// 60 s); GET /bench/gc runs a full GC before an RSS reading.
const ChannelEngine = require("eyevinn-channel-engine");

const port = parseInt(process.env.REF_PORT || "8010", 10);
const vods = (process.env.REF_VODS || "").split(",").filter(Boolean);
if (vods.length === 0) {
  console.error("REF_VODS is empty");
  process.exit(2);
}

class RoundRobinAssetManager {
  constructor() {
    this.pos = {};
  }
  getNextVod(vodRequest) {
    const key = vodRequest.playlistId || vodRequest.sessionId || "default";
    const i = this.pos[key] || 0;
    this.pos[key] = (i + 1) % vods.length;
    return Promise.resolve({ id: `vod${(i % vods.length) + 1}`, title: `vod${(i % vods.length) + 1}`, uri: vods[i] });
  }
}

// Matches tests/fixtures/ts/*/master.m3u8 (360p ~106 kbps, 180p ~79 kbps in the slate master;
// codecs from the masters).
const PROFILE = [
  { bw: 106000, codecs: "avc1.64001e,mp4a.40.2", resolution: [640, 360] },
  { bw: 79000, codecs: "avc1.64000c,mp4a.40.2", resolution: [320, 180] },
];

class BenchChannelManager {
  constructor(n) {
    this.n = n;
  }
  getChannels() {
    const out = [];
    for (let i = 1; i <= this.n; i++) out.push({ id: String(i), profile: PROFILE });
    return out;
  }
}

const channelManager = new BenchChannelManager(parseInt(process.env.REF_CHANNELS || "1", 10));
const options = {
  heartbeat: "/",
  averageSegmentDuration: 2000,
  channelManager,
  defaultSlateUri: process.env.REF_SLATE,
  slateRepetitions: 10,
};
const engine = new ChannelEngine(new RoundRobinAssetManager(), options);

engine.server.get("/bench/channels", (req, res, next) => {
  const n = parseInt(req.query.n, 10);
  if (!(n >= 1)) {
    res.send(400, { error: "n must be >= 1" });
    return next();
  }
  if (n > channelManager.n) channelManager.n = n;
  // Never resolves (it awaits each new channel's endless playhead loop): fire and forget.
  engine.updateChannelsAsync(channelManager, options).catch((e) => console.error(e));
  res.send(200, { channels: channelManager.n });
  return next();
});

// GET /bench/gc: full garbage collection before an RSS reading (node --expose-gc), so the
// reference is measured at its best rather than with collectable garbage.
engine.server.get("/bench/gc", (req, res, next) => {
  if (global.gc) global.gc();
  const m = process.memoryUsage();
  res.send(200, { gc: !!global.gc, rss: m.rss, heapUsed: m.heapUsed });
  return next();
});

engine.start();
engine.server.listen(port, "127.0.0.1", () => {
  console.log(`reference channel engine listening on 127.0.0.1:${port}`);
});
