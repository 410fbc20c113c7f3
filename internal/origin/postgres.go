package origin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// sqlTemplate is SQL with {name} parameters turned into $n.
type sqlTemplate struct {
	sql   string
	names []string // argument names, $1 first
}

func compileSQL(s string) (*sqlTemplate, error) {
	if s == "" {
		return nil, nil
	}
	parts, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	t := &sqlTemplate{}
	var b strings.Builder
	idx := map[string]int{}
	for _, p := range parts {
		if !p.param {
			b.WriteString(p.text)
			continue
		}
		n, ok := idx[p.text]
		if !ok {
			t.names = append(t.names, p.text)
			n = len(t.names)
			idx[p.text] = n
		}
		fmt.Fprintf(&b, "$%d", n)
	}
	t.sql = b.String()
	return t, nil
}

// args resolves the template's arguments for a key.
func (t *sqlTemplate) args(rt *Route, p *Params, value []byte) []any {
	out := make([]any, len(t.names))
	for i, n := range t.names {
		if n == "value" {
			out[i] = string(value)
			continue
		}
		v, _ := rt.param(p, n)
		out[i] = string(v)
	}
	return out
}

// check verifies that every parameter of t exists in rt.
func (t *sqlTemplate) check(rt *Route, allowValue bool) error {
	if t == nil {
		return nil
	}
	for _, n := range t.names {
		if n == "value" && allowValue {
			continue
		}
		if _, ok := rt.param(&Params{Values: make([][]byte, len(rt.params))}, n); !ok {
			return fmt.Errorf("parameter {%s} is not in route %q", n, rt.Name)
		}
	}
	return nil
}

// resolveURL finds an origin's URL without ever logging it.
func resolveURL(o spec.Origin) (string, error) {
	switch {
	case o.URLEnv != "":
		v := os.Getenv(o.URLEnv)
		if v == "" && o.Kind == spec.KindHTTP {
			return "", fmt.Errorf("environment variable %s is empty", o.URLEnv)
		}
		if v != "" {
			return v, nil
		}
		return o.URL, nil
	case o.URLFile != "":
		b, err := os.ReadFile(o.URLFile)
		if err != nil {
			return "", fmt.Errorf("read url_file: %w", errors.Unwrap(err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return o.URL, nil
}

type pgBackend struct {
	pool                       *pgxpool.Pool
	loadT, storeT, delT, warmT *sqlTemplate
}

func newPostgres(ctx context.Context, o spec.Origin) (*pgBackend, error) {
	url, err := resolveURL(o)
	if err != nil {
		return nil, err
	}
	// An empty URL makes pgx read libpq's PGHOST, PGPORT, PGUSER... .
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %s", reason(err))
	}
	cfg.MaxConns = int32(o.MaxConcurrency)
	b := &pgBackend{}
	for _, x := range []struct {
		dst **sqlTemplate
		src string
	}{{&b.loadT, o.Load}, {&b.storeT, o.Store}, {&b.delT, o.Delete}, {&b.warmT, o.Warm}} {
		if *x.dst, err = compileSQL(x.src); err != nil {
			return nil, fmt.Errorf("template %q: %w", x.src, err)
		}
	}
	// The pool connects lazily: a database that is down at start makes
	// calls fail (and the breaker open), not the server refuse to start.
	if b.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connect: %s", reason(err))
	}
	return b, nil
}

func (b *pgBackend) close() { b.pool.Close() }

// textOrBytes asks PostgreSQL for text results, except bytea in binary so
// that its bytes arrive as they are; a json column arrives as its text.
var textOrBytes = pgx.QueryResultFormatsByOID{pgtype.ByteaOID: pgx.BinaryFormatCode}

func (b *pgBackend) load(ctx context.Context, rt *Route, p *Params) (Loaded, error) {
	if b.loadT == nil {
		return Loaded{}, ErrNoTemplate
	}
	args := append([]any{textOrBytes, pgx.QueryExecModeCacheDescribe}, b.loadT.args(rt, p, nil)...)
	rows, err := b.pool.Query(ctx, b.loadT.sql, args...)
	if err != nil {
		return Loaded{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		return Loaded{}, rows.Err()
	}
	raw := rows.RawValues()
	if len(raw) == 0 {
		return Loaded{}, errors.New("load query returned no columns")
	}
	l := Loaded{Found: true, Value: append([]byte{}, raw[0]...)}
	if raw[0] == nil {
		l.Value = []byte{}
	}
	rows.Close()
	return l, rows.Err()
}

func (b *pgBackend) write(ctx context.Context, route func([]byte) (*Route, *Params), ops []Op) error {
	var batch pgx.Batch
	for _, op := range ops {
		t := b.storeT
		if op.Del {
			t = b.delT
		}
		if t == nil {
			return ErrNoTemplate
		}
		rt, p := route(op.Key)
		if rt == nil {
			return fmt.Errorf("key matches no route")
		}
		batch.Queue(t.sql, t.args(rt, p, op.Value)...)
	}
	if len(ops) == 1 {
		return b.pool.SendBatch(ctx, &batch).Close()
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (b *pgBackend) warm(ctx context.Context, rt *Route, fn func(key, val []byte) error) error {
	if b.warmT == nil {
		return ErrNoTemplate
	}
	rows, err := b.pool.Query(ctx, b.warmT.sql, textOrBytes)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := map[string][]byte{}
	for rows.Next() {
		fds := rows.FieldDescriptions()
		raw := rows.RawValues()
		var val []byte
		hasVal := false
		clear(vals)
		for i, fd := range fds {
			if fd.Name == "value" {
				val, hasVal = raw[i], true
			} else {
				vals[fd.Name] = raw[i]
			}
		}
		if !hasVal {
			return errors.New("warm query has no column named value")
		}
		key, ok := rt.keyFor(vals)
		if !ok {
			return fmt.Errorf("warm query lacks the columns of route %q", rt.Name)
		}
		if err := fn(key, val); err != nil {
			return err
		}
	}
	return rows.Err()
}
