package protocol

import (
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
)

// wireStat is what CLIENT LIST shows of a connection's buffers and state.
// The connection goroutine publishes it before each read (publishStat);
// other goroutines read it without touching the connection's own fields.
type wireStat struct {
	qbuf, qbufFree, totMem, obl atomic.Int64
	subs, psubs, multi          atomic.Int64
	flags                       atomic.Uint32
}

const (
	statPubSub   uint32 = 1 << iota // P: subscribed to a channel or pattern
	statMulti                       // x: in MULTI
	statTracking                    // t: CLIENT TRACKING on
)

// publishStat copies the connection's buffer sizes and state to c.stat.
// It runs on the connection goroutine, once per read.
func (c *Client) publishStat() {
	s := &c.stat
	s.qbuf.Store(int64(c.p.w - c.p.r))
	s.qbufFree.Store(int64(len(c.p.buf) - c.p.w))
	s.totMem.Store(c.bufAcct)
	s.obl.Store(int64(len(c.out)))
	var subs, psubs int64
	if c.ps != nil {
		subs, psubs = int64(len(c.ps.channels)), int64(len(c.ps.patterns))
	}
	s.subs.Store(subs)
	s.psubs.Store(psubs)
	multi := int64(-1)
	var f uint32
	if c.multi {
		multi = int64(len(c.queued))
		f |= statMulti
	}
	s.multi.Store(multi)
	if subs+psubs > 0 {
		f |= statPubSub
	}
	if c.trk != nil {
		f |= statTracking
	}
	s.flags.Store(f)
}

// flagString is CLIENT LIST's flags field.
func (s *wireStat) flagString() string {
	f := s.flags.Load()
	if f == 0 {
		return "N"
	}
	var b strings.Builder
	if f&statPubSub != 0 {
		b.WriteByte('P')
	}
	if f&statTracking != 0 {
		b.WriteByte('t')
	}
	if f&statMulti != 0 {
		b.WriteByte('x')
	}
	return b.String()
}

// connFD returns the file descriptor under nc (through TLS), or -1.
func connFD(nc net.Conn) int64 {
	if lc, ok := nc.(*loopConn); ok {
		return int64(lc.fd)
	}
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := int64(-1)
	if raw.Control(func(u uintptr) { fd = int64(u) }) != nil {
		return -1
	}
	return fd
}
