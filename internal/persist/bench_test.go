package persist

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cachesrv/cachesrv/internal/store"
)

// BenchmarkSaveLoad saves and loads 256Ki entries of 16-byte keys and 32-byte
// values (the shape of docs/persistence.md's measurement).
func BenchmarkSaveLoad(b *testing.B) {
	dir := b.TempDir()
	w := newWorld(b, 1<<30, "")
	val := []byte("vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")
	const n = 1 << 18
	for i := range n {
		k := []byte(fmt.Sprintf("key:%012d", i))
		h := w.st.Hash(k)
		sh := w.st.ShardFor(h)
		sh.Lock()
		sh.SetLocked(0, k, h, val, store.Meta{}, w.st.NowMs())
		sh.Unlock()
	}
	p := newPersister(b, w, dir)
	if err := p.Save(); err != nil {
		b.Fatal(err)
	}
	b.Run("save", func(b *testing.B) {
		for range b.N {
			if err := p.Save(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	})
	b.Run("load", func(b *testing.B) {
		for range b.N {
			w2 := newWorld(b, 1<<30, "")
			if _, err := Load(filepath.Join(dir, "dump.rdb"), w2.st, w2.tags, nil, 0, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	})
}
