package store

// In-place value updates, for values such as Bloom filters whose updates
// flip bits without changing their length: copying a megabyte-sized filter
// for every BF.ADD would be wasteful.

// ValueModifiedLocked reports that the caller has just changed the value of
// the live entry for key in place, through the Value of an Entry returned by
// LookupLocked under the same hold of the shard lock, keeping its length,
// type and metadata. It does what an overwrite does besides copying: marks
// WATCH registrations dirty, tells the hooks of the write and counts an
// access for the eviction policy. It reports whether the key is live.
//
// Writing through Entry.Value is allowed only under the shard lock and only
// when this method is called before the lock is released.
func (sh *Shard) ValueModifiedLocked(db int, key []byte, h uint64, now int64) bool {
	pdb := sh.st.dbmap[db]
	_, id, rec, _, ok := sh.lookup(pdb, key, h, now)
	if !ok {
		return false
	}
	sh.notifyLocked(pdb, key)
	if sh.st.hooks != nil {
		m := recMeta(rec)
		sh.changedHook(id, db, key, m, true, m)
	}
	sh.polAccess(id, now)
	return true
}
