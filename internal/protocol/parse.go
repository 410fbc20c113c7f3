package protocol

import (
	"errors"

	"github.com/cachesrv/cachesrv/internal/bufpool"
	"github.com/cachesrv/cachesrv/internal/splitargs"
)

// Protocol errors, worded as Redis 7 words them. The connection is closed
// after one of these is sent.
var (
	errMultibulkLen  = errors.New("ERR Protocol error: invalid multibulk length")
	errBulkLen       = errors.New("ERR Protocol error: invalid bulk length")
	errInlineTooBig  = errors.New("ERR Protocol error: too big inline request")
	errMbulkCountBig = errors.New("ERR Protocol error: too big mbulk count string")
	errBulkCountBig  = errors.New("ERR Protocol error: too big bulk count string")
	errUnbalanced    = errors.New("ERR Protocol error: unbalanced quotes in request")
	errQueryBufLimit = errors.New("query buffer limit reached")
)

const (
	inlineMax = 64 << 10 // PROTO_INLINE_MAX_SIZE
	maxArgs   = 1024 * 1024
)

// parser splits a connection's input into commands without allocating:
// arguments alias the read buffer and stay valid until the next read. It
// keeps its place inside a partly received multibulk, so a command with
// millions of arguments or a huge bulk arriving in many reads is scanned
// once.
type parser struct {
	buf  []byte
	r, w int // unread data is buf[r:w]

	// State of a multibulk in progress; offsets are relative to r.
	inMulti bool
	argc    int
	pos     int   // next byte to parse, relative to r
	offs    []int // start,end pairs of the arguments parsed so far
	need    int   // bytes the pending bulk needs from r (for buffer growth)

	args [][]byte

	maxBulk  int64
	maxQuery int64

	// bufs, when set, supplies buffers above 32 KiB (a large value's
	// bulk) and takes them back when the buffer grows again or drains, so
	// that every large SET does not leave its read buffers to the
	// collector. Nil: plain allocations.
	bufs *bufpool.Pool
}

func (p *parser) reset() {
	p.inMulti = false
	p.argc = 0
	p.pos = 0
	p.offs = p.offs[:0]
	p.need = 0
}

// next parses one command from the buffer. ok is false when more input is
// needed. A nil-args ok result means an empty command to skip.
func (p *parser) next() (args [][]byte, ok bool, err error) {
	for {
		if p.r == p.w {
			return nil, false, nil
		}
		if !p.inMulti {
			if p.buf[p.r] != '*' {
				return p.inline()
			}
			b := p.buf[p.r:p.w]
			nl := indexNL(b, 1)
			if nl < 0 {
				if len(b) > inlineMax {
					return nil, false, errMbulkCountBig
				}
				return nil, false, nil
			}
			n, valid := atoi(b[1:nl])
			if !valid || n > maxArgs {
				return nil, false, errMultibulkLen
			}
			if n <= 0 {
				p.r += nl + 1
				continue
			}
			p.inMulti = true
			p.argc = int(n)
			p.pos = nl + 1
			p.offs = p.offs[:0]
		}
		b := p.buf[p.r:p.w]
		for len(p.offs)/2 < p.argc {
			if p.pos >= len(b) {
				return nil, false, nil
			}
			if b[p.pos] != '$' {
				return nil, false, errors.New("ERR Protocol error: expected '$', got '" + string(b[p.pos]) + "'")
			}
			nl := indexNL(b, p.pos+1)
			if nl < 0 {
				if len(b)-p.pos > inlineMax {
					return nil, false, errBulkCountBig
				}
				return nil, false, nil
			}
			n, valid := atoi(b[p.pos+1 : nl])
			if !valid || n < 0 || n > p.maxBulk {
				return nil, false, errBulkLen
			}
			start := nl + 1
			end := start + int(n)
			if end+2 > len(b) {
				p.need = end + 2
				return nil, false, nil
			}
			if b[end] != '\r' || b[end+1] != '\n' {
				return nil, false, errBulkLen
			}
			p.offs = append(p.offs, start, end)
			p.pos = end + 2
		}
		p.args = p.args[:0]
		for i := 0; i < len(p.offs); i += 2 {
			p.args = append(p.args, b[p.offs[i]:p.offs[i+1]:p.offs[i+1]])
		}
		p.r += p.pos
		p.reset()
		return p.args, true, nil
	}
}

// inline parses a Redis inline command (space separated, with quotes as
// sdssplitargs handles them).
func (p *parser) inline() ([][]byte, bool, error) {
	b := p.buf[p.r:p.w]
	nl := indexNL(b, 0)
	if nl < 0 {
		if len(b) > inlineMax {
			return nil, false, errInlineTooBig
		}
		return nil, false, nil
	}
	line := b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	p.r += nl + 1
	args, err := splitargs.Split(line, p.args[:0])
	if err != nil {
		return nil, false, errUnbalanced
	}
	p.args = args
	if len(args) == 0 {
		return nil, true, nil
	}
	return args, true, nil
}

// indexNL returns the index of the '\n' ending a "\r\n"-terminated line that
// starts at from, or -1. A lone '\n' also ends a line (Redis accepts it in
// headers only for inline commands; for multibulk headers the preceding
// byte is checked by the caller through atoi failing on '\r' absence).
func indexNL(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// atoi parses a header number terminated by "\r" (b is the header line up
// to, not including, '\n').
func atoi(b []byte) (int64, bool) {
	if len(b) < 2 || b[len(b)-1] != '\r' {
		return 0, false
	}
	b = b[:len(b)-1]
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// compact moves unread data to the front of the buffer, making room for
// more. It grows the buffer when it is full, refusing to grow past the query
// buffer limit.
func (p *parser) makeRoom() error {
	if p.r > 0 {
		n := copy(p.buf, p.buf[p.r:p.w])
		p.r, p.w = 0, n
	}
	// Grow geometrically as bytes arrive, never to a pending bulk's
	// announced length at once: a client that announces a large bulk and
	// sends little holds (and is charged) about what it sent. The last step
	// stops at the announced end instead of overshooting it.
	want := len(p.buf)
	if p.w == len(p.buf) {
		want = len(p.buf) * 2
		if p.need > len(p.buf) && p.need < want {
			want = p.need
		}
	}
	if want > len(p.buf) {
		if int64(want) > p.maxQuery {
			if int64(p.w) >= p.maxQuery {
				return errQueryBufLimit
			}
			want = int(p.maxQuery)
		}
		switch {
		case p.bufs != nil && len(p.buf) > pooledReadBuf:
			p.buf = p.bufs.Grow(p.buf, want)
		case p.bufs != nil && want > pooledReadBuf:
			nb := p.bufs.Get(want)
			copy(nb, p.buf[:p.w])
			p.buf = nb
		default:
			nb := make([]byte, want)
			copy(nb, p.buf[:p.w])
			p.buf = nb
		}
	}
	return nil
}

// pooledReadBuf is the size above which read buffers come from the pool.
const pooledReadBuf = 32 << 10

// putBuf gives the buffer back to the pool when it came from there; the
// caller replaces p.buf.
func (p *parser) putBuf() {
	if p.bufs != nil && len(p.buf) > pooledReadBuf {
		p.bufs.Put(p.buf)
	}
	p.buf = nil
}

// release gives a pooled buffer back when the connection ends.
func (p *parser) release() {
	p.putBuf()
	p.r, p.w = 0, 0
}

// shrink gives a large buffer back once it is drained.
func (p *parser) shrink() {
	if p.r == p.w && len(p.buf) > 64<<10 {
		p.putBuf()
		p.buf = make([]byte, initialReadBuf)
		p.r, p.w = 0, 0
	}
}

const initialReadBuf = 4 << 10
