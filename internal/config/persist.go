package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// SavePoint is one "save <seconds> <changes>" rule: snapshot when at least
// Changes writes happened and After has passed since the last save.
type SavePoint struct {
	After   time.Duration
	Changes int64
}

// SavePoints returns the parsed save schedule (empty: automatic snapshots
// are off, the default for a cache).
func (c *Config) SavePoints() []SavePoint {
	sp, _ := parseSave(c.Save)
	return sp
}

// errInvalidSave is Redis's CONFIG SET reason for a bad save schedule.
//
//lint:ignore ST1005 Redis's wording, sent to clients as is
var errInvalidSave = errors.New("Invalid save parameters")

// parseSave parses Redis's save syntax: pairs of seconds and changes,
// space-separated; "" disables.
func parseSave(s string) ([]SavePoint, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, errInvalidSave
	}
	var out []SavePoint
	for i := 0; i < len(f); i += 2 {
		sec, err1 := strconv.ParseInt(f[i], 10, 64)
		ch, err2 := strconv.ParseInt(f[i+1], 10, 64)
		if err1 != nil || err2 != nil || sec < 1 || ch < 0 || sec > 1<<31 {
			return nil, errInvalidSave
		}
		out = append(out, SavePoint{time.Duration(sec) * time.Second, ch})
	}
	return out, nil
}

// canonicalSave formats a schedule as CONFIG GET save does.
func canonicalSave(sp []SavePoint) string {
	var b strings.Builder
	for i, p := range sp {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(int64(p.After/time.Second), 10) + " " + strconv.FormatInt(p.Changes, 10))
	}
	return b.String()
}

func saveParam(m Param) *param {
	return &param{
		Param: m,
		get:   func(c *Config) string { return c.Save },
		yaml:  func(c *Config) (string, error) { return yamlQuote(c.Save) },
		set: func(c *Config, s string) error {
			sp, err := parseSave(s)
			if err != nil {
				return err
			}
			c.Save = canonicalSave(sp)
			return nil
		},
		check: func(c *Config) error { _, err := parseSave(c.Save); return err },
	}
}

func checkFilename(s string) error {
	if s == "" || strings.ContainsRune(s, '/') || s == "." || s == ".." {
		return errors.New("dbfilename can't be a path, just a filename")
	}
	return nil
}

func checkDir(s string) error {
	if s == "" {
		return errors.New("dir must not be empty")
	}
	return nil
}

// persistParams are the snapshot settings (docs/persistence.md).
func persistParams() []*param {
	return []*param{
		withSection("Persistence", stringParam(meta("dir", "directory", redis|mutable,
			"directory of the snapshot file"),
			func(c *Config) *string { return &c.Dir }, checkDir)),
		withSection("Persistence", stringParam(meta("dbfilename", "file", redis|mutable,
			"snapshot file name in dir; a Redis dump.rdb there is imported at start (format detected by its magic)"),
			func(c *Config) *string { return &c.DBFilename }, checkFilename)),
		withSection("Persistence", saveParam(meta("save", "schedule", redis|mutable,
			`automatic snapshots: pairs of "<seconds> <changes>"; empty (the default for a cache) disables them`))),
		withSection("Persistence", boolParam(meta("start-empty-on-bad-snapshot", "yes|no", 0,
			"start with an empty keyspace when the snapshot file is corrupt or truncated instead of refusing to start"),
			func(c *Config) *bool { return &c.StartEmptyOnBadSnapshot })),
		withSection("Persistence", boolParam(meta("save-on-shutdown", "yes|no", mutable,
			"write a snapshot on SIGTERM and plain SHUTDOWN even when save is empty"),
			func(c *Config) *bool { return &c.SaveOnShutdown })),
	}
}
