package integration

import (
	"context"
	"sort"
	"strings"
	"testing"
)

// TestConfigGetAllIsSettable: every parameter CONFIG GET * lists can be set
// to its own current value, or is refused with Redis's immutable-config
// error (issue 14: `save` and `appendonly` were listed but unknown to SET).
func TestConfigGetAllIsSettable(t *testing.T) {
	s := start(t, nil)
	c := s.client(2)
	ctx := context.Background()
	all, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 50 {
		t.Fatalf("CONFIG GET * listed only %d parameters", len(all))
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	immutable := 0
	for _, name := range names {
		err := c.ConfigSet(ctx, name, all[name]).Err()
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "can't set immutable config"):
			immutable++
		default:
			t.Errorf("CONFIG SET %s %q: %v", name, all[name], err)
		}
	}
	// Setting every parameter to its own value changes nothing.
	after, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if after[name] != all[name] {
			t.Errorf("%s: %q after setting it to itself, was %q", name, after[name], all[name])
		}
	}
	if err := c.ConfigSet(ctx, "appendonly", "yes").Err(); err == nil ||
		!strings.HasPrefix(err.Error(), "ERR CONFIG SET failed (possibly related to argument 'appendonly') - ") {
		t.Errorf("CONFIG SET appendonly yes: %v", err)
	}
	if immutable == 0 || immutable == len(names) {
		t.Fatalf("%d of %d parameters immutable", immutable, len(names))
	}
}
