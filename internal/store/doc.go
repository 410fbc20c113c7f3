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
//     too large for the biggest class (1 KiB) get their own allocation;
//   - the shard's eviction policy (package evict) and expiry index (package
//     expire), both addressed by entry id.
//
// Key bytes are compared on every hash hit, so fragment collisions are
// harmless. The store owns its bytes: keys and values are copied in.
//
// Databases (SELECT) share the shards: a record carries its physical database
// number, and SWAPDB swaps the logical→physical mapping while every shard is
// locked.
//
// # Concurrency
//
// Methods ending in Locked expect the caller to hold the shard's lock (see
// Shard.Lock). Multi-key operations lock the shards they touch in increasing
// index order (LockShards); a transaction locks all of them. Statistics are
// counted under the shard locks and summed when read.
//
// # Memory accounting
//
// Every record is charged its slab slot size (or allocation size), and every
// shard is charged its hash table, id table, policy and expiry index. Shards
// report their usage to a store-wide counter in steps, so the hot path does not
// hammer one shared atomic; UsedMemory sums the exact figures.
package store
