package integration

import (
	"bufio"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Measurements for issue 16 (docs/client-side-caching.md). They run only
// with CACHESRV_MEASURE=1; REDIS_ADDR adds a redis-server to compare with:
//
//	redis-server --port 7200 --bind 127.0.0.1 --save '' &
//	CACHESRV_MEASURE=1 REDIS_ADDR=127.0.0.1:7200 go test ./test/integration -run TestMeasure -v -count=1

func measureTargets(t *testing.T) map[string]string {
	if os.Getenv("CACHESRV_MEASURE") == "" {
		t.Skip("set CACHESRV_MEASURE=1 to run measurements")
	}
	s := start(t, nil)
	out := map[string]string{"cachesrv": s.Addr}
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		out["redis"] = a
	}
	return out
}

type mconn struct {
	c  net.Conn
	rd *bufio.Reader
	w  *bufio.Writer
}

func mdial(t *testing.T, addr string) *mconn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &mconn{c: c, rd: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
}

func (m *mconn) send(args ...string) {
	m.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		m.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
}

// skip reads one RESP value and returns its first line.
func (m *mconn) skip() (string, error) {
	line, err := m.rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	switch line[0] {
	case '*', '>', '%', '~':
		n, _ := strconv.Atoi(line[1 : len(line)-2])
		if line[0] == '%' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if _, err := m.skip(); err != nil {
				return "", err
			}
		}
	case '$':
		n, _ := strconv.Atoi(line[1 : len(line)-2])
		if n >= 0 {
			if _, err := m.rd.Discard(n + 2); err != nil {
				return "", err
			}
		}
	}
	return line, nil
}

func (m *mconn) do(t *testing.T, args ...string) string {
	m.send(args...)
	m.w.Flush()
	l, err := m.skip()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestMeasureInvalidationLatency: 1,000 RESP3 clients track one key; a
// write's reply to the invalidation push arriving at each client.
func TestMeasureInvalidationLatency(t *testing.T) {
	for name, addr := range measureTargets(t) {
		const clients, rounds = 1000, 30
		cs := make([]*mconn, clients)
		for i := range cs {
			cs[i] = mdial(t, addr)
			cs[i].do(t, "HELLO", "3")
			cs[i].do(t, "CLIENT", "TRACKING", "ON")
		}
		w := mdial(t, addr)
		var lat []time.Duration
		for r := 0; r < rounds; r++ {
			for _, c := range cs {
				c.do(t, "GET", "hot")
			}
			arrivals := make([]time.Time, clients)
			var wg sync.WaitGroup
			for i, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if l, err := c.skip(); err != nil || l[0] != '>' {
						t.Errorf("push: %q %v", l, err)
					}
					arrivals[i] = time.Now()
				}()
			}
			w.send("SET", "hot", "v")
			w.w.Flush()
			w.skip()
			t0 := time.Now()
			wg.Wait()
			for _, a := range arrivals {
				lat = append(lat, max(0, a.Sub(t0)))
			}
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		t.Logf("%s: invalidation latency, %d clients x %d writes: p50 %v p99 %v max %v", name, clients, rounds, q(0.5), q(0.99), lat[len(lat)-1])
	}
}

// TestMeasurePublish: PUBLISH rate to 100 subscribers (4 publishers,
// pipelines of 32), every message read by every subscriber.
func TestMeasurePublish(t *testing.T) {
	for name, addr := range measureTargets(t) {
		const subs, pubs, depth = 100, 4, 32
		dur := 2 * time.Second
		var got atomic.Int64
		var wg sync.WaitGroup
		ss := make([]*mconn, subs)
		for i := range ss {
			ss[i] = mdial(t, addr)
			ss[i].do(t, "SUBSCRIBE", "bench")
		}
		for _, s := range ss {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					s.c.SetReadDeadline(time.Now().Add(time.Second))
					if _, err := s.skip(); err != nil {
						return
					}
					got.Add(1)
				}
			}()
		}
		var sent atomic.Int64
		deadline := time.Now().Add(dur)
		var pw sync.WaitGroup
		for p := 0; p < pubs; p++ {
			c := mdial(t, addr)
			pw.Add(1)
			go func() {
				defer pw.Done()
				for time.Now().Before(deadline) {
					for i := 0; i < depth; i++ {
						c.send("PUBLISH", "bench", "payload-0123456789")
					}
					c.w.Flush()
					for i := 0; i < depth; i++ {
						if _, err := c.skip(); err != nil {
							t.Error(err)
							return
						}
					}
					sent.Add(depth)
				}
			}()
		}
		pw.Wait()
		wg.Wait()
		t.Logf("%s: PUBLISH to %d subscribers: %.0f publishes/s (%d sent, %d of %d deliveries received)",
			name, subs, float64(sent.Load())/dur.Seconds(), sent.Load(), got.Load(), sent.Load()*subs)
	}
}

// TestMeasureGetTracking: GET throughput with tracking on vs off (50
// RESP3 clients, pipelines of 16 over 10,000 keys).
func TestMeasureGetTracking(t *testing.T) {
	for name, addr := range measureTargets(t) {
		setup := mdial(t, addr)
		for i := 0; i < 10000; i++ {
			setup.send("SET", "key:"+strconv.Itoa(i), "value")
		}
		setup.w.Flush()
		for i := 0; i < 10000; i++ {
			setup.skip()
		}
		for _, mode := range []string{"off", "on", "off", "on"} {
			const clients, depth = 50, 16
			dur := 2 * time.Second
			var ops atomic.Int64
			var wg sync.WaitGroup
			deadline := time.Now().Add(dur)
			for i := 0; i < clients; i++ {
				c := mdial(t, addr)
				c.do(t, "HELLO", "3")
				c.do(t, "CLIENT", "TRACKING", mode)
				wg.Add(1)
				go func(seed int) {
					defer wg.Done()
					k := seed * 7919
					for time.Now().Before(deadline) {
						for j := 0; j < depth; j++ {
							k = (k + 1) % 10000
							c.send("GET", "key:"+strconv.Itoa(k))
						}
						c.w.Flush()
						for j := 0; j < depth; j++ {
							if _, err := c.skip(); err != nil {
								t.Error(err)
								return
							}
						}
						ops.Add(depth)
					}
				}(i)
			}
			wg.Wait()
			t.Logf("%s: GET with tracking %s: %.0f ops/s", name, mode, float64(ops.Load())/dur.Seconds())
		}
	}
}
