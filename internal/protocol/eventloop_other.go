//go:build !linux

package protocol

import "net"

// Event loops need epoll; elsewhere every connection has a goroutine.

type loopGroup struct{}

type evLoop struct{}

func rawWrite(fd int, b []byte) (int, error) { return 0, errLoopOwned }
func rawClose(fd int) error                  { return nil }
func rawShutdown(fd int)                     {}

func (s *Server) loopWrap(nc net.Conn) net.Conn { return nc }
func (s *Server) loopAdd(c *Client) bool        { return false }
func (c *Client) loopAttention() bool           { return false }
func (s *Server) wakeLoops()                    {}

// LoopStats returns the event loops' counters (none off Linux).
func (s *Server) LoopStats() LoopStats { return LoopStats{} }
