package store

// Txn is one connection's hold on the store: it takes the shard locks a
// command needs, in the one order that cannot deadlock (ascending shard
// index, or every shard under the store-wide lock), runs the operations
// under them and releases them. Callers never see a mutex: every operation
// on a key goes through the Txn, which panics with "BUG:" when the key's
// shard is not held.
//
// A Txn holds at most one set of locks at a time: Key, Keys or All, then
// Release. Release is idempotent, so a panic path can always call it. Hold
// takes every shard for a sequence of commands (EXEC, a script): until
// Unhold, Key, Keys, All and Release change nothing and every key is held.
//
// A Txn belongs to one goroutine (a connection's); it is reused from
// command to command and does not allocate once its scratch has grown.
type Txn struct {
	st    *Store
	now   int64
	track func(shard int, held bool)

	one   int   // the shard held by Key, -1 when none
	set   []int // the shards held by Keys, sorted; nil when none
	all   bool  // every shard held by All
	outer bool  // every shard held by Hold
	depth int   // Holds nested inside the first (a script inside EXEC)

	idx  []int    // scratch for Keys
	seen []uint64 // bitmap scratch for sorting many shard indexes
}

// NewTxn returns a Txn over st. track, when not nil, is told every time the
// Txn takes (held=true) or releases a shard's lock, shard -1 meaning every
// shard; it runs with the lock held and must not use the store.
func (st *Store) NewTxn(track func(shard int, held bool)) *Txn {
	if track == nil {
		track = func(int, bool) {}
	}
	return &Txn{st: st, one: -1, track: track}
}

// Now is the time, in unix ms, the current operations run at.
func (tx *Txn) Now() int64 { return tx.now }

// SetNow sets the time the operations run at without taking locks (a
// command that holds none yet, or runs under Hold).
func (tx *Txn) SetNow(now int64) { tx.now = now }

// Held reports whether every shard is held (All or Hold): the caller must
// not block on anything that may need the store.
func (tx *Txn) Held() bool { return tx.all || tx.outer }

// Key locks the shard of key, sets the time the operations run at and
// returns key's hash for the operations on it.
func (tx *Txn) Key(now int64, key []byte) uint64 {
	tx.now = now
	h := tx.st.hash(key)
	if tx.outer {
		return h
	}
	tx.mustBeFree()
	i := int(h & tx.st.mask)
	tx.st.shards[i].mu.Lock()
	tx.one = i
	tx.track(i, true)
	return h
}

// Keys locks the shards of every key, in ascending shard order, and sets
// the time the operations run at. Operations then take each key's hash from
// Hash.
func (tx *Txn) Keys(now int64, keys [][]byte) {
	tx.now = now
	if tx.outer {
		return
	}
	tx.mustBeFree()
	idx := tx.idx[:0]
	for _, k := range keys {
		idx = append(idx, int(tx.st.hash(k)&tx.st.mask))
	}
	if len(idx) > 64 {
		// An insertion sort is quadratic in the number of keys: a command
		// with a million keys would spin for hours.
		idx = tx.sortBitmap(idx)
	} else {
		idx = sortShards(idx)
	}
	tx.idx = idx
	for _, i := range idx {
		tx.st.shards[i].mu.Lock()
		tx.track(i, true)
	}
	tx.set = idx
	if tx.set == nil {
		tx.set = idx[:0:0]
	}
}

// All locks every shard (FLUSHALL, SWAPDB, commands over all keys) and sets
// the time the operations run at.
func (tx *Txn) All(now int64) {
	tx.now = now
	if tx.outer {
		return
	}
	tx.mustBeFree()
	tx.st.LockAll()
	tx.all = true
	tx.track(-1, true)
}

// Release releases what Key, Keys or All took; it does nothing when
// nothing is held or under Hold.
func (tx *Txn) Release() {
	if tx.outer {
		return
	}
	if tx.one >= 0 {
		i := tx.one
		tx.one = -1
		tx.track(i, false)
		tx.st.shards[i].Unlock()
	}
	if tx.set != nil {
		set := tx.set
		tx.set = nil
		for _, i := range set {
			tx.track(i, false)
			tx.st.shards[i].mu.Unlock()
		}
		tx.st.maintain()
	}
	if tx.all {
		tx.all = false
		tx.track(-1, false)
		tx.st.UnlockAll()
	}
}

// Hold locks every shard until Unhold, for a sequence of commands that
// must run as one (EXEC, a script). Whatever Key, Keys or All held is
// released first. Holds nest: a script run inside EXEC holds what EXEC
// holds, and only the outermost Unhold releases.
func (tx *Txn) Hold(now int64) {
	tx.now = now
	if tx.outer {
		tx.depth++
		return
	}
	tx.Release()
	tx.st.LockAll()
	tx.outer = true
	tx.track(-1, true)
}

// Unhold releases what Hold took; it does nothing without Hold.
func (tx *Txn) Unhold() {
	if !tx.outer {
		return
	}
	if tx.depth > 0 {
		tx.depth--
		return
	}
	tx.outer = false
	tx.track(-1, false)
	tx.st.UnlockAll()
}

// Hash returns key's hash, for operations after Keys.
func (tx *Txn) Hash(key []byte) uint64 { return tx.st.hash(key) }

func (tx *Txn) mustBeFree() {
	if tx.one >= 0 || tx.set != nil || tx.all {
		panic("BUG: store.Txn: locks taken twice without Release")
	}
}

// shard returns the shard of hash h, which the Txn must hold.
func (tx *Txn) shard(h uint64) *Shard {
	i := int(h & tx.st.mask)
	if !(tx.outer || tx.all || tx.one == i || tx.holdsSet(i)) {
		panic("BUG: store.Txn: operation on a shard that is not held")
	}
	return &tx.st.shards[i]
}

func (tx *Txn) holdsSet(i int) bool {
	for _, j := range tx.set {
		if j == i {
			return true
		}
		if j > i {
			return false
		}
	}
	return false
}

// sortBitmap turns shard indexes into a sorted set in O(len(idx) + shards),
// in place.
func (tx *Txn) sortBitmap(idx []int) []int {
	n := len(tx.st.shards)
	if cap(tx.seen) < (n+63)/64 {
		tx.seen = make([]uint64, (n+63)/64)
	}
	seen := tx.seen[:(n+63)/64]
	clear(seen)
	for _, i := range idx {
		seen[i>>6] |= 1 << (uint(i) & 63)
	}
	out := idx[:0]
	for w, bits := range seen {
		for b := 0; bits != 0; b++ {
			if bits&1 != 0 {
				out = append(out, w<<6|b)
			}
			bits >>= 1
		}
	}
	return out
}

// sortShards turns a short list of shard indexes into a sorted set, in
// place (an insertion sort: the lists are short).
func sortShards(idx []int) []int {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && idx[j] < idx[j-1]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	out := idx[:0]
	for _, v := range idx {
		if len(out) == 0 || v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// Operations on keys. Each takes the key's hash (from Key or Hash) and runs
// at the Txn's time; the key's shard must be held.

// Lookup returns the live entry of key in db (see Shard.LookupLocked).
func (tx *Txn) Lookup(db int, key []byte, h uint64, flags int) (Entry, bool) {
	return tx.shard(h).LookupLocked(db, key, h, tx.now, flags)
}

// Exists reports whether key is live in db.
func (tx *Txn) Exists(db int, key []byte, h uint64) bool {
	return tx.shard(h).ExistsLocked(db, key, h, tx.now)
}

// Set stores val under key in db with m.
func (tx *Txn) Set(db int, key []byte, h uint64, val []byte, m Meta) error {
	return tx.shard(h).SetLocked(db, key, h, val, m, tx.now)
}

// SetMeta replaces key's metadata, keeping its value.
func (tx *Txn) SetMeta(db int, key []byte, h uint64, m Meta) bool {
	return tx.shard(h).SetMetaLocked(db, key, h, m, tx.now)
}

// Delete removes key for reason.
func (tx *Txn) Delete(db int, key []byte, h uint64, reason Reason) bool {
	return tx.shard(h).DeleteLocked(db, key, h, tx.now, reason)
}

// ValueModified reports an in-place change of key's value.
func (tx *Txn) ValueModified(db int, key []byte, h uint64) bool {
	return tx.shard(h).ValueModifiedLocked(db, key, h, tx.now)
}

// SetFieldDeadline sets when key's earliest field expires.
func (tx *Txn) SetFieldDeadline(db int, key []byte, h uint64, deadline int64) bool {
	return tx.shard(h).SetFieldDeadlineLocked(db, key, h, deadline, tx.now)
}

// Usage returns the bytes key holds.
func (tx *Txn) Usage(db int, key []byte, h uint64) (int64, bool) {
	return tx.shard(h).UsageLocked(db, key, h, tx.now)
}

// Freq returns key's access frequency (LFU policies).
func (tx *Txn) Freq(db int, key []byte, h uint64) (freq int, tracked, found bool) {
	return tx.shard(h).FreqLocked(db, key, h, tx.now)
}

// Idle returns how long key has been idle (LRU policies).
func (tx *Txn) Idle(db int, key []byte, h uint64) (idleMs int64, tracked, found bool) {
	return tx.shard(h).IdleLocked(db, key, h, tx.now)
}

// Watch registers w on key (WATCH).
func (tx *Txn) Watch(db int, key []byte, h uint64, w *Watch) (reg string, added bool) {
	return tx.shard(h).WatchLocked(db, key, w)
}

// Unwatch drops a registration made by Watch; h is the hash of
// WatchedKey(reg).
func (tx *Txn) Unwatch(reg string, h uint64, w *Watch) {
	tx.shard(h).UnwatchLocked(reg, w)
}

// Operations on every shard: they need All or Hold.

func (tx *Txn) mustHoldAll() {
	if !tx.Held() {
		panic("BUG: store.Txn: operation on every shard without All or Hold")
	}
}

// FlushDB removes every entry of db and returns how many.
func (tx *Txn) FlushDB(db int) int { tx.mustHoldAll(); return tx.st.FlushDBLocked(db) }

// FlushAll removes every entry and returns how many.
func (tx *Txn) FlushAll() int { tx.mustHoldAll(); return tx.st.FlushAllLocked() }

// SwapDB swaps two databases.
func (tx *Txn) SwapDB(a, b int) { tx.mustHoldAll(); tx.st.SwapDBLocked(a, b) }

// Walks: under All or Hold they run inside the held locks; otherwise they
// lock each shard in turn as the Store's own methods do.

// Scan is Store.Scan within the Txn.
func (tx *Txn) Scan(db int, cursor uint64, count int, fn func(key []byte, typ uint8)) uint64 {
	return tx.st.scan(db, cursor, count, tx.Held(), fn)
}

// RandomKey is Store.RandomKey within the Txn.
func (tx *Txn) RandomKey(db int, dst []byte, rnd uint64) ([]byte, bool) {
	return tx.st.randomKey(db, dst, rnd, tx.Held())
}

// DBSize is Store.DBSize within the Txn.
func (tx *Txn) DBSize(db int) int64 { return tx.st.dbSize(db, tx.Held()) }

// Stats is Store.Stats within the Txn.
func (tx *Txn) Stats() Stats { return tx.st.stats(tx.Held()) }
