// Package store is cachesrv's sharded in-memory keyspace.
//
// # Shape
//
// The keyspace is split into a power-of-two number of shards by a 64-bit
// hash of the key. Each shard owns, under one mutex:
//
//   - an open-addressing hash table of uint64 slots (32-bit hash fragment |
//     entry id+1). The table holds no Go pointers, so ten million keys are not
//     ten million objects for the garbage collector to scan;
//   - an id table mapping dense entry ids to record references;
//   - size-class slabs that hold each entry's record (header, key and value
//     bytes) in fixed-size slots; a class's pages grow geometrically from
//     about 512 bytes to 16 KiB, so a barely used class costs little; records
//     too large for the biggest class (1 KiB) get a buffer from the store's
//     pool (package bufpool): above 32 KiB a mapping outside the Go heap,
//     reused by the next large record when freed, so large-value churn
//     neither feeds the collector nor faults in fresh pages for every SET;
//   - its expiry index (package expire, allocated at the shard's first TTL),
//     addressed by entry id;
//   - two event rings (reads, writes) feeding the store's one eviction
//     policy (see below).
//
// Key bytes are compared on every hash hit, so fragment collisions are
// harmless. The store owns its bytes: keys and values are copied in.
//
// Databases (SELECT) share the shards: a record carries its physical database
// number, and SWAPDB swaps the logical→physical mapping while every shard is
// locked.
//
// # Eviction
//
// One policy (package evict) covers every shard, so a small cache over 64
// shards keeps the policy's hit ratio: admission compares store-wide
// frequencies and victims come in store-wide order from any shard. Shards
// record hits in lossy read rings and writes in bounded write rings under
// their own lock; a maintenance pass drains them into the policy under the
// policy's lock, after a shard lock is released: reads and writes do not
// drain under their shard lock, except a write finding its ring full. Evict
// picks a victim under the policy lock, then locks only the victim's shard
// and re-validates it. See policy.go for the details and the lock order.
//
// # Concurrency
//
// The store takes and releases its own locks. A caller asks a Txn (one per
// goroutine, NewTxn) for the keys it is about to use: Key locks one key's
// shard, Keys the shards of several keys in increasing index order, All
// every shard (FLUSHALL, SWAPDB), Hold every shard across a sequence of
// commands (EXEC, a script); Release (idempotent, for panic paths) or
// Unhold gives them back. Operations on keys go through the Txn, which
// panics with "BUG:" when the key's shard is not held. The Store's own
// walks (Scan, RandomKey, DBSize, Stats) lock shard by shard; the Txn's run
// inside the locks it holds.
//
// Methods ending in Locked expect the caller to hold the shard's lock; they
// serve the Txn and the tag index (package tags), which walks per-shard
// member lists under Shard.Lock. Statistics are counted under the shard
// locks and summed when read.
//
// # Memory accounting
//
// Every record is charged its slab slot size (or, above 1 KiB, the size
// class of its pooled buffer), every shard its hash table, id table, event
// rings and expiry index, and the store the policy with its id tables.
// Eviction aims at maxmemory less 1/512 (and 256 bytes per shard), so
// used_memory at rest stays under maxmemory. Shards report their usage to a store-wide counter in steps, so the hot path does not
// hammer one shared atomic; UsedMemory sums the exact figures.
package store
