// Drives cachesrv with real Node.js client libraries; exits non-zero with a
// message on the first wrong answer. Usage: node clients.mjs HOST:PORT
import Redis from 'ioredis';
import { createClient, BasicClientSideCache } from 'redis';

const [host, port] = process.argv[2].split(':');
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };
const eq = (got, want, what) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
};

// ioredis defineCommand: EVALSHA first, NOSCRIPT, then EVAL; later calls
// hit the script cache.
{
  const r = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0 });
  await r.connect();
  await r.script('FLUSH');
  r.defineCommand('incrTwice', {
    numberOfKeys: 1,
    lua: "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])",
  });
  eq(await r.incrTwice('io:n', 5), 10, 'incrTwice first call');
  eq(await r.incrTwice('io:n', 1), 12, 'incrTwice second call');
  const [exists] = await r.script('EXISTS', '0b3a3c8c0e7b0e0e5f2a8b3b6c0d5a0f1b2c3d4e');
  eq(exists, 0, 'SCRIPT EXISTS of an unknown sha');
  // A pipeline and a transaction through ioredis.
  const res = await r.multi().set('io:k', 'v').get('io:k').exec();
  eq(res, [[null, 'OK'], [null, 'v']], 'MULTI/EXEC');
  await r.quit();
}

// node-redis client-side caching (RESP3 tracking): the second GET is served
// from the local cache; a write by another client invalidates it.
{
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
  const c = createClient({ socket: { host, port: Number(port) }, RESP: 3, clientSideCache: cache });
  const w = createClient({ socket: { host, port: Number(port) } });
  await c.connect();
  await w.connect();
  await w.set('csc:k', 'v1');
  eq(await c.get('csc:k'), 'v1', 'first GET');
  eq(await c.get('csc:k'), 'v1', 'second GET');
  const s1 = cache.stats();
  if (s1.hitCount < 1) fail(`second GET not served from the local cache: ${JSON.stringify(s1)}`);
  await w.set('csc:k', 'v2');
  let got;
  for (let i = 0; i < 500; i++) { // the invalidation push travels on c's connection
    got = await c.get('csc:k');
    if (got === 'v2') break;
    await new Promise((res) => setTimeout(res, 5));
  }
  eq(got, 'v2', 'GET after another client wrote');
  // A tag invalidation reaches the local cache too.
  await w.sendCommand(['TAGSET', 'csc:t', 'x', 'TAGS', '1', 'team:7']);
  eq(await c.get('csc:t'), 'x', 'GET tagged');
  eq(await c.get('csc:t'), 'x', 'GET tagged again');
  await w.sendCommand(['INVALIDATE', 'team:7']);
  for (let i = 0; i < 500; i++) {
    got = await c.get('csc:t');
    if (got === null) break;
    await new Promise((res) => setTimeout(res, 5));
  }
  eq(got, null, 'GET after INVALIDATE of its tag');
  await c.quit();
  await w.quit();
}
console.log('OK');
