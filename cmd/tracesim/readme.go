package main

import (
	"github.com/cachesrv/cachesrv/internal/tracefile"

	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// refPoint is one row of the traces README's reference table.
type refPoint struct {
	trace string
	size  int
	// lru, redisLRU, redisLFU, opt are hit ratios in percent.
	lru, redisLRU, redisLFU, opt float64
}

// parseReadme reads the reference table: rows of the form
// "| trace | size | LRU | Redis-LRU | Redis-LFU | OPT |", sizes may hold
// thousands separators. Other tables and the mean row are skipped.
func parseReadme(r io.Reader) ([]refPoint, error) {
	var pts []refPoint
	sc := bufio.NewScanner(r)
	inTable := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) == 6 && strings.EqualFold(cells[0], "trace") && strings.EqualFold(cells[1], "size") &&
			strings.EqualFold(cells[2], "LRU") && strings.EqualFold(cells[5], "OPT") {
			inTable = true
			continue
		}
		if !inTable || len(cells) != 6 || strings.HasPrefix(cells[0], "---") || strings.HasPrefix(cells[0], "*") || cells[0] == "" {
			continue
		}
		size, err := strconv.Atoi(strings.ReplaceAll(cells[1], ",", ""))
		if err != nil {
			continue
		}
		p := refPoint{trace: cells[0], size: size}
		vals := []*float64{&p.lru, &p.redisLRU, &p.redisLFU, &p.opt}
		ok := true
		for i, v := range vals {
			f, err := strconv.ParseFloat(cells[2+i], 64)
			if err != nil {
				ok = false
				break
			}
			*v = f
		}
		if ok {
			pts = append(pts, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("no reference table (| trace | size | LRU | Redis-LRU | Redis-LFU | OPT |) found")
	}
	return pts, nil
}

func loadReadme(path string) ([]refPoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pts, err := parseReadme(f)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", path, err)
	}
	return pts, nil
}

// findTrace returns the file in dir named <name>.<format>[.<compression>].
func findTrace(dir, name string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, name+".*"))
	if err != nil {
		return "", err
	}
	for _, m := range matches {
		if _, _, err := tracefile.DetectFormat(m); err == nil && tracefile.Name(m) == name {
			return m, nil
		}
	}
	return "", fmt.Errorf("no trace file %s.<format>.<gz|xz|none> in %s", name, dir)
}
