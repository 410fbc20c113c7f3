package origin

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// part is one piece of a pattern or template: literal text, or a parameter
// name when param is set.
type part struct {
	text  string
	param bool
}

// parseTemplate splits "user:{id}" into parts. Parameters are [A-Za-z0-9_]+.
func parseTemplate(s string) ([]part, error) {
	var out []part
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			if strings.IndexByte(s, '}') >= 0 {
				return nil, fmt.Errorf("unbalanced '}'")
			}
			out = append(out, part{text: s})
			break
		}
		if i > 0 {
			if strings.IndexByte(s[:i], '}') >= 0 {
				return nil, fmt.Errorf("unbalanced '}'")
			}
			out = append(out, part{text: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unterminated '{'")
		}
		name := s[i+1 : i+j]
		if name == "" {
			return nil, fmt.Errorf("empty parameter name")
		}
		for _, r := range name {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return nil, fmt.Errorf("bad parameter name %q", name)
			}
		}
		out = append(out, part{text: name, param: true})
		s = s[i+j+1:]
	}
	return out, nil
}

// Route is a compiled route. It is read-only after New.
type Route struct {
	Name   string // the pattern as configured
	Origin *Origin
	spec   spec.Route
	parts  []part
	prefix []byte // literal text before the first parameter
	params []string
	tags   [][]part
	readThrough,
	writeThrough, writeBehind bool
	ttl, negTTL time.Duration
	schedule    cron.Schedule // warm_schedule; nil: none
}

func compileRoute(r spec.Route) (*Route, error) {
	parts, err := parseTemplate(r.Pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", r.Pattern, err)
	}
	rt := &Route{Name: r.Pattern, spec: r, parts: parts}
	if len(parts) > 0 && !parts[0].param {
		rt.prefix = []byte(parts[0].text)
	}
	seen := map[string]bool{}
	for i, p := range parts {
		if !p.param {
			continue
		}
		if p.text == "key" || p.text == "value" {
			return nil, fmt.Errorf("pattern %q: parameter name %q is reserved", r.Pattern, p.text)
		}
		if seen[p.text] {
			return nil, fmt.Errorf("pattern %q: parameter %q appears twice", r.Pattern, p.text)
		}
		if i > 0 && parts[i-1].param {
			return nil, fmt.Errorf("pattern %q: two parameters need literal text between them", r.Pattern)
		}
		seen[p.text] = true
		rt.params = append(rt.params, p.text)
	}
	if len(rt.params) == 0 {
		return nil, fmt.Errorf("pattern %q: needs at least one {parameter}", r.Pattern)
	}
	for _, t := range r.Tags {
		tp, err := parseTemplate(t)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", t, err)
		}
		for _, p := range tp {
			if p.param && !seen[p.text] && p.text != "key" {
				return nil, fmt.Errorf("tag %q: unknown parameter %q", t, p.text)
			}
		}
		rt.tags = append(rt.tags, tp)
	}
	switch r.Read {
	case "", spec.ReadThrough:
		rt.readThrough = true
	case spec.ReadNone:
	default:
		return nil, fmt.Errorf("read: %q is not through or none", r.Read)
	}
	switch r.Write {
	case "", spec.WriteNone:
	case spec.WriteThrough:
		rt.writeThrough = true
	case spec.WriteBehindM:
		rt.writeBehind = true
	default:
		return nil, fmt.Errorf("write: %q is not through, behind or none", r.Write)
	}
	if r.WarmSchedule != "" {
		sch, err := cron.ParseStandard(r.WarmSchedule)
		if err != nil {
			return nil, fmt.Errorf("warm_schedule %q: %w", r.WarmSchedule, err)
		}
		if !r.Warm {
			return nil, fmt.Errorf("warm_schedule needs warm: true")
		}
		rt.schedule = sch
	}
	switch r.OnGap {
	case "", "flush", "none":
	default:
		return nil, fmt.Errorf("on_gap: %q is not flush or none", r.OnGap)
	}
	if r.TTL < 0 {
		return nil, fmt.Errorf("ttl must not be negative")
	}
	if r.RefreshAhead < 0 || r.RefreshAhead >= 1 {
		return nil, fmt.Errorf("refresh_ahead must be a fraction in [0, 1), got %v", r.RefreshAhead)
	}
	if r.RefreshAhead > 0 && r.TTL == 0 {
		return nil, fmt.Errorf("refresh_ahead needs a ttl")
	}
	rt.ttl = r.TTL
	switch {
	case r.NegativeTTL == 0:
		rt.negTTL = 30 * time.Second
	case r.NegativeTTL > 0:
		rt.negTTL = r.NegativeTTL
	}
	return rt, nil
}

// Params holds a matched key's parameters, in the route's order.
type Params struct {
	Key    []byte
	Values [][]byte
}

// Get returns the named parameter ("key" is the whole key).
func (r *Route) param(p *Params, name string) ([]byte, bool) {
	if name == "key" {
		return p.Key, true
	}
	for i, n := range r.params {
		if n == name {
			return p.Values[i], true
		}
	}
	return nil, false
}

// match reports whether key matches the pattern and appends the parameter
// values (aliasing key) to dst.
func (r *Route) match(key []byte, dst [][]byte) ([][]byte, bool) {
	if !bytes.HasPrefix(key, r.prefix) {
		return dst, false
	}
	s := key
	for i, p := range r.parts {
		if !p.param {
			if !bytes.HasPrefix(s, []byte(p.text)) {
				return dst, false
			}
			s = s[len(p.text):]
			continue
		}
		// A parameter runs to the next literal (or the end) and may not
		// contain ':'.
		end := len(s)
		if i+1 < len(r.parts) {
			end = bytes.Index(s, []byte(r.parts[i+1].text))
			if end < 0 {
				return dst, false
			}
		}
		v := s[:end]
		if len(v) == 0 || bytes.IndexByte(v, ':') >= 0 {
			return dst, false
		}
		dst = append(dst, v)
		s = s[end:]
	}
	return dst, len(s) == 0
}

// Match reports whether key matches the route's pattern.
func (r *Route) Match(key []byte) bool {
	var buf [4][]byte
	_, ok := r.match(key, buf[:0])
	return ok
}

// expand fills a template with a matched key's parameters.
func (r *Route) expand(t []part, p *Params) []byte {
	var out []byte
	for _, x := range t {
		if !x.param {
			out = append(out, x.text...)
			continue
		}
		v, _ := r.param(p, x.text)
		out = append(out, v...)
	}
	return out
}

// KeyFor builds the key of the route from parameter values by name (warm).
func (r *Route) keyFor(vals map[string][]byte) ([]byte, bool) {
	var out []byte
	for _, x := range r.parts {
		if !x.param {
			out = append(out, x.text...)
			continue
		}
		v, ok := vals[x.text]
		if !ok || len(v) == 0 {
			return nil, false
		}
		out = append(out, v...)
	}
	return out, true
}

// Mode describes the route in one word per direction (ORIGIN LIST).
func (r *Route) Mode() (read, write string) {
	read, write = spec.ReadNone, spec.WriteNone
	if r.readThrough {
		read = spec.ReadThrough
	}
	if r.writeThrough {
		write = spec.WriteThrough
	}
	if r.writeBehind {
		write = spec.WriteBehindM
	}
	return read, write
}
