package metrics

import "github.com/prometheus/client_golang/prometheus"

// PersistStats is a snapshot of the persistence counters (snapshots and the
// load at start).
type PersistStats struct {
	Loading           bool
	SaveInProgress    bool
	SavesOK           uint64
	SavesFailed       uint64
	LastSaveOK        bool    // the last save attempt succeeded (true before any)
	LastDuration      float64 // seconds of the last save attempt
	LastBytes         int64   // size of the last successful snapshot
	LastKeys          int64   // entries in the last successful snapshot
	LastSuccessUnix   float64 // 0 before the first successful save
	ChangesSinceSave  int64
	LoadedKeys        int64 // by the last load
	LoadSkippedKeys   int64 // by the last load: expired, evicted or skipped
	LoadDurationSecs  float64
	LoadProgressRatio float64 // 0..1 while loading
}

// persistCollector exports PersistStats. It is a separate collector so the
// persistence metrics stay in one file.
type persistCollector struct {
	src func() PersistStats

	loading, inProgress, saves, lastOK, lastDuration, lastBytes, lastKeys, lastSuccess, changes,
	loaded, loadSkipped, loadDuration, loadProgress *prometheus.Desc
}

func newPersistCollector(src func() PersistStats) *persistCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cachesrv_"+name, help, labels, nil)
	}
	return &persistCollector{
		src:          src,
		loading:      d("loading", "1 while the snapshot loaded at start is being read (clients get -LOADING)."),
		inProgress:   d("snapshot_in_progress", "1 while a SAVE or BGSAVE runs."),
		saves:        d("snapshot_saves_total", "Snapshot saves, by result (ok, error).", "result"),
		lastOK:       d("snapshot_last_save_success", "1 if the last snapshot save succeeded, 0 if it failed."),
		lastDuration: d("snapshot_last_duration_seconds", "Duration of the last snapshot save attempt."),
		lastBytes:    d("snapshot_last_size_bytes", "Size of the last successful snapshot file."),
		lastKeys:     d("snapshot_last_keys", "Entries in the last successful snapshot."),
		lastSuccess:  d("snapshot_last_success_timestamp_seconds", "Unix time of the last successful snapshot; 0 if none."),
		changes:      d("snapshot_changes_since_last_save", "Writes since the last successful snapshot (rdb_changes_since_last_save)."),
		loaded:       d("snapshot_load_keys", "Entries stored by the last load at start."),
		loadSkipped:  d("snapshot_load_skipped_keys", "Entries of the last load not stored: expired, skipped or evicted for maxmemory."),
		loadDuration: d("snapshot_load_duration_seconds", "Duration of the last load at start."),
		loadProgress: d("snapshot_load_progress_ratio", "Share of the snapshot file read, 0 to 1, while loading."),
	}
}

func (c *persistCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.loading, c.inProgress, c.saves, c.lastOK, c.lastDuration, c.lastBytes,
		c.lastKeys, c.lastSuccess, c.changes, c.loaded, c.loadSkipped, c.loadDuration, c.loadProgress} {
		ch <- d
	}
}

func (c *persistCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	g(c.loading, b(s.Loading))
	g(c.inProgress, b(s.SaveInProgress))
	ch <- prometheus.MustNewConstMetric(c.saves, prometheus.CounterValue, float64(s.SavesOK), "ok")
	ch <- prometheus.MustNewConstMetric(c.saves, prometheus.CounterValue, float64(s.SavesFailed), "error")
	g(c.lastOK, b(s.LastSaveOK))
	g(c.lastDuration, s.LastDuration)
	g(c.lastBytes, float64(s.LastBytes))
	g(c.lastKeys, float64(s.LastKeys))
	g(c.lastSuccess, s.LastSuccessUnix)
	g(c.changes, float64(s.ChangesSinceSave))
	g(c.loaded, float64(s.LoadedKeys))
	g(c.loadSkipped, float64(s.LoadSkippedKeys))
	g(c.loadDuration, s.LoadDurationSecs)
	g(c.loadProgress, s.LoadProgressRatio)
}
