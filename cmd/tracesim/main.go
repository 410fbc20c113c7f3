// Command tracesim replays cache request traces through the eviction
// policies of internal/evict and prints hit ratios.
//
// Each trace is replayed as cache-aside traffic at a fixed number of entries
// N: every key has Size 1 and the policy Capacity N; a request for a cached
// key is a hit (Access), a miss Inserts the key and then evicts Victim() while
// Len() > N (a policy may evict the key it was just given: it declined to
// admit it). The virtual clock runs at 1,000 requests per second, which
// drives LFU decay and idle times.
//
// Accepted trace formats, detected from a file name
// <name>.<format>.<gz|xz|none> (or <name>.<format>) unless -format says:
//
//	arc      text, one line per run: "start_block count ignored request_no",
//	         standing for count requests of start_block, start_block+1, ...
//	lirs     text, one decimal block number per line; empty lines and lines
//	         holding just "*" are skipped
//	cache2k  binary, 4-byte big-endian signed integers, one key each
//	scarab   binary, 8-byte big-endian integers, one key each
//	keys     text, one key per line (any bytes but newline; a trailing CR is
//	         dropped, empty lines are skipped): replay your own key log
//
// .gz files are read with compress/gzip, .xz files through "xz -dc" (the xz
// command must be installed).
//
// Usage:
//
//	tracesim -readme /work/shared/traces/README.md
//	tracesim -trace keys.keys.none -sizes 1000,10000 [-policies allkeys-lru,allkeys-wtinylfu]
//
// With -readme it runs every trace and size of the README's reference table
// (trace files next to the README), prints our policies beside the README's
// LRU, Redis-LRU, Redis-LFU and OPT columns with the mean over all points,
// and checks the default policy against its targets: a mean of at least
// 62.0% and nowhere more than 1.0 point below max(LRU, Redis-LRU).
package main

import (
	"github.com/cachesrv/cachesrv/internal/tracefile"

	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachesrv/cachesrv/internal/evict"
)

// Targets for the default policy in -readme mode.
const (
	targetMean  = 62.0
	stretchMean = 64.0
	maxGapToLRU = 1.0
)

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tracesim:", err)
		os.Exit(1)
	}
}

func defaultPolicies() []string {
	var ps []string
	for _, n := range evict.Names() {
		if strings.HasPrefix(n, "allkeys-") {
			ps = append(ps, n)
		}
	}
	return ps
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tracesim", flag.ContinueOnError)
	var traces, policies, sizes listFlag
	fs.Var(&traces, "trace", "trace `file` (repeatable, or a comma list)")
	fs.Var(&policies, "policies", "comma list of policies (default: every allkeys-* policy)")
	fs.Var(&sizes, "sizes", "comma list of cache sizes in entries")
	format := fs.String("format", "", "trace format for every -trace: arc, lirs, cache2k, scarab or keys (default: from the file name)")
	readme := fs.String("readme", "", "traces README `path`: run its reference table (traces next to it) and check the targets")
	workers := fs.Int("j", runtime.GOMAXPROCS(0), "simulations run in parallel")
	storeShards := fs.Int("store-shards", 64, "shards of the store in the store columns")
	storeValue := fs.Int("store-value", 100, "value bytes per entry in the store columns")
	maxReqs := fs.Int("max", 0, "replay only the first `N` requests of each trace (0 = all; cmd/replay's -max)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(policies) == 0 {
		policies = defaultPolicies()
	}
	for _, p := range policies {
		name := p
		if sp, ok := isStore(p); ok {
			name = sp
		}
		if _, err := evict.New(name, evict.Options{}); err != nil {
			return err
		}
	}
	if *storeValue < 0 || *storeValue > 1<<20 {
		return fmt.Errorf("bad -store-value %d", *storeValue)
	}
	storeOptions.Store(&storeOpts{shards: *storeShards, value: *storeValue})

	var pts []refPoint
	files := map[string]string{} // trace name -> path
	var order []string
	if *readme != "" {
		var err error
		if pts, err = loadReadme(*readme); err != nil {
			return err
		}
		for _, p := range pts {
			if _, ok := files[p.trace]; ok {
				continue
			}
			path, err := findTrace(filepath.Dir(*readme), p.trace)
			if err != nil {
				return err
			}
			files[p.trace] = path
			order = append(order, p.trace)
		}
	} else {
		if len(traces) == 0 || len(sizes) == 0 {
			return errors.New("give -readme, or -trace and -sizes")
		}
		var ns []int
		for _, s := range sizes {
			n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
			if err != nil || n <= 0 {
				return fmt.Errorf("bad size %q: want a positive number of entries", s)
			}
			ns = append(ns, n)
		}
		for _, path := range traces {
			name := tracefile.Name(path)
			if _, ok := files[name]; ok {
				name = path
			}
			files[name] = path
			order = append(order, name)
			for _, n := range ns {
				pts = append(pts, refPoint{trace: name, size: n})
			}
		}
	}

	start := time.Now()
	loaded, err := loadAll(order, files, *format, *workers)
	if err != nil {
		return err
	}
	if *maxReqs < 0 {
		return fmt.Errorf("bad -max %d", *maxReqs)
	}
	for _, t := range loaded {
		if *maxReqs > 0 && len(t.Reqs) > *maxReqs {
			t.Reqs = t.Reqs[:*maxReqs]
		}
	}
	res, err := runAll(pts, policies, loaded, *workers)
	if err != nil {
		return err
	}
	printTable(out, pts, policies, res, *readme != "")
	slices.Sort(storeNotes)
	for _, n := range storeNotes {
		fmt.Fprintln(out, n)
	}
	if *readme != "" {
		printVerdict(out, pts, policies, res)
	}
	fmt.Fprintf(out, "(%d simulations in %.1fs)\n", len(pts)*len(policies), time.Since(start).Seconds())
	return nil
}

func loadAll(order []string, files map[string]string, format string, workers int) (map[string]*tracefile.Trace, error) {
	loaded := make(map[string]*tracefile.Trace, len(order))
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, max(1, workers))
	var wg sync.WaitGroup
	for _, name := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t, err := tracefile.Load(files[name], format)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			loaded[name] = t
		}()
	}
	wg.Wait()
	return loaded, errors.Join(errs...)
}

// runAll returns res[point][policy] hit ratios.
// storeNotes collects what the store columns held (runAll's workers append
// under their mutex).
var storeNotes []string

func runAll(pts []refPoint, policies []string, traces map[string]*tracefile.Trace, workers int) ([][]float64, error) {
	res := make([][]float64, len(pts))
	type job struct{ pt, pol int }
	jobs := make(chan job)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p := pts[j.pt]
				var hr float64
				var err error
				note := ""
				if sp, ok := isStore(policies[j.pol]); ok {
					var held int64
					hr, held, err = simulateStore(traces[p.trace], sp, p.size)
					note = fmt.Sprintf("%s at %s/%s held %s entries (mean over the second half)", policies[j.pol], p.trace, commas(p.size), commas(int(held)))
				} else {
					hr, err = simulate(traces[p.trace], policies[j.pol], p.size)
				}
				mu.Lock()
				if note != "" {
					storeNotes = append(storeNotes, note)
				}
				if err != nil {
					errs = append(errs, err)
				}
				res[j.pt][j.pol] = hr
				mu.Unlock()
			}
		}()
	}
	// Longest traces first, so the workers finish together.
	idx := make([]int, len(pts))
	for i := range pts {
		res[i] = make([]float64, len(policies))
		idx[i] = i
	}
	sortByLen(idx, pts, traces)
	for _, i := range idx {
		for k := range policies {
			jobs <- job{i, k}
		}
	}
	close(jobs)
	wg.Wait()
	return res, errors.Join(errs...)
}

func sortByLen(idx []int, pts []refPoint, traces map[string]*tracefile.Trace) {
	n := func(i int) int { return len(traces[pts[i].trace].Reqs) }
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && n(idx[j]) > n(idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func printTable(out io.Writer, pts []refPoint, policies []string, res [][]float64, ref bool) {
	nameW := len("mean of the 12")
	for _, p := range pts {
		nameW = max(nameW, len(p.trace))
	}
	fmt.Fprintf(out, "%-*s %9s", nameW, "trace", "size")
	for _, p := range policies {
		fmt.Fprintf(out, " %*s", max(7, len(p)), p)
	}
	if ref {
		fmt.Fprintf(out, " | %7s %9s %9s %7s", "LRU", "Redis-LRU", "Redis-LFU", "OPT")
	}
	fmt.Fprintln(out)
	sums := make([]float64, len(policies))
	var refSums [4]float64
	for i, p := range pts {
		fmt.Fprintf(out, "%-*s %9s", nameW, p.trace, commas(p.size))
		for k, pol := range policies {
			fmt.Fprintf(out, " %*.2f", max(7, len(pol)), res[i][k])
			sums[k] += res[i][k]
		}
		if ref {
			r := [4]float64{p.lru, p.redisLRU, p.redisLFU, p.opt}
			fmt.Fprintf(out, " | %7.2f %9.2f %9.2f %7.2f", r[0], r[1], r[2], r[3])
			for j := range r {
				refSums[j] += r[j]
			}
		}
		fmt.Fprintln(out)
	}
	if len(pts) == 0 {
		return
	}
	n := float64(len(pts))
	fmt.Fprintf(out, "%-*s %9s", nameW, fmt.Sprintf("mean of the %d", len(pts)), "")
	for k, pol := range policies {
		fmt.Fprintf(out, " %*.2f", max(7, len(pol)), sums[k]/n)
	}
	if ref {
		fmt.Fprintf(out, " | %7.2f %9.2f %9.2f %7.2f", refSums[0]/n, refSums[1]/n, refSums[2]/n, refSums[3]/n)
	}
	fmt.Fprintln(out)
}

// printVerdict checks the default policy against the two targets.
func printVerdict(out io.Writer, pts []refPoint, policies []string, res [][]float64) {
	k := -1
	for i, p := range policies {
		if p == evict.Default {
			k = i
		}
	}
	if k < 0 {
		fmt.Fprintf(out, "targets not checked: %s is not among -policies\n", evict.Default)
		return
	}
	sum, worst, worstAt := 0.0, 0.0, ""
	for i, p := range pts {
		sum += res[i][k]
		gap := res[i][k] - max(p.lru, p.redisLRU)
		if worstAt == "" || gap < worst {
			worst, worstAt = gap, fmt.Sprintf("%s/%s", p.trace, commas(p.size))
		}
	}
	mean := sum / float64(len(pts))
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	stretch := ""
	if mean >= stretchMean {
		stretch = ", stretch met"
	}
	fmt.Fprintf(out, "%s: mean %.2f%% (target >= %.1f%%, stretch %.1f%%): %s%s\n",
		evict.Default, mean, targetMean, stretchMean, verdict(mean >= targetMean), stretch)
	fmt.Fprintf(out, "%s: worst point vs max(LRU, Redis-LRU): %+.2f at %s (limit -%.1f): %s\n",
		evict.Default, worst, worstAt, maxGapToLRU, verdict(worst >= -maxGapToLRU))
}
