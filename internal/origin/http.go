package origin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// maxHTTPBody bounds a value loaded over HTTP.
const maxHTTPBody = 64 << 20

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return "HTTP status " + strconv.Itoa(e.code) }

type httpBackend struct {
	base string
	path []part
	auth string
	cl   *http.Client
}

func newHTTP(o spec.Origin) (*httpBackend, error) {
	base, err := resolveURL(o)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url must be an http(s) URL")
	}
	tpl := o.Load
	if tpl == "" {
		tpl = "/{key}"
	}
	path, err := parseTemplate(tpl)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", tpl, err)
	}
	b := &httpBackend{base: strings.TrimSuffix(base, "/"), path: path, cl: &http.Client{
		Transport: &http.Transport{MaxConnsPerHost: o.MaxConcurrency, MaxIdleConnsPerHost: o.MaxConcurrency, IdleConnTimeout: time.Minute},
	}}
	if o.AuthEnv != "" {
		b.auth = ""
		if v, ok := lookupEnv(o.AuthEnv); ok {
			b.auth = v
		}
	}
	return b, nil
}

func (b *httpBackend) close() { b.cl.CloseIdleConnections() }

func (b *httpBackend) url(rt *Route, p *Params) string {
	var s strings.Builder
	s.WriteString(b.base)
	for _, x := range b.path {
		if !x.param {
			s.WriteString(x.text)
			continue
		}
		v, _ := rt.param(p, x.text)
		s.WriteString(url.PathEscape(string(v)))
	}
	return s.String()
}

func (b *httpBackend) do(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if b.auth != "" {
		req.Header.Set("Authorization", b.auth)
	}
	resp, err := b.cl.Do(req)
	if err != nil {
		// url.Error repeats the URL; keep only the cause.
		if ue, ok := err.(*url.Error); ok {
			return nil, fmt.Errorf("%s: %w", method, ue.Err)
		}
		return nil, err
	}
	return resp, nil
}

func (b *httpBackend) load(ctx context.Context, rt *Route, p *Params) (Loaded, error) {
	resp, err := b.do(ctx, http.MethodGet, b.url(rt, p), nil)
	if err != nil {
		return Loaded{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Loaded{}, nil
	case resp.StatusCode != http.StatusOK:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Loaded{}, &httpStatusError{resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody+1))
	if err != nil {
		return Loaded{}, err
	}
	if len(body) > maxHTTPBody {
		return Loaded{}, fmt.Errorf("body larger than %d bytes", maxHTTPBody)
	}
	l := Loaded{Found: true, Value: body}
	if ma, ok := maxAge(resp.Header.Get("Cache-Control")); ok {
		l.TTL, l.HasTTL = ma, true
	}
	for _, h := range []string{"Surrogate-Key", "Xkey"} {
		for _, v := range resp.Header.Values(h) {
			l.Tags = append(l.Tags, strings.Fields(v)...)
		}
	}
	return l, nil
}

// maxAge reads max-age (s-maxage wins) from a Cache-Control header;
// no-store and no-cache give 0 (not cached).
func maxAge(cc string) (time.Duration, bool) {
	if cc == "" {
		return 0, false
	}
	var d time.Duration
	found, shared := false, false
	for _, dir := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0, true
		case "max-age", "s-maxage":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			if shared && strings.ToLower(name) == "max-age" {
				continue
			}
			shared = shared || strings.ToLower(name) == "s-maxage"
			d, found = time.Duration(n)*time.Second, true
		}
	}
	return d, found
}

func (b *httpBackend) write(ctx context.Context, route func([]byte) (*Route, *Params), ops []Op) error {
	for _, op := range ops {
		rt, p := route(op.Key)
		if rt == nil {
			return fmt.Errorf("key matches no route")
		}
		method, body := http.MethodPut, op.Value
		if op.Del {
			method, body = http.MethodDelete, nil
		}
		resp, err := b.do(ctx, method, b.url(rt, p), body)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 && !(op.Del && (resp.StatusCode == 404 || resp.StatusCode == 410)) {
			return &httpStatusError{resp.StatusCode}
		}
	}
	return nil
}

func (b *httpBackend) warm(context.Context, *Route, func(key, val []byte) error) error {
	return ErrNoTemplate
}
