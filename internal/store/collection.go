package store

import (
	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// Active reclaim of expired hash fields (HEXPIRE). A hash whose fields carry
// deadlines is scheduled in its shard's field expiry index (fieldExp) at its
// earliest field deadline; the expiry sweeper (ExpireShard) reaps due hashes:
// it drops the expired fields from the encoding, deletes the hash when none
// is left, and schedules it again at its next field deadline. A schedule
// may outlive its entry (ids are reused): reaping checks the record, so a
// stale schedule costs one look.

// SetFieldDeadlineLocked schedules the live hash at key for field reaping
// at deadline (unix ms; 0 unschedules). It reports whether the key is live.
func (sh *Shard) SetFieldDeadlineLocked(db int, key []byte, h uint64, deadline int64, now int64) bool {
	_, id, _, _, ok := sh.lookup(sh.st.dbmap[db], key, h, now)
	if !ok {
		return false
	}
	if sh.fieldExp == nil {
		sh.fieldExp = expire.NewIndex(now)
	}
	if deadline == 0 {
		sh.fieldExp.Remove(id)
	} else {
		sh.fieldExp.Set(id, deadline)
	}
	return true
}

// reapFieldsLocked reaps up to max hashes with due field deadlines.
func (sh *Shard) reapFieldsLocked(now int64, max int) (int, bool) {
	if sh.fieldExp == nil || sh.fieldExp.Len() == 0 {
		return 0, false
	}
	if sh.reapFn == nil {
		sh.reapFn = sh.reapOne // bound once: no closure per sweep
	}
	return sh.fieldExp.Expired(now, max, sh.reapFn)
}

// reapOne drops the expired fields of the hash with id (if it still is one
// with field deadlines).
func (sh *Shard) reapOne(id uint32, _ int64) {
	now := sh.nowMs
	if int(id) >= len(sh.refs) || sh.refs[id] == refFree {
		return
	}
	rec := sh.rec(id)
	if recType(rec) != TypeHash {
		return
	}
	val := recValue(rec)
	items, flags, err := coll.Decode(val, nil)
	if err != nil || flags&coll.FlagFieldTTL == 0 || len(items)%3 != 0 {
		return
	}
	kept := items[:0]
	next := int64(0)
	for i := 0; i < len(items); i += 3 {
		d := coll.Deadline(items[i+2])
		if d != 0 && d <= now {
			continue
		}
		if d != 0 && (next == 0 || d < next) {
			next = d
		}
		kept = append(kept, items[i], items[i+1], items[i+2])
	}
	pdb := recDB(rec)
	db := sh.st.logical(pdb)
	key := append([]byte(nil), recKey(rec)...)
	h := sh.st.hash(key)
	if len(kept) == len(items) {
		if next != 0 {
			sh.fieldExp.Set(id, next)
		}
		return
	}
	if len(kept) == 0 {
		sh.removeIDLocked(id, Expired, now)
		return
	}
	nv := coll.Encode(make([]byte, 0, len(val)), flags, kept)
	m := recMeta(rec)
	if err := sh.SetLocked(db, key, h, nv, m, now); err != nil {
		return
	}
	if next != 0 {
		sh.fieldExp.Set(id, next)
	}
}

func (sh *Shard) fieldExpBytes() int64 {
	if sh.fieldExp == nil {
		return 0
	}
	return sh.fieldExp.Bytes()
}
