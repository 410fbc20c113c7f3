package protocol

import (
	"strconv"

	"github.com/cachesrv/cachesrv/internal/store"
)

// Keyspace notifications (notify-keyspace-events), Redis 7 channel names
// and event names: __keyspace@<db>__:<key> carries the event,
// __keyevent@<db>__:<event> carries the key. Events are derived from the
// store's hooks (under the shard lock; publishing only queues pushes) and
// the command holding the shard's lock. Classes: g (del, expire, persist,
// rename_from/to, move_from/to, copy_to), $ (set, incrby, incrbyfloat,
// append, setrange), x (expired), e (evicted), n (new), and cachesrv's own
// i (invalidated / softinvalidated, sent for each live key of the tags an
// INVALIDATE or SOFTINVALIDATE names). l h s z (list, hash, set and sorted set
// events: notify_coll.go), m (keymiss: every read of a missing key that
// counts in keyspace_misses, through store.ObserveMisses). t d are accepted
// (cachesrv has no streams).

const (
	nfKeyspace uint32 = 1 << iota
	nfKeyevent
	nfGeneric
	nfString
	nfExpired
	nfEvicted
	nfNew
	nfInvalidated
	nfList // l, h, s, z: collection events (notify_coll.go)
	nfHash
	nfSet
	nfZSet
	nfKeyMiss
)

// SetNotifyKeyspaceEvents applies notify-keyspace-events (the canonical
// form from config.CanonicalKeyspaceEvents).
func (s *Server) SetNotifyKeyspaceEvents(flags string) {
	var m uint32
	for i := 0; i < len(flags); i++ {
		switch flags[i] {
		case 'K':
			m |= nfKeyspace
		case 'E':
			m |= nfKeyevent
		case 'A':
			m |= nfGeneric | nfString | nfExpired | nfEvicted | nfList | nfHash | nfSet | nfZSet
		case 'l':
			m |= nfList
		case 'h':
			m |= nfHash
		case 's':
			m |= nfSet
		case 'z':
			m |= nfZSet
		case 'g':
			m |= nfGeneric
		case '$':
			m |= nfString
		case 'x':
			m |= nfExpired
		case 'e':
			m |= nfEvicted
		case 'n':
			m |= nfNew
		case 'i':
			m |= nfInvalidated
		case 'm':
			m |= nfKeyMiss
		}
	}
	if m&(nfKeyspace|nfKeyevent) == 0 {
		m = 0 // no channel: nothing to send, as in Redis
	}
	s.notify.Store(m)
	if s.st != nil {
		if m&nfKeyMiss != 0 {
			s.st.ObserveMisses(func(db int, key []byte) { s.notifyEvent(nfKeyMiss, "keymiss", db, key) })
		} else {
			s.st.ObserveMisses(nil)
		}
	}
}

// notifyEvent publishes one event if its class is enabled.
func (s *Server) notifyEvent(class uint32, event string, db int, key []byte) {
	m := s.notify.Load()
	if m&class == 0 {
		return
	}
	var ch []byte
	if m&nfKeyspace != 0 {
		ch = append(ch, "__keyspace@"...)
		ch = strconv.AppendInt(ch, int64(db), 10)
		ch = append(ch, "__:"...)
		ch = append(ch, key...)
		s.publish(ch, []byte(event))
	}
	if m&nfKeyevent != 0 {
		ch = append(ch[:0], "__keyevent@"...)
		ch = strconv.AppendInt(ch, int64(db), 10)
		ch = append(ch, "__:"...)
		ch = append(ch, event...)
		s.publish(ch, key)
	}
}

// notifyChanged derives the events of a write (store hook).
func (s *Server) notifyChanged(cmd *Command, db int, key []byte, isNew bool, m *store.Meta) {
	if cmd == nil {
		return
	}
	if isNew {
		s.notifyEvent(nfNew, "new", db, key)
	}
	switch cmd.FullName() {
	case "set", "setnx", "getset", "mset", "msetnx", "tagset", "cache.fill", "cache.notfound":
		s.notifyEvent(nfString, "set", db, key)
		if cmd.Name == "set" && m.Deadline != 0 {
			s.notifyEvent(nfGeneric, "expire", db, key)
		}
	case "setex", "psetex":
		s.notifyEvent(nfString, "set", db, key)
		s.notifyEvent(nfGeneric, "expire", db, key)
	case "incr", "decr", "incrby", "decrby":
		s.notifyEvent(nfString, "incrby", db, key)
	case "incrbyfloat":
		s.notifyEvent(nfString, "incrbyfloat", db, key)
	case "append":
		s.notifyEvent(nfString, "append", db, key)
	case "setrange":
		s.notifyEvent(nfString, "setrange", db, key)
	case "expire", "pexpire", "expireat", "pexpireat":
		s.notifyEvent(nfGeneric, "expire", db, key)
	case "persist":
		s.notifyEvent(nfGeneric, "persist", db, key)
	case "getex":
		if m.Deadline != 0 {
			s.notifyEvent(nfGeneric, "expire", db, key)
		} else {
			s.notifyEvent(nfGeneric, "persist", db, key)
		}
	case "rename", "renamenx":
		s.notifyEvent(nfGeneric, "rename_to", db, key)
	case "copy":
		s.notifyEvent(nfGeneric, "copy_to", db, key)
	case "move":
		s.notifyEvent(nfGeneric, "move_to", db, key)
	default:
		if class, event, ok := collEvent(cmd.Name); ok {
			s.notifyEvent(class, event, db, key)
		}
	}
}

// notifyRemoved derives the events of a removal (store hook).
func (s *Server) notifyRemoved(cmd *Command, db int, key []byte, r store.Reason) {
	switch r {
	case store.Expired:
		s.notifyEvent(nfExpired, "expired", db, key)
		return
	case store.Evicted:
		s.notifyEvent(nfEvicted, "evicted", db, key)
		return
	case store.Deleted:
	default:
		return
	}
	if cmd == nil {
		return
	}
	switch cmd.FullName() {
	case "del", "unlink", "getdel", "expire", "pexpire", "expireat", "pexpireat", "getex", "set":
		s.notifyEvent(nfGeneric, "del", db, key)
	case "rename", "renamenx":
		s.notifyEvent(nfGeneric, "rename_from", db, key)
	case "move":
		s.notifyEvent(nfGeneric, "move_from", db, key)
	}
}
