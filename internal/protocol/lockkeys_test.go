package protocol

import (
	"strconv"
	"testing"
	"time"
)

// TestManyKeysLinear: a command with a million keys locks its shards in
// linear time (it took hours with a quadratic sort).
func TestManyKeysLinear(t *testing.T) {
	s, c := newTestServer(t, Options{})
	args := [][]byte{[]byte("DEL")}
	for i := 0; i < 1_000_000; i++ {
		args = append(args, []byte("k"+strconv.Itoa(i)))
	}
	start := time.Now()
	s.execute(c, args)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("DEL of a million keys took %v", d)
	}
	if string(c.out) != ":0\r\n" {
		t.Fatalf("%q", c.out)
	}
}
