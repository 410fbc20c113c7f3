package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Reasons returned by the value parsers. They follow Redis's CONFIG SET
// wording, because Set hands them to the client unchanged.
var (
	errNotMemory  = errors.New("argument must be a memory value")
	errNotInteger = errors.New("argument couldn't be parsed into an integer")
	errNotBool    = errors.New("argument must be 'yes' or 'no'")
	errNotFloat   = errors.New("argument couldn't be parsed into a number")
)

// ParseBytes parses a byte size the way Redis's memtoull does: a decimal
// integer followed by an optional, case-insensitive unit. The units are
// b = 1, k = 1000, kb = 1024, m = 1000², mb = 1024², g = 1000³, gb = 1024³.
// Signs, spaces, fractions and values above math.MaxInt64 are rejected.
func ParseBytes(s string) (int64, error) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errNotMemory
	}
	var mul int64
	switch u := s[i:]; {
	case u == "" || strings.EqualFold(u, "b"):
		mul = 1
	case strings.EqualFold(u, "k"):
		mul = 1000
	case strings.EqualFold(u, "kb"):
		mul = 1 << 10
	case strings.EqualFold(u, "m"):
		mul = 1000 * 1000
	case strings.EqualFold(u, "mb"):
		mul = 1 << 20
	case strings.EqualFold(u, "g"):
		mul = 1000 * 1000 * 1000
	case strings.EqualFold(u, "gb"):
		mul = 1 << 30
	default:
		return 0, errNotMemory
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mul {
		return 0, errNotMemory
	}
	return n * mul, nil
}

// FormatBytes formats n with the largest binary unit (gb, mb, kb) that
// divides it exactly, or as a plain integer. ParseBytes(FormatBytes(n)) == n
// for every n >= 0.
func FormatBytes(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "gb"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "mb"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "kb"
	}
	return strconv.FormatInt(n, 10)
}

func parseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errNotInteger
	}
	return n, nil
}

// parseBool accepts Redis's yes/no and, for YAML's sake, true/false.
func parseBool(s string) (bool, error) {
	switch {
	case strings.EqualFold(s, "yes"), strings.EqualFold(s, "true"):
		return true, nil
	case strings.EqualFold(s, "no"), strings.EqualFold(s, "false"):
		return false, nil
	}
	return false, errNotBool
}

func formatBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errNotFloat
	}
	return f, nil
}

// parseSeconds parses a Redis-style duration in whole seconds. A Go duration
// ("5m") is accepted too when it is a whole number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, errors.New("argument is out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Second != 0 {
		return 0, errors.New("argument must be a whole number of seconds")
	}
	return d, nil
}

// parseDuration parses a Go duration ("10s", "1m30s"); a plain integer is
// taken as seconds, as Redis would.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, errors.New("argument is out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("argument must be a duration such as 10s or 1m30s")
	}
	return d, nil
}

// OutputBufferLimit is one class of the client-output-buffer-limit setting:
// a client of that class is disconnected when its pending output exceeds
// Hard bytes, or stays above Soft bytes for SoftSeconds. Zero disables a limit.
type OutputBufferLimit struct {
	Class       string // "normal", "replica" or "pubsub"
	Hard        int64  // bytes
	Soft        int64  // bytes
	SoftSeconds int64
}

// outputClasses lists the client classes in the order they are formatted.
var outputClasses = []string{"normal", "replica", "pubsub"}

// ParseOutputBufferLimits parses a client-output-buffer-limit value: one or
// more groups of "<class> <hard> <soft> <soft-seconds>", where class is
// normal, replica (or its old name slave) or pubsub and the limits are byte
// sizes. A later group for the same class wins.
func ParseOutputBufferLimits(s string) ([]OutputBufferLimit, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f)%4 != 0 {
		return nil, errors.New("wrong number of arguments in buffer limit configuration")
	}
	var out []OutputBufferLimit
	for i := 0; i < len(f); i += 4 {
		class := strings.ToLower(f[i])
		if class == "slave" {
			class = "replica"
		}
		switch class {
		case "normal", "replica", "pubsub":
		default:
			return nil, fmt.Errorf("invalid client class %q in buffer limit configuration", f[i])
		}
		hard, err1 := ParseBytes(f[i+1])
		soft, err2 := ParseBytes(f[i+2])
		secs, err3 := strconv.ParseInt(f[i+3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || secs < 0 {
			return nil, errors.New("error in hard, soft or soft_seconds setting in buffer limit configuration")
		}
		l := OutputBufferLimit{Class: class, Hard: hard, Soft: soft, SoftSeconds: secs}
		if j := indexClass(out, class); j >= 0 {
			out[j] = l
		} else {
			out = append(out, l)
		}
	}
	return out, nil
}

func indexClass(ls []OutputBufferLimit, class string) int {
	for i, l := range ls {
		if l.Class == class {
			return i
		}
	}
	return -1
}

// formatOutputBufferLimits formats ls in class order; human selects byte
// units (for files) over plain integers (for CONFIG GET).
func formatOutputBufferLimits(ls []OutputBufferLimit, human bool) string {
	size := func(n int64) string { return strconv.FormatInt(n, 10) }
	if human {
		size = FormatBytes
	}
	var b strings.Builder
	for _, class := range outputClasses {
		if j := indexClass(ls, class); j >= 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			l := ls[j]
			fmt.Fprintf(&b, "%s %s %s %d", l.Class, size(l.Hard), size(l.Soft), l.SoftSeconds)
		}
	}
	return b.String()
}
