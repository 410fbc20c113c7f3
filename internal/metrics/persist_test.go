package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPersistMetrics(t *testing.T) {
	t.Parallel()
	c := newPersistCollector(func() PersistStats {
		return PersistStats{SavesOK: 3, SavesFailed: 1, LastSaveOK: false, LastDuration: 1.5, LastBytes: 4096,
			LastKeys: 10, LastSuccessUnix: 1.8e9, ChangesSinceSave: 7, LoadedKeys: 9, LoadSkippedKeys: 2}
	})
	exp := `# HELP cachesrv_snapshot_saves_total Snapshot saves, by result (ok, error).
# TYPE cachesrv_snapshot_saves_total counter
cachesrv_snapshot_saves_total{result="error"} 1
cachesrv_snapshot_saves_total{result="ok"} 3
# HELP cachesrv_snapshot_last_save_success 1 if the last snapshot save succeeded, 0 if it failed.
# TYPE cachesrv_snapshot_last_save_success gauge
cachesrv_snapshot_last_save_success 0
# HELP cachesrv_snapshot_changes_since_last_save Writes since the last successful snapshot (rdb_changes_since_last_save).
# TYPE cachesrv_snapshot_changes_since_last_save gauge
cachesrv_snapshot_changes_since_last_save 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(exp), "cachesrv_snapshot_saves_total",
		"cachesrv_snapshot_last_save_success", "cachesrv_snapshot_changes_since_last_save"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	// Registered by New when the source has Persist.
	reg := prometheus.NewPedanticRegistry()
	src := fakeSource()
	src.Persist = func() PersistStats { return PersistStats{} }
	if err := New(reg, src); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "cachesrv_snapshot_saves_total"); err != nil || n != 2 {
		t.Fatalf("gathered %d series: %v", n, err)
	}
}
