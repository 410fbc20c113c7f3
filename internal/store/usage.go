package store

// indexBytesPerEntry is what one entry costs in its shard's index besides
// its record: a hash-table slot (8 bytes at a load of at most 3/4) and a
// 4-byte reference.
const indexBytesPerEntry = 8*4/3 + 4

// UsageLocked returns the bytes the store charges for key (MEMORY USAGE):
// the slab allocation of its record, which holds key, value and metadata
// (tags, dependencies, version, TTL), plus its share of the shard's index.
// The shard lock must be held.
func (sh *Shard) UsageLocked(db int, key []byte, h uint64, now int64) (int64, bool) {
	_, _, rec, _, ok := sh.lookup(sh.st.dbmap[db], key, h, now)
	if !ok {
		return 0, false
	}
	return int64(allocSize(recSize(rec))) + indexBytesPerEntry, true
}
