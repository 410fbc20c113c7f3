package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The cluster config file follows Redis's nodes.conf layout, one line per
// node and a vars line:
//
//	<id> <ip>:<port>@<cport>,,shard-id=<sid> <flags> - 0 0 <epoch> connected <slots...>
//	vars currentEpoch <n> lastVoteEpoch 0
//
// Slots are ranges ("0-5460") or single slots; this node's line also
// carries [slot->-id] (migrating) and [slot-<-id] (importing) entries.

// saveLocked writes the config file atomically: a temporary file in the
// same directory renamed over the old one. As Redis, it fsyncs (file and
// directory) only when this node's config epoch changed since the last
// save: a crash then finds either file whole, and a power loss may lose a
// slot change that gossip gives back, never an epoch.
func (n *Node) saveLocked() error {
	path := n.opts.ConfigFile
	if path == "" {
		return nil
	}
	var b strings.Builder
	for _, nd := range n.nodes {
		r := nd.rec
		flags := "master"
		if nd == n.myself {
			flags = "myself,master"
		} else if nd.failed {
			flags = "master,fail"
		}
		fmt.Fprintf(&b, "%s %s:%d@%d,,shard-id=%s %s - 0 0 %d connected", r.ID, r.IP, r.Port, r.BusPort, r.ShardID, flags, r.ConfigEpoch)
		for _, rg := range r.Slots.ranges() {
			if rg[0] == rg[1] {
				fmt.Fprintf(&b, " %d", rg[0])
			} else {
				fmt.Fprintf(&b, " %d-%d", rg[0], rg[1])
			}
		}
		if nd == n.myself {
			for s, id := range n.migrating {
				fmt.Fprintf(&b, " [%d->-%s]", s, id)
			}
			for s, id := range n.importing {
				fmt.Fprintf(&b, " [%d-<-%s]", s, id)
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "vars currentEpoch %d lastVoteEpoch 0\n", n.currentEpoch)
	sync := n.myself.rec.ConfigEpoch != n.savedEpoch || !n.saved
	if err := writeFileAtomic(path, []byte(b.String()), sync); err != nil {
		return err
	}
	n.savedEpoch, n.saved = n.myself.rec.ConfigEpoch, true
	return nil
}

func writeFileAtomic(path string, data []byte, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write cluster config: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write cluster config: %w", err)
	}
	if !sync {
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// load reads the config file; false when it does not exist.
func (n *Node) load(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "vars" {
			for i := 1; i+1 < len(fields); i += 2 {
				if fields[i] == "currentEpoch" {
					e, err := strconv.ParseUint(fields[i+1], 10, 64)
					if err != nil {
						return false, fmt.Errorf("line %d: bad currentEpoch %q", line, fields[i+1])
					}
					n.currentEpoch = e
				}
			}
			continue
		}
		nd, myself, err := n.parseNodeLine(fields)
		if err != nil {
			return false, fmt.Errorf("line %d: %w", line, err)
		}
		n.nodes[nd.rec.ID] = nd
		if myself {
			n.myself = nd
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	if n.myself == nil {
		return false, errors.New("no line for this node (flag myself)")
	}
	return true, nil
}

func (n *Node) parseNodeLine(f []string) (*node, bool, error) {
	if len(f) < 8 {
		return nil, false, fmt.Errorf("expected at least 8 fields, got %d", len(f))
	}
	if len(f[0]) != 40 {
		return nil, false, fmt.Errorf("bad node id %q", f[0])
	}
	nd := &node{rec: Record{ID: f[0]}}
	addr, aux, _ := strings.Cut(f[1], ",")
	for _, kv := range strings.Split(aux, ",") {
		if v, ok := strings.CutPrefix(kv, "shard-id="); ok {
			nd.rec.ShardID = v
		}
	}
	if nd.rec.ShardID == "" {
		nd.rec.ShardID = NewNodeID()
	}
	hostport, cport, _ := strings.Cut(addr, "@")
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return nil, false, fmt.Errorf("bad address %q", f[1])
	}
	nd.rec.IP = hostport[:i]
	var err error
	if nd.rec.Port, err = strconv.Atoi(hostport[i+1:]); err != nil {
		return nil, false, fmt.Errorf("bad address %q", f[1])
	}
	if nd.rec.BusPort, err = strconv.Atoi(cport); err != nil {
		return nil, false, fmt.Errorf("bad address %q", f[1])
	}
	myself := strings.Contains(f[2], "myself")
	nd.failed = strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?")
	if nd.rec.ConfigEpoch, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return nil, false, fmt.Errorf("bad config epoch %q", f[6])
	}
	for _, s := range f[8:] {
		if strings.HasPrefix(s, "[") {
			body := strings.Trim(s, "[]")
			if a, id, ok := strings.Cut(body, "->-"); ok {
				slot, err := strconv.Atoi(a)
				if err != nil || slot < 0 || slot >= Slots {
					return nil, false, fmt.Errorf("bad slot %q", s)
				}
				n.migrating[slot] = id
			} else if a, id, ok := strings.Cut(body, "-<-"); ok {
				slot, err := strconv.Atoi(a)
				if err != nil || slot < 0 || slot >= Slots {
					return nil, false, fmt.Errorf("bad slot %q", s)
				}
				n.importing[slot] = id
			}
			continue
		}
		lo, hi, isRange := strings.Cut(s, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b >= Slots || a > b {
			return nil, false, fmt.Errorf("bad slot %q", s)
		}
		for x := a; x <= b; x++ {
			nd.rec.Slots.set(x)
		}
	}
	nd.joined = myself
	return nd, myself, nil
}
