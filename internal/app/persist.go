package app

import (
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/metrics"
	"github.com/cachesrv/cachesrv/internal/persist"
	"github.com/cachesrv/cachesrv/internal/protocol"
)

// persistSettings maps the configuration onto the persister's settings.
func persistSettings(c *config.Config) persist.Settings {
	s := persist.Settings{Dir: c.Dir, File: c.DBFilename, SaveOnShutdown: c.SaveOnShutdown}
	for _, sp := range c.SavePoints() {
		s.Schedule = append(s.Schedule, persist.SavePoint{After: sp.After, Changes: sp.Changes})
	}
	return s
}

// persistence adapts the persister to the protocol's interface.
type persistence struct{ p *persist.Persister }

func (p persistence) Save() error                          { return p.p.Save() }
func (p persistence) BGSave(schedule bool) (string, error) { return p.p.BGSave(schedule) }
func (p persistence) LastSave() int64                      { return p.p.LastSave() }
func (p persistence) Info() [][2]string                    { return p.p.Info() }

func (p persistence) Shutdown(mode int) error {
	switch mode {
	case protocol.ShutdownSave:
		return p.p.Shutdown(persist.ShutdownSave)
	case protocol.ShutdownNoSave:
		return p.p.Shutdown(persist.ShutdownNoSave)
	}
	return p.p.Shutdown(persist.ShutdownDefault)
}

// persistMetrics maps the persister's stats onto the metrics input.
func (a *App) persistMetrics() metrics.PersistStats {
	s := a.Persist.Stats()
	out := metrics.PersistStats{
		Loading:          s.Loading,
		SaveInProgress:   s.InProgress,
		SavesOK:          s.SavesOK,
		SavesFailed:      s.SavesFailed,
		LastSaveOK:       s.LastSaveOK,
		LastDuration:     s.LastDuration.Seconds(),
		LastBytes:        s.LastBytes,
		LastKeys:         s.LastKeys,
		ChangesSinceSave: s.ChangesSinceSave,
		LoadedKeys:       s.LastLoad.Keys,
		LoadSkippedKeys:  s.LastLoad.Expired + s.LastLoad.Skipped + s.LastLoad.Evicted,
		LoadDurationSecs: s.LastLoad.Time.Seconds(),
	}
	if !s.LastSuccess.IsZero() {
		out.LastSuccessUnix = float64(s.LastSuccess.UnixNano()) / 1e9
	}
	if s.Loading && s.LoadTotalBytes > 0 {
		out.LoadProgressRatio = float64(s.LoadDoneBytes) / float64(s.LoadTotalBytes)
	}
	return out
}
