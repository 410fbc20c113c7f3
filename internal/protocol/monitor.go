package protocol

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/splitargs"
)

// MONITOR streams every command the server runs to the monitoring clients
// as status lines, in Redis's format:
//
//	+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"
//
// Admin commands and commands flagged skip_monitor are not shown;
// passwords (AUTH, HELLO ... AUTH, ACL SETUSER rules, CONFIG SET
// requirepass) are replaced by "(redacted)" as in the slow log. Lines are
// pushes (push.go), so a slow monitor never stalls the commands it watches.
type monitors struct {
	mu  sync.RWMutex
	set map[*Client]struct{}
	n   atomic.Int64
}

func cmdMonitor(c *Client, args [][]byte) {
	m := &c.srv.monitors
	m.mu.Lock()
	if m.set == nil {
		m.set = make(map[*Client]struct{})
	}
	if _, ok := m.set[c]; !ok {
		m.set[c] = struct{}{}
		m.n.Add(1)
	}
	m.mu.Unlock()
	c.addOK()
}

// stopMonitor removes c from the monitors (RESET, disconnect).
func (c *Client) stopMonitor() {
	m := &c.srv.monitors
	if m.n.Load() == 0 {
		return
	}
	m.mu.Lock()
	if _, ok := m.set[c]; ok {
		delete(m.set, c)
		m.n.Add(-1)
	}
	m.mu.Unlock()
}

// feedMonitors sends one command to the monitors (server.call).
func (s *Server) feedMonitors(c *Client, cmd *Command, args [][]byte, at time.Time) {
	if cmd.Flags&(FlagAdmin|FlagSkipMonitor) != 0 {
		return
	}
	args = s.slowlogArgs(cmd, args)
	b := make([]byte, 0, 64)
	b = append(b, '+')
	us := at.UnixMicro()
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := strconv.AppendInt(nil, us%1e6+1e6, 10)
	b = append(b, frac[1:]...)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(c.db), 10)
	b = append(b, ' ')
	b = append(b, c.addr...)
	b = append(b, ']')
	for _, a := range args {
		b = append(b, ' ')
		b = splitargs.AppendRepr(b, a)
	}
	b = append(b, '\r', '\n')
	m := &s.monitors
	m.mu.RLock()
	for mc := range m.set {
		mc.push(b)
	}
	m.mu.RUnlock()
}
