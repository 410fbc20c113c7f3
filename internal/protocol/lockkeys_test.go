package protocol

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/store"
)

func TestSortShardsBitmap(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 63, 64, 65, 4096} {
		for _, k := range []int{0, 1, 100, 10000} {
			idx := make([]int, k)
			for i := range idx {
				idx[i] = rand.IntN(n)
			}
			want := store.SortShards(slices.Clone(idx))
			if got := sortShardsBitmap(idx, n); !slices.Equal(got, want) {
				t.Fatalf("n=%d k=%d: %v want %v", n, k, got, want)
			}
		}
	}
}

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
