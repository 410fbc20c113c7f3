package store

// WalkEntry is one live entry visited by Walk. Key, Value and Meta.Tags
// alias the store's memory and are valid only during the callback.
type WalkEntry struct {
	DB    int // logical database
	Key   []byte
	Value []byte
	Meta
	// Freq is the eviction policy's frequency estimate (OBJECT FREQ), or
	// -1 when the policy does not track one.
	Freq int
}

// Walk visits every live entry of every database for a snapshot, shard by
// shard, without stopping the world: it holds one shard's lock for at most
// batch entries, calls visit for each of them under that lock (visit must
// only copy what it needs and must not use the store), then releases the
// lock and calls flush, where the caller may do slow work such as writing
// to disk. An error from flush ends the walk.
//
// What a walk guarantees (the cut is per key, not global): an entry that
// exists for the whole walk is visited exactly once, with the value it had
// when its shard batch was visited (entry ids never move, so the cursor
// neither skips nor repeats them). An entry created during the walk may or
// may not be visited; one deleted during the walk may still be visited if
// its batch came first. Expired and invalidated entries are not visited.
func (st *Store) Walk(batch int, visit func(e *WalkEntry), flush func() error) error {
	if batch < 1 {
		batch = 1024
	}
	var e WalkEntry
	var live []uint32
	pol := &st.pol
	for i := range st.shards {
		sh := &st.shards[i]
		id := uint32(0)
		for {
			sh.Lock()
			now := st.NowMs()
			sh.nowMs = now
			// Lazy expiry first: a removal may need the policy's lock.
			live = live[:0]
			n := 0
			for int(id) < len(sh.refs) && n < batch {
				r := sh.refs[id]
				cur := id
				id++
				if r == refFree {
					continue
				}
				n++
				if sh.aliveLocked(cur, sh.slabs.get(r), now) {
					live = append(live, cur)
				}
			}
			// Then the policy's lock once per batch, for the frequency
			// hints (lock order: shard, then policy, as OBJECT FREQ).
			pol.mu.Lock()
			st.drainShardPolLocked(i)
			pol.now = now
			loc := pol.local[i]
			for _, cur := range live {
				rec := sh.rec(cur)
				e.DB = st.logical(recDB(rec))
				e.Key = recKey(rec)
				e.Value = recValue(rec)
				e.Meta = recMeta(rec)
				e.Freq = -1
				if int(cur) < len(loc) && loc[cur] != 0 {
					if f, ok := pol.p.Freq(loc[cur] - 1); ok {
						e.Freq = f
					}
				}
				visit(&e)
			}
			pol.mu.Unlock()
			done := int(id) >= len(sh.refs)
			sh.Unlock()
			if err := flush(); err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	return nil
}
