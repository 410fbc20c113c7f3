package protocol

import (
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyBuckets is the number of latency histogram buckets; bucket i
// counts calls that took less than 2^i microseconds (the last one is +Inf).
const LatencyBuckets = 26

// stripes spread per-command counters so two cores running the same command
// rarely write the same cache line.
const stripes = 4

type cmdStat struct {
	calls, usec, failed, rejected atomic.Uint64
	hist                          [LatencyBuckets]atomic.Uint64
	_                             [32]byte
}

// Stats are the front end's counters. They are counted where the work
// happens and summed when read.
type Stats struct {
	cmds [stripes][]cmdStat

	accepted, rejected atomic.Int64
	netIn, netOut      atomic.Int64
	panics             atomic.Int64
	queryLimitClosed   atomic.Int64

	errMu  sync.Mutex
	errors map[string]uint64
}

func (s *Stats) init(n int) {
	for i := range s.cmds {
		s.cmds[i] = make([]cmdStat, n)
	}
	s.errors = make(map[string]uint64)
}

func (s *Stats) countCall(id int, client int64, d time.Duration, failed, rejected bool) {
	st := &s.cmds[client&(stripes-1)][id]
	if rejected {
		st.rejected.Add(1)
		return
	}
	us := uint64(d.Microseconds())
	st.calls.Add(1)
	st.usec.Add(us)
	if failed {
		st.failed.Add(1)
	}
	b := bits.Len64(us)
	if b >= LatencyBuckets {
		b = LatencyBuckets - 1
	}
	st.hist[b].Add(1)
}

// countError counts an error reply by its first word (INFO errorstats).
func (s *Stats) countError(msg string) {
	prefix := msg
	if i := strings.IndexByte(msg, ' '); i >= 0 {
		prefix = msg[:i]
	}
	if len(prefix) > 32 {
		prefix = prefix[:32]
	}
	s.errMu.Lock()
	if _, ok := s.errors[prefix]; ok || len(s.errors) < 128 {
		s.errors[prefix]++
	}
	s.errMu.Unlock()
}

// CommandStats is the summed view of one command's counters.
type CommandStats struct {
	Name                          string
	Calls, Usec, Failed, Rejected uint64
	// Hist[i] counts calls under 2^i µs (not cumulative).
	Hist [LatencyBuckets]uint64
}

// ServerStats is a snapshot for INFO and metrics.
type ServerStats struct {
	Commands           []CommandStats // only commands called at least once
	Errors             map[string]uint64
	Connections        int
	Accepted, Rejected int64
	NetIn, NetOut      int64
	Panics             int64
	QueryLimitClosed   int64
	UptimeSeconds      int64
	TotalCommands      uint64
	SlowlogLen         int
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() ServerStats { return s.sumStats(true) }

// sumStats sums the counters; hist=false leaves the latency histograms out
// (INFO does not show them, and they are most of the loads).
func (s *Server) sumStats(hist bool) ServerStats {
	out := ServerStats{
		Connections:      s.NumClients(),
		Accepted:         s.stats.accepted.Load(),
		Rejected:         s.stats.rejected.Load(),
		NetIn:            s.stats.netIn.Load(),
		NetOut:           s.stats.netOut.Load(),
		Panics:           s.stats.panics.Load(),
		QueryLimitClosed: s.stats.queryLimitClosed.Load(),
		UptimeSeconds:    int64(time.Since(s.started).Seconds()),
		Errors:           make(map[string]uint64),
		SlowlogLen:       s.slowlog.len(),
	}
	for id, cmd := range s.table.all {
		var cs CommandStats
		for k := range s.stats.cmds {
			st := &s.stats.cmds[k][id]
			cs.Calls += st.calls.Load()
			cs.Usec += st.usec.Load()
			cs.Failed += st.failed.Load()
			cs.Rejected += st.rejected.Load()
			if hist {
				for b := range cs.Hist {
					cs.Hist[b] += st.hist[b].Load()
				}
			}
		}
		out.TotalCommands += cs.Calls
		if cs.Calls > 0 || cs.Rejected > 0 {
			cs.Name = cmd.FullName()
			out.Commands = append(out.Commands, cs)
		}
	}
	sort.Slice(out.Commands, func(i, j int) bool { return out.Commands[i].Name < out.Commands[j].Name })
	s.stats.errMu.Lock()
	for k, v := range s.stats.errors {
		out.Errors[k] = v
	}
	s.stats.errMu.Unlock()
	return out
}

// ResetStats zeroes the command and error counters (CONFIG RESETSTAT).
func (s *Server) ResetStats() {
	for k := range s.stats.cmds {
		for i := range s.stats.cmds[k] {
			st := &s.stats.cmds[k][i]
			st.calls.Store(0)
			st.usec.Store(0)
			st.failed.Store(0)
			st.rejected.Store(0)
			for b := range st.hist {
				st.hist[b].Store(0)
			}
		}
	}
	s.stats.errMu.Lock()
	clear(s.stats.errors)
	s.stats.errMu.Unlock()
	s.stats.accepted.Store(0)
	s.stats.rejected.Store(0)
	s.stats.netIn.Store(0)
	s.stats.netOut.Store(0)
}

// slowlog keeps the slowest recent commands (SLOWLOG).
type slowlog struct {
	slower atomic.Int64 // µs; < 0 disables
	maxLen atomic.Int64
	mu     sync.Mutex
	nextID int64
	items  []slowEntry // newest last
}

type slowEntry struct {
	id   int64
	at   int64
	us   int64
	args []string
	addr string
	name string
}

func (l *slowlog) configure(slowerUs int64, n int) {
	l.slower.Store(slowerUs)
	l.maxLen.Store(int64(n))
	l.mu.Lock()
	if over := len(l.items) - n; over > 0 {
		l.items = append(l.items[:0], l.items[over:]...)
	}
	l.mu.Unlock()
}

func (l *slowlog) enabled(us int64) bool {
	t := l.slower.Load()
	return t >= 0 && us >= t
}

func (l *slowlog) add(c *Client, args [][]byte, at time.Time, us int64) {
	e := slowEntry{at: at.Unix(), us: us, addr: c.addr}
	c.info.Lock()
	e.name = c.info.name
	c.info.Unlock()
	// Redis keeps at most 32 arguments, each at most 128 bytes.
	n := len(args)
	if n > 32 {
		n = 31
	}
	for _, a := range args[:n] {
		s := string(a)
		if len(s) > 128 {
			s = s[:128] + "... (" + itoa(int64(len(a)-128)) + " more bytes)"
		}
		e.args = append(e.args, s)
	}
	if len(args) > 32 {
		e.args = append(e.args, "... ("+itoa(int64(len(args)-31))+" more arguments)")
	}
	l.mu.Lock()
	e.id = l.nextID
	l.nextID++
	l.items = append(l.items, e)
	if max := int(l.maxLen.Load()); len(l.items) > max {
		l.items = append(l.items[:0], l.items[len(l.items)-max:]...)
	}
	l.mu.Unlock()
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
