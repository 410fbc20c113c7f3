package protocol

import (
	"strings"
	"testing"
)

// BenchmarkExecuteEvalsha runs the 3-call script (GET, INCR,
// EXPIRE) through EVALSHA in process:
//
//	go test -run '^$' -bench Evalsha -benchmem ./internal/protocol/
func BenchmarkExecuteEvalsha(b *testing.B) {
	s, c := newBenchClient(b)
	s.execute(c, argv("SCRIPT", "LOAD", "return {redis.call('GET',KEYS[1]), redis.call('INCR',KEYS[1]), redis.call('EXPIRE',KEYS[1],100)}"))
	out := string(c.out)
	i := strings.Index(out, "\r\n")
	sha := strings.TrimSpace(out[i+2:])
	c.out = c.out[:0]
	args := argv("EVALSHA", sha, "1", "counter")
	s.execute(c, args)
	if strings.HasPrefix(string(c.out), "-") {
		b.Fatalf("EVALSHA: %q", c.out)
	}
	c.out = c.out[:0]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.execute(c, args)
		c.out = c.out[:0]
	}
}
