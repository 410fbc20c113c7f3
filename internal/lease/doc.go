// Package lease is cachesrv's stampede protection: fill leases for keys that
// miss, refresh leases for stale or soon-to-expire entries, request
// coalescing for readers that wait on a fill, the stale-set check that makes a
// fill fail when the key was written or its tags invalidated after the grant,
// the XFetch early-refresh rule, and the small value envelope that records a
// fill's compute time and negative ("not found at the origin") entries.
//
// # Leases
//
// A lease is a random 64-bit token with its own deadline, granted for one key
// of one logical database. At most one lease per key is outstanding. A
// reader that misses asks for a fill lease (Acquire); when another caller
// holds it, the reader may wait on the lease's channel, which is closed when
// the lease ends — filled, released, broken by a write, replaced after its
// deadline, or swept. Fill checks the token and consumes the lease; a token
// whose lease was broken (Written), released or replaced is refused, so a
// fill computed from data older than a DEL, an overwrite or an invalidation
// never lands (the stale-set problem).
//
// # Concurrency
//
// A Manager is safe for concurrent use. Its table is split into stripes by a
// hash of (database, key), one mutex each; nothing in this package locks
// store shards, so callers may (and the protocol's handlers do) call it with
// a shard lock held, in the order shard lock → stripe lock. Written, the write
// observer, costs one atomic load while no lease is outstanding. A waiting
// reader must not hold any lock while it blocks on a lease's channel.
//
// Counters are kept per stripe and summed by Stats.
//
// # Time
//
// Methods take the caller's clock reading (unix milliseconds) so that a
// command reads the clock once; Run reads Options.Clock.
package lease
