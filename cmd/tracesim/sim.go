package main

import (
	"github.com/cachesrv/cachesrv/internal/tracefile"

	"github.com/cachesrv/cachesrv/internal/evict"
)

// requestsPerSecond sets the virtual clock: request i happens at i ms.
const requestsPerSecond = 1000

// simulate replays t through policy at a cache of size entries, as
// cache-aside traffic: a hit is an Access; a miss Inserts the key (Size 1,
// Capacity size) and then evicts Victim()s while Len() > size. It returns
// the hit ratio in percent.
func simulate(t *tracefile.Trace, policy string, size int) (float64, error) {
	var now int64
	p, err := evict.New(policy, evict.Options{
		Capacity: int64(size),
		Now:      func() int64 { return now },
	})
	if err != nil {
		return 0, err
	}
	slot := make([]uint32, len(t.Hashes)) // key -> id+1, 0 when not cached
	owner := make([]int32, 0, size+1)     // id -> key
	free := make([]uint32, 0, size+1)
	hits := 0
	for i, k := range t.Reqs {
		now = int64(i) * 1000 / requestsPerSecond
		if s := slot[k]; s != 0 {
			hits++
			p.Access(s - 1)
			continue
		}
		var id uint32
		if n := len(free); n > 0 {
			id = free[n-1]
			free = free[:n-1]
			owner[id] = k
		} else {
			id = uint32(len(owner))
			owner = append(owner, k)
		}
		p.Insert(id, evict.Entry{Hash: t.Hashes[k], Size: 1})
		slot[k] = id + 1
		for p.Len() > size {
			v, ok := p.Victim()
			if !ok {
				break
			}
			p.Remove(v)
			slot[owner[v]] = 0
			free = append(free, v)
		}
	}
	if len(t.Reqs) == 0 {
		return 0, nil
	}
	return 100 * float64(hits) / float64(len(t.Reqs)), nil
}
