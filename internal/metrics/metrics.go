package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// New registers on reg a collector reading src at scrape time, together
// with the Go runtime and process collectors. A Go or process collector
// already registered on reg is kept. On error nothing new stays registered.
func New(reg prometheus.Registerer, src Source) error {
	if reg == nil {
		return errors.New("cannot register metrics: nil Registerer")
	}
	var done []prometheus.Collector
	cs := []prometheus.Collector{newCollector(src)}
	if src.Persist != nil {
		cs = append(cs, newPersistCollector(src.Persist))
	}
	if src.Cluster != nil {
		cs = append(cs, newClusterCollector(src.Cluster))
	}
	for _, c := range append(cs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	) {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if len(done) >= len(cs) && errors.As(err, &are) {
				continue // the runtime collectors are shared; keep theirs
			}
			for _, d := range done {
				reg.Unregister(d)
			}
			return fmt.Errorf("cannot register metrics: %w", err)
		}
		done = append(done, c)
	}
	return nil
}
