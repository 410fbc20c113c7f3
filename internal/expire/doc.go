// Package expire finds keys whose time to live has run out without scanning
// the keyspace, and reclaims them in the background.
//
// It has four parts, all standard library only:
//
//   - [Clock], the time source the store and the sweeper read ([System] in
//     production, [FakeClock] in tests).
//   - [Index], a per-shard hierarchical timer wheel of entry ids ordered by
//     deadline. The shard's lock guards it; per-id state lives in one
//     pointer-free slice, so millions of scheduled keys cost the garbage
//     collector nothing to scan.
//   - [Sweeper], the single background goroutine that walks the shards every
//     1/hz seconds and asks each one, through [Target], to expire at most a
//     batch of due entries per lock hold. A cycle keeps going while shards
//     report backlog, up to a CPU budget modelled on Redis's
//     active-expire-effort; when the budget runs out the next cycle starts
//     sooner.
//   - [LagHistogram], the distribution of reclaim time minus deadline, and
//     [Jitter], which spreads relative TTLs so keys written together do not
//     expire together.
//
// Times are unix milliseconds (int64) throughout; deadlines are absolute.
package expire
