package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cachesrv/cachesrv/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newNode(t *testing.T, file string) *Node {
	t.Helper()
	n, err := New(Options{ConfigFile: file, IP: "127.0.0.1", Port: 7000, BusPort: 17000, RequireFullCoverage: true})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func slots(lo, hi int) []int {
	var out []int
	for s := lo; s <= hi; s++ {
		out = append(out, s)
	}
	return out
}

// peer adds a node record as gossip would.
func peer(n *Node, id string, epoch uint64, version uint64, lo, hi int) {
	w := wireRecord{ID: id, Shard: id, IP: "127.0.0.1", Port: 7001, Bus: 17001, Epoch: epoch, Version: version}
	if lo >= 0 {
		w.Slots = [][2]int{{lo, hi}}
	}
	n.merge([]wireRecord{w})
}

var idB = strings.Repeat("b", 40)

func TestConfigFileRoundTrip(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "nodes.conf")
	n := newNode(t, file)
	if err := n.AddSlots(append(slots(0, 99), 500)); err != nil {
		t.Fatal(err)
	}
	if err := n.SetConfigEpoch(3); err != nil {
		t.Fatal(err)
	}
	peer(n, idB, 4, 1, 1000, 1999)
	if err := n.SetSlot(1000, "importing", idB); err != nil {
		t.Fatal(err)
	}
	m := newNode(t, file)
	if m.MyID() != n.MyID() {
		t.Fatalf("id %s after reload, want %s", m.MyID(), n.MyID())
	}
	v := m.View()
	if !v.Mine(0) || !v.Mine(500) || v.Mine(100) || v.MyEpoch != 3 || v.CurrentEpoch != 4 || !v.Importing(1000) {
		t.Fatalf("reloaded view: mine(0)=%v mine(500)=%v epoch=%d current=%d importing=%v", v.Mine(0), v.Mine(500), v.MyEpoch, v.CurrentEpoch, v.Importing(1000))
	}
	if addr, mine := v.Owner(1500); addr != "127.0.0.1:7001" || mine {
		t.Fatalf("owner of 1500 after reload: %q %v", addr, mine)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Dir(file))
	if len(ents) != 1 {
		t.Fatalf("files in the config dir: %v", ents)
	}
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"short line":   "abc def\n",
		"bad slot":     strings.Repeat("a", 40) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 99999\n",
		"no myself":    strings.Repeat("a", 40) + " 127.0.0.1:7000@17000 master - 0 0 1 connected 1-2\n",
		"bad epoch":    strings.Repeat("a", 40) + " 127.0.0.1:7000@17000 myself,master - 0 0 x connected\n",
		"bad address":  strings.Repeat("a", 40) + " nowhere myself,master - 0 0 1 connected\n",
		"bad vars":     strings.Repeat("a", 40) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected\nvars currentEpoch x\n",
		"bad range":    strings.Repeat("a", 40) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 9-2\n",
		"bad migrate":  strings.Repeat("a", 40) + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected [x->-b]\n",
		"bad node id ": "abc 127.0.0.1:7000@17000 myself,master - 0 0 1 connected\n",
	} {
		file := filepath.Join(t.TempDir(), "nodes.conf")
		os.WriteFile(file, []byte(body), 0o644)
		if _, err := New(Options{ConfigFile: file}); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: New = %v, want an error naming the file", name, err)
		}
	}
}

// TestEpochResolution: the higher config epoch wins a slot; the loser
// drops it and deletes its keys; equal epochs bump the smaller id's.
func TestEpochResolution(t *testing.T) {
	t.Parallel()
	st, err := store.New(store.Options{Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	idx := NewIndex(st)
	n, err := New(Options{IP: "127.0.0.1", Port: 7000, BusPort: 17000, Keys: idx, RequireFullCoverage: true})
	if err != nil {
		t.Fatal(err)
	}
	n.AddSlots(slots(0, 16383))
	n.SetConfigEpoch(2)
	// A key in slot 12182 ("foo") and one in 3443.
	for _, k := range []string{"foo", "{user1000}"} {
		h := st.Hash([]byte(k))
		sh := st.ShardFor(h)
		sh.Lock()
		sh.SetLocked(0, []byte(k), h, []byte("v"), store.Meta{}, st.NowMs())
		sh.Unlock()
	}
	if idx.CountKeysInSlot(12182) != 1 || len(idx.KeysInSlot(12182, 10, nil)) != 1 {
		t.Fatal("the index does not list foo")
	}
	// A lower epoch claim loses.
	peer(n, idB, 1, 1, 12000, 12999)
	if !n.View().Mine(12182) {
		t.Fatal("a lower epoch took slot 12182")
	}
	// A higher one wins: the slot and its key are gone from here.
	peer(n, idB, 5, 2, 12000, 12999)
	v := n.View()
	if v.Mine(12182) || !v.Mine(3443) || v.SlotsAssigned != 16384 {
		t.Fatalf("after a higher claim: mine(12182)=%v assigned=%d", v.Mine(12182), v.SlotsAssigned)
	}
	if idx.CountKeysInSlot(12182) != 0 || idx.CountKeysInSlot(3443) != 1 || st.DBSize(0) != 1 {
		t.Fatal("the lost slot's key was not deleted")
	}
	// An old version of the record changes nothing.
	peer(n, idB, 1, 1, -1, 0)
	if n.View().Mine(12182) {
		t.Fatal("an older record version was applied")
	}
	// Same epoch as mine from a smaller id: I bump.
	small := strings.Repeat("0", 40)
	n.mu.Lock()
	n.myself.rec.ConfigEpoch = 9
	n.mu.Unlock()
	peer(n, small, 9, 1, -1, 0)
	if e := n.View().MyEpoch; e <= 9 {
		t.Fatalf("epoch collision not resolved: my epoch %d", e)
	}
}

func TestSetSlotNode(t *testing.T) {
	t.Parallel()
	n := newNode(t, "")
	n.AddSlots(slots(0, 16383))
	n.SetConfigEpoch(1)
	peer(n, idB, 2, 1, -1, 0)
	if err := n.SetSlot(5, "importing", idB); err == nil || err.Error() != "I'm already the owner of hash slot 5" {
		t.Fatalf("importing a slot I own: %v", err)
	}
	if err := n.SetSlot(5, "migrating", idB); err != nil {
		t.Fatal(err)
	}
	if to, ok := n.View().Migrating(5); !ok || to != "127.0.0.1:7001" {
		t.Fatalf("migrating 5: %q %v", to, ok)
	}
	if err := n.SetSlot(5, "node", idB); err != nil {
		t.Fatal(err)
	}
	v := n.View()
	if addr, mine := v.Owner(5); mine || addr != "127.0.0.1:7001" {
		t.Fatalf("owner of 5 after SETSLOT NODE: %q %v", addr, mine)
	}
	if _, ok := v.Migrating(5); ok {
		t.Fatal("SETSLOT NODE left the slot migrating")
	}
	// Taking a slot back bumps the epoch above the other owner's.
	if err := n.SetSlot(5, "importing", idB); err != nil {
		t.Fatal(err)
	}
	if err := n.SetSlot(5, "node", n.MyID()); err != nil {
		t.Fatal(err)
	}
	if v := n.View(); !v.Mine(5) || v.MyEpoch <= 2 {
		t.Fatalf("after taking slot 5 back: mine=%v epoch=%d", v.Mine(5), v.MyEpoch)
	}
	if e, bumped := n.BumpEpoch(); bumped {
		t.Fatalf("BUMPEPOCH with the unique maximum bumped to %d", e)
	}
	if err := n.Forget(idB); err != nil {
		t.Fatal(err)
	}
	peer(n, idB, 2, 5, -1, 0)
	if known, _ := n.Known(idB); known {
		t.Fatal("a forgotten node came back within 60 s")
	}
}

func TestTakeover(t *testing.T) {
	t.Parallel()
	n, err := New(Options{IP: "127.0.0.1", Port: 7000, BusPort: 17000, SlotTakeover: true, RequireFullCoverage: true})
	if err != nil {
		t.Fatal(err)
	}
	n.AddSlots(slots(0, 8191))
	n.SetConfigEpoch(1)
	peer(n, idB, 2, 1, 8192, 16383)
	n.takeover()
	if n.View().Mine(9000) {
		t.Fatal("took over a live node's slots")
	}
	n.mu.Lock()
	n.nodes[idB].failed = true
	n.publishLocked()
	n.mu.Unlock()
	if v := n.View(); v.OK || v.SlotsFail != 8192 {
		t.Fatalf("with a failed owner: ok=%v fail=%d", v.OK, v.SlotsFail)
	}
	n.takeover()
	v := n.View()
	if !v.OK || !v.Mine(16383) || v.MyEpoch <= 2 || n.Stats().SlotsTakenOver.Load() != 8192 {
		t.Fatalf("after takeover: ok=%v mine=%v epoch=%d", v.OK, v.Mine(16383), v.MyEpoch)
	}
}
