// Package evict holds the cache eviction policies of cachesrv behind one small
// interface, [Policy].
//
// The store is sharded and each shard owns one Policy. A policy is not safe
// for concurrent use: the shard serialises every call with its own mutex, and
// no policy starts goroutines.
//
// Entries are named by dense uint32 ids that the store assigns and reuses
// after [Policy.Remove]; allkeys-wtinylfu packs them into 28-bit links, so ids
// must stay below 2^28-1 (about 268 million). Every policy keeps its per-entry state in
// pointer-free slices indexed by id, grown on demand, so that ten million
// entries are a handful of large arrays rather than ten million objects for
// the garbage collector.
//
// The policies follow Redis 7 by name and behaviour:
//
//   - noeviction: never names a victim.
//   - allkeys-lru, volatile-lru: approximate LRU; every Victim call samples 5
//     random entries into a 16-entry eviction pool (Redis's
//     evictionPoolPopulate) and the oldest pooled entry is the victim.
//   - allkeys-lfu, volatile-lfu: Redis's 8-bit logarithmic access counter with
//     lfu-log-factor and lfu-decay-time, through the same pool.
//   - allkeys-random, volatile-random: a uniformly random entry.
//   - volatile-ttl: the pooled entry with the nearest deadline.
//   - allkeys-wtinylfu (the default, not in Redis): W-TinyLFU with an
//     adaptive window, after Caffeine and otter: a count-min sketch of 4-bit
//     counters decides whether an entry leaving the LRU window may displace
//     the coldest entry of the segmented LRU main area. Instead of Caffeine's
//     hill climber, miniature simulations on a hashed sample of the keys
//     compare a few window sizes on the same traffic and the window follows
//     the best one.
//
// The volatile-* policies only ever name entries with a deadline.
//
// cmd/tracesim replays public cache traces through these policies and
// compares their hit ratios with reference numbers.
package evict
