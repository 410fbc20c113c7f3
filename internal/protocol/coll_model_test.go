package protocol

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/store"
)

// Randomized model tests of the collection commands: operations run on an
// in-process server and on plain Go values, and the whole collection is
// compared after each step. Time is a fake clock read through the client's
// command time (Client.mark), so hash field expiry needs no sleeping.

type collTester struct {
	t   *testing.T
	s   *Server
	c   *Client
	now time.Time
}

func newCollTester(t *testing.T) *collTester {
	st, err := store.New(store.Options{Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Store: st, SlowlogSlower: -1})
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return &collTester{t: t, s: s, c: newClient(s, a), now: time.UnixMilli(1_700_000_000_000)}
}

// do runs a command at the fake time and returns its decoded RESP2 reply.
func (ct *collTester) do(args ...string) any {
	ct.t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	ct.c.out = ct.c.out[:0]
	ct.c.mark = ct.now
	ct.s.execute(ct.c, bs)
	v, rest := parseRESP(string(ct.c.out))
	if rest != "" {
		ct.t.Fatalf("%v: trailing reply bytes %q", args, rest)
	}
	if e, ok := v.(error); ok {
		ct.t.Fatalf("%v: %v", args, e)
	}
	return v
}

// parseRESP decodes one RESP2 reply: int64, string, nil, error or []any.
func parseRESP(s string) (any, string) {
	line, rest, _ := strings.Cut(s, "\r\n")
	switch line[0] {
	case ':':
		n, _ := strconv.ParseInt(line[1:], 10, 64)
		return n, rest
	case '+':
		return line[1:], rest
	case '-':
		return fmt.Errorf("%s", line[1:]), rest
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, rest
		}
		return rest[:n], rest[n+2:]
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, rest
		}
		out := make([]any, n)
		for i := range out {
			out[i], rest = parseRESP(rest)
		}
		return out, rest
	}
	return fmt.Errorf("bad reply %q", s), ""
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestHashModel(t *testing.T) {
	t.Parallel()
	ct := newCollTester(t)
	rng := rand.New(rand.NewPCG(3, 4))
	type fv struct {
		v   string
		exp int64
	}
	model := map[string]fv{}
	field := func() string { return "f" + strconv.Itoa(rng.IntN(12)) }
	live := func() map[string]string {
		out := map[string]string{}
		for f, x := range model {
			if x.exp == 0 || x.exp > ct.now.UnixMilli() {
				out[f] = x.v
			}
		}
		return out
	}
	for op := 0; op < 4000; op++ {
		switch rng.IntN(7) {
		case 0, 1:
			f, v := field(), strconv.Itoa(rng.IntN(1000))
			_, existed := live()[f]
			got := ct.do("hset", "h", f, v)
			if want := map[bool]int64{true: 0, false: 1}[existed]; got != want {
				t.Fatalf("op %d: HSET = %v, want %d", op, got, want)
			}
			model[f] = fv{v: v}
		case 2:
			f := field()
			_, existed := live()[f]
			got := ct.do("hdel", "h", f)
			if want := map[bool]int64{true: 1, false: 0}[existed]; got != want {
				t.Fatalf("op %d: HDEL = %v, want %d", op, got, want)
			}
			delete(model, f)
		case 3:
			f := field()
			ms := int64(rng.IntN(50))
			_, existed := live()[f]
			got := ct.do("hpexpire", "h", strconv.FormatInt(ms, 10), "fields", "1", f).([]any)[0]
			switch {
			case !existed:
				if got != int64(-2) {
					t.Fatalf("op %d: HPEXPIRE missing field = %v", op, got)
				}
			case ms == 0:
				if got != int64(2) {
					t.Fatalf("op %d: HPEXPIRE 0 = %v", op, got)
				}
				delete(model, f)
			default:
				if got != int64(1) {
					t.Fatalf("op %d: HPEXPIRE = %v", op, got)
				}
				x := model[f]
				x.exp = ct.now.UnixMilli() + ms
				model[f] = x
			}
		case 4:
			ct.now = ct.now.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		case 5:
			f := field()
			x, existed := live()[f]
			got := ct.do("hpttl", "h", "fields", "1", f).([]any)[0]
			want := int64(-2)
			if existed {
				want = -1
				if e := model[f].exp; e != 0 {
					want = e - ct.now.UnixMilli()
				}
			}
			if got != want {
				t.Fatalf("op %d: HPTTL %s = %v, want %d (value %q)", op, f, got, want, x)
			}
		case 6:
			f := field()
			if _, existed := live()[f]; existed {
				if got := ct.do("hpersist", "h", "fields", "1", f).([]any)[0]; got == int64(1) {
					x := model[f]
					x.exp = 0
					model[f] = x
				}
			}
		}
		want := live()
		got := strs(ct.do("hgetall", "h"))
		if len(got) != 2*len(want) {
			t.Fatalf("op %d: HGETALL = %v, model %v", op, got, want)
		}
		for i := 0; i < len(got); i += 2 {
			if want[got[i]] != got[i+1] {
				t.Fatalf("op %d: field %s = %q, model %q", op, got[i], got[i+1], want[got[i]])
			}
		}
		if n := ct.do("exists", "h"); (n == int64(1)) != (len(want) > 0) {
			t.Fatalf("op %d: EXISTS = %v with %d live fields", op, n, len(want))
		}
		for f, x := range model { // forget what expired
			if x.exp != 0 && x.exp <= ct.now.UnixMilli() {
				delete(model, f)
			}
		}
	}
}

func TestListModel(t *testing.T) {
	t.Parallel()
	ct := newCollTester(t)
	rng := rand.New(rand.NewPCG(5, 6))
	var model []string
	for op := 0; op < 3000; op++ {
		v := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(40))
		switch rng.IntN(8) {
		case 0:
			ct.do("lpush", "l", v)
			model = append([]string{v}, model...)
		case 1, 2:
			ct.do("rpush", "l", v, v+"x")
			model = append(model, v, v+"x")
		case 3:
			got := ct.do("lpop", "l")
			if len(model) == 0 {
				if got != nil {
					t.Fatalf("op %d: LPOP on empty = %v", op, got)
				}
				continue
			}
			if got != model[0] {
				t.Fatalf("op %d: LPOP = %v, want %q", op, got, model[0])
			}
			model = model[1:]
		case 4:
			if len(model) == 0 {
				continue
			}
			got := ct.do("rpop", "l")
			if got != model[len(model)-1] {
				t.Fatalf("op %d: RPOP = %v", op, got)
			}
			model = model[:len(model)-1]
		case 5:
			if len(model) == 0 {
				continue
			}
			i := rng.IntN(len(model))
			ct.do("lset", "l", strconv.Itoa(i), v)
			model[i] = v
		case 6:
			got := ct.do("lrem", "l", "0", v)
			kept := model[:0:0]
			for _, x := range model {
				if x != v {
					kept = append(kept, x)
				}
			}
			if got != int64(len(model)-len(kept)) {
				t.Fatalf("op %d: LREM = %v", op, got)
			}
			model = kept
		case 7:
			if len(model) > 50 {
				ct.do("ltrim", "l", "5", "-5")
				model = model[5 : len(model)-4]
			}
		}
		got := ct.do("lrange", "l", "0", "-1")
		if fmt.Sprint(got) != fmt.Sprint(toAny(model)) {
			t.Fatalf("op %d: LRANGE = %v, model %v", op, got, model)
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestSetAndZSetModel(t *testing.T) {
	t.Parallel()
	ct := newCollTester(t)
	rng := rand.New(rand.NewPCG(7, 8))
	set := map[string]bool{}
	zset := map[string]float64{}
	for op := 0; op < 3000; op++ {
		m := "m" + strconv.Itoa(rng.IntN(40))
		score := float64(rng.IntN(10))
		switch rng.IntN(4) {
		case 0:
			ct.do("sadd", "s", m)
			set[m] = true
			ct.do("zadd", "z", strconv.Itoa(int(score)), m)
			zset[m] = score
		case 1:
			ct.do("srem", "s", m)
			delete(set, m)
			ct.do("zrem", "z", m)
			delete(zset, m)
		case 2:
			got := ct.do("zincrby", "z", "1", m)
			zset[m]++
			if got != strconv.FormatFloat(zset[m], 'g', 17, 64) {
				t.Fatalf("op %d: ZINCRBY = %v, want %v", op, got, zset[m])
			}
		case 3:
			if len(zset) > 0 {
				got := ct.do("zpopmin", "z").([]any)
				delete(zset, got[0].(string))
			}
		}
		got := strs(ct.do("smembers", "s"))
		sort.Strings(got)
		var want []string
		for k := range set {
			want = append(want, k)
		}
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("op %d: SMEMBERS = %v, model %v", op, got, want)
		}
		var zwant []string
		for k := range zset {
			zwant = append(zwant, k)
		}
		sort.Slice(zwant, func(i, j int) bool {
			a, b := zwant[i], zwant[j]
			if zset[a] != zset[b] {
				return zset[a] < zset[b]
			}
			return a < b
		})
		if zgot := strs(ct.do("zrange", "z", "0", "-1")); fmt.Sprint(zgot) != fmt.Sprint(zwant) {
			t.Fatalf("op %d: ZRANGE = %v, model %v", op, zgot, zwant)
		}
	}
}
