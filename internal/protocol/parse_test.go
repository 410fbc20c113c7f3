package protocol

import (
	"bytes"
	"reflect"
	"strconv"
	"testing"

	"github.com/tidwall/redcon"
)

// feed parses input delivered in chunks of the given size and returns the
// commands (copied) and the first error.
func feed(input []byte, chunk int, maxBulk int64) ([][]string, error) {
	p := parser{buf: make([]byte, 16), maxBulk: maxBulk, maxQuery: 1 << 30}
	var out [][]string
	for off := 0; ; {
		for {
			args, ok, err := p.next()
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			if args == nil {
				continue
			}
			cmd := make([]string, len(args))
			for i, a := range args {
				cmd[i] = string(a)
			}
			out = append(out, cmd)
		}
		if off >= len(input) {
			return out, nil
		}
		if err := p.makeRoom(); err != nil {
			return out, err
		}
		n := copy(p.buf[p.w:], input[off:min(off+chunk, len(input))])
		p.w += n
		off += n
	}
}

func encode(cmds [][]string) []byte {
	var b []byte
	for _, c := range cmds {
		b = redcon.AppendArray(b, len(c))
		for _, a := range c {
			b = redcon.AppendBulkString(b, a)
		}
	}
	return b
}

func TestParserMultibulk(t *testing.T) {
	cmds := [][]string{{"SET", "k", "v"}, {"GET", "k"}, {"SET", "big", string(bytes.Repeat([]byte("x"), 100000))}, {"PING"}}
	in := encode(cmds)
	for _, chunk := range []int{1, 3, 7, 64, 4096, len(in)} {
		got, err := feed(in, chunk, 512<<20)
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if !reflect.DeepEqual(got, cmds) {
			t.Fatalf("chunk %d: got %d commands", chunk, len(got))
		}
	}
}

func TestParserInline(t *testing.T) {
	in := "PING\r\nset k \"hello world\"\r\n   \r\n"
	got, err := feed([]byte(in), 2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"PING"}, {"set", "k", "hello world"}}
	if !reflect.DeepEqual(got[:2], want) {
		t.Fatalf("got %q", got)
	}
	// 'it''s' is unbalanced in Redis's grammar
	if _, err := feed([]byte("set k 'it''s'\r\n"), 100, 1<<20); err != errUnbalanced {
		t.Fatalf("want unbalanced quotes, got %v", err)
	}
	got, err = feed([]byte("get \"\\x41\\n\"\r\n"), 100, 1<<20)
	if err != nil || got[0][1] != "A\n" {
		t.Fatalf("escapes: %q %v", got, err)
	}
}

func TestParserErrors(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"*x\r\n", "ERR Protocol error: invalid multibulk length"},
		{"*1048577\r\n", "ERR Protocol error: invalid multibulk length"},
		{"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"},
		{"*1\r\n$2000000\r\n", "ERR Protocol error: invalid bulk length"},
		{"*1\r\n:5\r\n", "ERR Protocol error: expected '$', got ':'"},
		{"*1\r\n$3\r\nabcd\r\n", "ERR Protocol error: invalid bulk length"},
		{"*1\r\n$3\nabc\r\n", "ERR Protocol error: invalid bulk length"},
		{"\"unbalanced\r\n", "ERR Protocol error: unbalanced quotes in request"},
		{string(bytes.Repeat([]byte("a"), 70000)), "ERR Protocol error: too big inline request"},
		{"*1\r\n$" + string(bytes.Repeat([]byte("1"), 70000)), "ERR Protocol error: too big bulk count string"},
	}
	for _, c := range cases {
		_, err := feed([]byte(c.in), 4096, 1<<20)
		if err == nil || err.Error() != c.want {
			t.Errorf("%.30q: got %v, want %q", c.in, err, c.want)
		}
	}
	// Empty multibulks are skipped, as Redis does.
	got, err := feed([]byte("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"), 3, 1<<20)
	if err != nil || len(got) != 1 {
		t.Fatalf("%q %v", got, err)
	}
}

func TestParserQueryLimit(t *testing.T) {
	p := parser{buf: make([]byte, 16), maxBulk: 1 << 30, maxQuery: 1 << 16}
	in := []byte("*2\r\n$3\r\nSET\r\n$100000\r\n")
	p.w = copy(p.buf, in[:16])
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		if _, _, err = p.next(); err != nil {
			break
		}
		if err = p.makeRoom(); err != nil {
			break
		}
		p.w = len(p.buf) // pretend the client keeps sending
	}
	if err != errQueryBufLimit {
		t.Fatalf("got %v, want query buffer limit", err)
	}
}

func TestParserDoesNotAllocate(t *testing.T) {
	in := encode([][]string{{"GET", "key:0001"}})
	p := parser{buf: make([]byte, 4096), maxBulk: 1 << 20, maxQuery: 1 << 20}
	n := testing.AllocsPerRun(1000, func() {
		p.r, p.w = 0, copy(p.buf, in)
		if _, ok, err := p.next(); !ok || err != nil {
			t.Fatal("parse failed")
		}
	})
	if n != 0 {
		t.Fatalf("parser allocates %.1f times per command", n)
	}
}

func FuzzParser(f *testing.F) {
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), uint8(3))
	f.Add([]byte("PING\r\nset a \"b c\"\r\n"), uint8(1))
	f.Add([]byte("*1\r\n$-1\r\n"), uint8(5))
	f.Add([]byte("*0\r\n*2\r\n$1\r\na\r\n$0\r\n\r\n"), uint8(2))
	f.Add([]byte("'a\\'b' \"\\x4g\""), uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		c := int(chunk)%64 + 1
		a, errA := feed(in, c, 1<<16)
		b, errB := feed(in, len(in)+1, 1<<16)
		// Chunking must not change what is parsed.
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("chunked %q %v vs whole %q %v", a, errA, b, errB)
		}
		// Valid commands re-encode and parse back identically.
		if len(a) > 0 {
			again, err := feed(encode(a), c, 1<<16)
			if err != nil || !reflect.DeepEqual(again, a) {
				t.Fatalf("round trip: %q -> %q (%v)", a, again, err)
			}
		}
	})
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "9223372036854775807", "-9223372036854775808", "01", "+1", " 1", "1a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseInt([]byte(s))
		std, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && strconv.FormatInt(std, 10) == s
		if ok != canonical || (ok && n != std) {
			t.Fatalf("parseInt(%q) = %d,%v; strconv %d,%v", s, n, ok, std, err)
		}
	})
}
