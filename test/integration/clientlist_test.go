package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientFields parses CLIENT LIST's line for the client with the given name.
func clientFields(t *testing.T, list, name string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] == name {
			return f
		}
	}
	t.Fatalf("no client named %s in\n%s", name, list)
	return nil
}

// TestClientListReportsRealState: CLIENT LIST shows each connection's real
// descriptor, buffers, subscriptions and MULTI state (issue 14: it printed
// fd=-1 qbuf=0 qbuf-free=0 tot-mem=0 and sub=0 multi=-1 for everyone).
func TestClientListReportsRealState(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()

	sub := s.raw()
	sub.cmd("CLIENT", "SETNAME", "sub")
	sub.reply()
	sub.cmd("SUBSCRIBE", "a", "b")
	sub.reply()
	sub.reply()
	sub.cmd("PSUBSCRIBE", "p*")
	sub.reply()

	tx := s.raw()
	tx.cmd("CLIENT", "SETNAME", "tx")
	tx.reply()
	tx.cmd("MULTI")
	tx.reply()
	tx.cmd("SET", "k", "v")
	tx.reply()
	tx.cmd("INCR", "n")
	tx.reply()

	c := s.client(2)
	c.Do(ctx, "CLIENT", "SETNAME", "lister")
	var list string
	// The other connections publish their state before their next read:
	// wait until both have read their last command.
	deadline := time.Now().Add(5 * time.Second)
	for {
		list = c.ClientList(ctx).Val()
		if strings.Contains(list, "psub=1") && strings.Contains(list, "multi=2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state never published:\n%s", list)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fs, ft := clientFields(t, list, "sub"), clientFields(t, list, "tx")
	if fs["sub"] != "2" || fs["psub"] != "1" || fs["flags"] != "P" {
		t.Errorf("subscriber: sub=%s psub=%s flags=%s", fs["sub"], fs["psub"], fs["flags"])
	}
	if ft["multi"] != "2" || ft["flags"] != "x" {
		t.Errorf("transaction: multi=%s flags=%s", ft["multi"], ft["flags"])
	}
	self := clientFields(t, list, "lister")
	for _, f := range []map[string]string{fs, ft, self} {
		fd, _ := strconv.Atoi(f["fd"])
		free, _ := strconv.Atoi(f["qbuf-free"])
		mem, _ := strconv.Atoi(f["tot-mem"])
		if fd <= 2 || free <= 0 || mem <= 0 {
			t.Errorf("%s: fd=%s qbuf-free=%s tot-mem=%s", f["name"], f["fd"], f["qbuf-free"], f["tot-mem"])
		}
	}
	if fs["fd"] == ft["fd"] {
		t.Errorf("two connections share fd %s", fs["fd"])
	}
	info := c.ClientInfo(ctx)
	if info.Err() != nil || info.Val().Name != "lister" || info.Val().Flags != 0 {
		t.Errorf("CLIENT INFO: %+v %v", info.Val(), info.Err())
	}
}
