// The reference @eyevinn/hls-pull-push 0.6.0, run for bench/pullpush/run.sh.
//
// usage: node ref.js <mediapackage|void> <port>
//
// Registers ONE output plugin (registering both breaks REST creation of mediapackage
// fetchers: the body schema is `oneOf` the plugins' schemas and void's `{}` matches anything)
// and serves the reference's own REST routes (`/api/v1/fetcher`) on a fastify instance of
// ours bound to 127.0.0.1 (`HLSPullPush.listen` binds 0.0.0.0). The fastify used is the one
// the reference itself depends on (3.x), so its route plugin loads unchanged.
//
// Logging: warn and error only, to stderr. The reference's void plugin logs every call at
// info level (with the whole playlist JSON); a quiet logger gives it its best case.
'use strict';
const path = require('node:path');
const pkgDir = path.dirname(require.resolve('@eyevinn/hls-pull-push/package.json'));
const fastify = require(require.resolve('fastify', { paths: [pkgDir] }));
const { HLSPullPush, MediaPackageOutput, VoidOutput } = require('@eyevinn/hls-pull-push');
const api = require(path.join(pkgDir, 'dist/src/api.js')).default;

const [plugin, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (!['mediapackage', 'void'].includes(plugin) || !port) {
  console.error('usage: node ref.js <mediapackage|void> <port>');
  process.exit(2);
}

const logger = {
  verbose() {},
  info() {},
  warn(m) { console.error(`WARN: ${m}`); },
  error(m) { console.error('ERROR:', m); },
};

const pp = new HLSPullPush(logger);
pp.registerPlugin(plugin, plugin === 'void' ? new VoidOutput() : new MediaPackageOutput());

const server = fastify({ ignoreTrailingSlash: true, bodyLimit: 1 << 20 });
server.get('/', async () => 'OK\n');
server.register(api, { instance: pp, prefix: '/api/v1' });
server.listen(port, '127.0.0.1', (err, address) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.error(`reference hls-pull-push (${plugin}) listening at ${address}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
