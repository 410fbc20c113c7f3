package origin

import (
	"errors"
	"strconv"
	"time"
)

// ReadThrough reports whether misses of the route load from its origin.
func (r *Route) ReadThrough() bool { return r.readThrough }

// WriteThrough reports whether SET/DEL write the origin first.
func (r *Route) WriteThrough() bool { return r.writeThrough }

// WriteBehind reports whether SET/DEL are journaled for the origin.
func (r *Route) WriteBehind() bool { return r.writeBehind }

// OpStats are one operation's counters.
type OpStats struct {
	Calls      uint64
	Errors     map[string]uint64 // by kind
	Buckets    []uint64          // cumulative counts per LatencyBuckets, then +Inf
	SumSeconds float64
}

// Stats is a snapshot of one origin.
type Stats struct {
	Name        string
	Kind        string
	Breaker     int // BreakerClosed, BreakerOpen, BreakerHalfOpen
	BreakerOpen uint64
	Ops         [numOps]OpStats
	Coalesced   uint64
	Negative    uint64
	Refreshes   uint64
	RefreshErrs uint64
	Warmed      uint64
	WarmState   string
	Notifies    uint64
	Listening   bool
	Reconnects  uint64

	WriteBehind     bool
	QueueDepth      int
	OldestSeconds   float64
	LagSeconds      float64
	JournalBytes    int64
	DeadLetters     int
	Flushed         uint64
	CoalescedWrites uint64
	Batches         uint64
	Retries         uint64
}

// BreakerName names a breaker state.
func BreakerName(s int) string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "closed"
}

// Stats returns a snapshot of the origin's counters.
func (o *Origin) Stats() Stats {
	s := Stats{Name: o.Name, Kind: o.spec.Kind, Breaker: o.br.get(), BreakerOpen: o.br.opened.Load(),
		Coalesced: o.coalesced.Load(), Negative: o.negative.Load(), Refreshes: o.refreshes.Load(),
		RefreshErrs: o.refreshErr.Load(), Warmed: o.warmed.Load(), WarmState: o.warmState.Load().(string),
		Notifies: o.notifies.Load(), Listening: o.listening.Load(), Reconnects: o.gaps.Load()}
	for i := range o.ops {
		op := &o.ops[i]
		st := OpStats{Calls: op.calls.Load(), Errors: map[string]uint64{}, SumSeconds: time.Duration(op.sumNano.Load()).Seconds()}
		var cum uint64
		for b := range op.buckets {
			cum += op.buckets[b].Load()
			st.Buckets = append(st.Buckets, cum)
		}
		op.errs.Range(func(k, v any) bool {
			st.Errors[k.(string)] = v.(interface{ Load() uint64 }).Load()
			return true
		})
		s.Ops[i] = st
	}
	if wb := o.wb; wb != nil {
		s.WriteBehind = true
		now := time.Now()
		s.OldestSeconds = wb.oldest(now).Seconds()
		s.JournalBytes = wb.j.size()
		wb.mu.Lock()
		s.QueueDepth = len(wb.pend)
		s.DeadLetters = len(wb.dead)
		s.Flushed, s.CoalescedWrites, s.Batches, s.Retries = wb.stats.flushed, wb.stats.coalesced, wb.stats.batches, wb.stats.retries
		s.LagSeconds = time.Duration(wb.stats.lagNanos).Seconds()
		wb.mu.Unlock()
	}
	return s
}

// Fields lists the snapshot as name/value pairs (ORIGIN STATUS, INFO).
func (s Stats) Fields() [][2]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	out := [][2]string{
		{"kind", s.Kind},
		{"breaker", BreakerName(s.Breaker)},
		{"breaker_opened", u(s.BreakerOpen)},
	}
	for i, op := range s.Ops {
		var errs uint64
		for _, n := range op.Errors {
			errs += n
		}
		out = append(out, [2]string{OpNames[i] + "_calls", u(op.Calls)}, [2]string{OpNames[i] + "_errors", u(errs)})
	}
	out = append(out,
		[2]string{"coalesced_waiters", u(s.Coalesced)},
		[2]string{"negative_cached", u(s.Negative)},
		[2]string{"refreshes", u(s.Refreshes)},
		[2]string{"refresh_errors", u(s.RefreshErrs)},
		[2]string{"warm_state", s.WarmState},
		[2]string{"warmed_keys", u(s.Warmed)},
		[2]string{"notifications", u(s.Notifies)},
		[2]string{"listening", strconv.FormatBool(s.Listening)},
	)
	if s.WriteBehind {
		out = append(out,
			[2]string{"wb_queue_depth", strconv.Itoa(s.QueueDepth)},
			[2]string{"wb_oldest_seconds", f(s.OldestSeconds)},
			[2]string{"wb_lag_seconds", f(s.LagSeconds)},
			[2]string{"wb_journal_bytes", strconv.FormatInt(s.JournalBytes, 10)},
			[2]string{"wb_flushed", u(s.Flushed)},
			[2]string{"wb_coalesced", u(s.CoalescedWrites)},
			[2]string{"wb_batches", u(s.Batches)},
			[2]string{"wb_retries", u(s.Retries)},
			[2]string{"wb_dead_letters", strconv.Itoa(s.DeadLetters)},
		)
	}
	return out
}

// DeadLetters lists the writes the origin refused max_attempts times.
func (o *Origin) DeadLetters() ([]DeadLetter, error) {
	if o.wb == nil {
		return nil, errNoWriteBehind
	}
	return o.wb.deadLetters(), nil
}

// RetryDeadLetters journals the dead letters of key ("" = all) again and
// returns how many.
func (o *Origin) RetryDeadLetters(key string) (int, error) {
	if o.wb == nil {
		return 0, errors.New("ERR " + errNoWriteBehind.Error())
	}
	dl := o.wb.takeDead(key)
	for i, d := range dl {
		if _, err := o.wb.enqueueLocked(d.Del, []byte(d.Key), d.Value); err != nil {
			o.wb.mu.Lock()
			o.wb.dead = append(o.wb.dead, dl[i:]...)
			o.wb.saveDeadLocked()
			o.wb.mu.Unlock()
			return i, &Error{Origin: o.Name, Err: err}
		}
	}
	if len(dl) > 0 {
		if err := o.wb.j.sync(o.wb.j.last(), o.wb.j.policy != fsyncNo); err != nil {
			return len(dl), &Error{Origin: o.Name, Err: err}
		}
	}
	return len(dl), nil
}

// DropDeadLetters forgets the dead letters of key ("" = all).
func (o *Origin) DropDeadLetters(key string) (int, error) {
	if o.wb == nil {
		return 0, errors.New("ERR " + errNoWriteBehind.Error())
	}
	return len(o.wb.takeDead(key)), nil
}
