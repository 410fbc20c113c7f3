// Package persist gives cachesrv warm restarts: snapshots of the keyspace
// in cachesrv's own format (snapshot.go), loading at start from either that
// format or a Redis dump.rdb (load.go, detected by the file's magic), and
// the Persister that runs SAVE, BGSAVE, the save schedule and the shutdown
// snapshot (persister.go).
//
// A background save does not fork and does not stop the world: it walks
// the store shard by shard with short lock holds (store.Walk) and writes
// to a temporary file that is fsynced and renamed over the previous
// snapshot only when complete, so a failed or killed save leaves the
// previous snapshot intact. docs/persistence.md states the guarantees.
package persist
