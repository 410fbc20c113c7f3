package origin

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Loaded is what an origin returned for one key.
type Loaded struct {
	Value []byte
	Found bool
	// TTL overrides the route's TTL when HasTTL (HTTP Cache-Control).
	TTL    time.Duration
	HasTTL bool
	// Tags are extra tags from the origin (HTTP Surrogate-Key / xkey).
	Tags []string
}

// Op is one write to an origin.
type Op struct {
	Del   bool
	Key   []byte
	Value []byte
}

// backend is one kind of origin.
type backend interface {
	// load reads one key.
	load(ctx context.Context, rt *Route, p *Params) (Loaded, error)
	// write applies ops in order (postgres: in one transaction).
	write(ctx context.Context, rt func(key []byte) (*Route, *Params), ops []Op) error
	// warm calls fn for every key/value the warm query returns for rt.
	warm(ctx context.Context, rt *Route, fn func(key, val []byte) error) error
	close()
}

// Errors of origin calls, wrapped with the origin's reason.
var (
	// ErrCircuitOpen: the origin's circuit breaker is open.
	ErrCircuitOpen = errors.New("circuit open")
	// ErrJournalFull: the write-behind journal reached max_journal_bytes.
	ErrJournalFull = errors.New("write-behind journal full")
	// ErrNoTemplate: the origin has no template for the operation.
	ErrNoTemplate = errors.New("operation not configured for this origin")
	// ErrClosed: the origins are shut down.
	ErrClosed = errors.New("origins are shut down")
)

// Error is an origin failure as clients see it: "ORIGIN <name>: <reason>".
type Error struct {
	Origin string
	Err    error
}

func (e *Error) Error() string { return "ORIGIN " + e.Origin + ": " + reason(e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// reason is a one-line, credential-free description of err.
func reason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	s := err.Error()
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = redactURLs(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// redactURLs hides user:password@ in anything that looks like a URL.
func redactURLs(s string) string {
	for _, scheme := range []string{"postgres://", "postgresql://", "http://", "https://"} {
		from := 0
		for {
			i := strings.Index(s[from:], scheme)
			if i < 0 {
				break
			}
			start := from + i + len(scheme)
			end := start
			for end < len(s) && s[end] != ' ' && s[end] != '/' && s[end] != '"' {
				end++
			}
			if at := strings.LastIndexByte(s[start:end], '@'); at >= 0 {
				s = s[:start] + "redacted@" + s[start+at+1:]
			}
			from = start
		}
	}
	return s
}

// errKind classifies an error for metrics.
func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrJournalFull):
		return "journal_full"
	}
	var he *httpStatusError
	if errors.As(err, &he) {
		return "http_" + strconv.Itoa(he.code/100) + "xx"
	}
	return "error"
}
