package protocol

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cachesrv/cachesrv/internal/cmdtab"
	"github.com/cachesrv/cachesrv/internal/rdb"
	"github.com/cachesrv/cachesrv/internal/store"
)

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
// [AUTH password | AUTH2 username password] [KEYS key ...], as Redis 7:
// DUMP each key, RESTORE it on the target (RESTORE-ASKING in cluster
// mode, so an importing slot accepts it), delete it here unless COPY.
//
// The keys' shards stay locked from the DUMP to the delete, as Redis's
// single thread does: a write cannot slip between the copy and the
// delete and be lost. Keys DUMP cannot serialise here (collections) and
// keys carrying tags, dependencies or a version (which RESTORE cannot
// carry) are not copied: they are deleted from this node, unless COPY,
// and counted (cluster_keys_dropped_in_migration); a cache refills them.
// docs/cluster.md describes it.

// migrateConns caches connections to MIGRATE targets for 10 s, as Redis
// does, so a reshard does not dial once per batch of keys.
type migrateConns struct {
	mu    sync.Mutex
	conns map[string]*migrateConn
}

type migrateConn struct {
	nc   net.Conn
	rd   *bufio.Reader
	last time.Time
	db   int // the database selected on the connection
}

const migrateIdle = 10 * time.Second

// take returns a cached connection to addr or dials one.
func (m *migrateConns) take(addr string, timeout time.Duration) (*migrateConn, error) {
	m.mu.Lock()
	mc := m.conns[addr]
	delete(m.conns, addr)
	m.mu.Unlock()
	if mc != nil && time.Since(mc.last) < migrateIdle {
		return mc, nil
	}
	if mc != nil {
		mc.nc.Close()
	}
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &migrateConn{nc: nc, rd: bufio.NewReader(nc)}, nil
}

// give returns a healthy connection to the cache.
func (m *migrateConns) give(addr string, mc *migrateConn) {
	mc.last = time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		m.conns = make(map[string]*migrateConn)
	}
	if old := m.conns[addr]; old != nil {
		old.nc.Close()
	}
	m.conns[addr] = mc
}

// CloseMigrateConns closes the cached MIGRATE connections (at shutdown).
func (s *Server) CloseMigrateConns() {
	s.migrate.mu.Lock()
	defer s.migrate.mu.Unlock()
	for addr, mc := range s.migrate.conns {
		mc.nc.Close()
		delete(s.migrate.conns, addr)
	}
}

// migrateKeys finds MIGRATE's keys: the key argument, or those after KEYS
// when it is empty.
func migrateKeys(args [][]byte, dst []int) []int {
	if len(args) < 6 {
		return dst
	}
	if len(args[3]) > 0 {
		return append(dst, 3)
	}
	for i := 6; i < len(args); i++ {
		if eq(args[i], "keys") {
			for j := i + 1; j < len(args); j++ {
				dst = append(dst, j)
			}
			break
		}
	}
	return dst
}

func addMigrateCommands(t *Table) {
	t.add(&Command{Spec: cmdtab.Spec{Name: "migrate", Arity: -6, Flags: FlagWrite, FirstKey: 3, LastKey: 3, Step: 1, Category: "keyspace dangerous", Group: "generic", Since: "2.6.0", Summary: "Atomically transfers a key from one Redis instance to another.", Keys: migrateKeys}, Handler: cmdMigrate})
	t.add(&Command{Spec: cmdtab.Spec{Name: "restore-asking", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Category: "keyspace dangerous", Group: "server", Since: "3.0.0", Summary: "An internal command for migrating keys in a cluster (RESTORE that an importing slot accepts without ASKING)."}, Handler: cmdRestore})
}

func cmdMigrate(c *Client, args [][]byte) {
	host, port := string(args[1]), string(args[2])
	var copyKeys, replace bool
	var user, pass []byte
	var keys [][]byte
	for i := 6; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case eq(args[i], "copy"):
			copyKeys = true
		case eq(args[i], "replace"):
			replace = true
		case eq(args[i], "auth") && more >= 1:
			pass = args[i+1]
			i++
		case eq(args[i], "auth2") && more >= 2:
			user, pass = args[i+1], args[i+2]
			i += 2
		case eq(args[i], "keys"):
			if len(args[3]) != 0 {
				c.addError("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
				return
			}
			keys = args[i+1:]
			i = len(args)
		default:
			c.addError(errSyntax)
			return
		}
	}
	if keys == nil {
		keys = args[3:4]
	}
	db, ok1 := parseInt(args[4])
	timeout, ok2 := parseInt(args[5])
	if !ok1 || !ok2 || db < 0 {
		c.addError("ERR value is not an integer or out of range")
		return
	}
	if timeout <= 0 {
		timeout = 1000
	}
	to := time.Duration(timeout) * time.Millisecond

	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	type item struct {
		key     []byte
		payload []byte
		ttl     int64
	}
	var items []item
	var drop [][]byte
	var rc rdb.Collection
	for _, k := range keys {
		h := c.st.Hash(k)
		e, ok := c.tx.Lookup(c.db, k, h, store.NoTouch|store.NoStats)
		if !ok {
			continue
		}
		var payload []byte
		switch e.Type {
		case store.TypeString:
			payload = rdb.DumpString(nil, e.Value)
		case store.TypeList, store.TypeSet, store.TypeZSet, store.TypeHash:
			if !c.collToRDB(e.Type, e.Value, &rc) {
				return // replied: a corrupt value
			}
			payload = rdb.DumpCollection(nil, &rc)
		}
		if payload == nil || len(e.Tags) > 0 || e.Version != 0 {
			drop = append(drop, k)
			continue
		}
		ttl := int64(0)
		if e.Deadline != 0 {
			ttl = max(e.Deadline-c.now, 1)
		}
		items = append(items, item{key: k, payload: payload, ttl: ttl})
	}
	if len(items) == 0 && len(drop) == 0 {
		c.addSimple("NOKEY")
		return
	}
	if !copyKeys {
		for _, k := range drop {
			h := c.st.Hash(k)
			c.tx.Delete(c.db, k, h, store.Deleted)
		}
		c.srv.migrateDropped.Add(int64(len(drop)))
	}
	if len(items) == 0 {
		c.addOK()
		return
	}
	addr := net.JoinHostPort(host, port)
	mc, err := c.srv.migrate.take(addr, to)
	if err != nil {
		c.addError("IOERR error or timeout connecting to the client")
		return
	}
	restore := "RESTORE"
	if c.srv.cluster != nil {
		restore = "RESTORE-ASKING"
	}
	var out []byte
	var pre int // replies to the commands before the RESTOREs
	if pass != nil {
		if user != nil {
			out = appendCommand(out, []byte("AUTH"), user, pass)
		} else {
			out = appendCommand(out, []byte("AUTH"), pass)
		}
		pre++
	}
	if int(db) != mc.db {
		out = appendCommand(out, []byte("SELECT"), []byte(strconv.FormatInt(db, 10)))
		pre++
	}
	for _, it := range items {
		ttl := []byte(strconv.FormatInt(it.ttl, 10))
		if replace {
			out = appendCommand(out, []byte(restore), it.key, ttl, it.payload, []byte("REPLACE"))
		} else {
			out = appendCommand(out, []byte(restore), it.key, ttl, it.payload)
		}
	}
	mc.nc.SetDeadline(time.Now().Add(to))
	if _, err := mc.nc.Write(out); err != nil {
		mc.nc.Close()
		c.addError("IOERR error or timeout writing to target instance")
		return
	}
	var firstErr string
	for i := 0; i < pre; i++ {
		line, err := readReplyLine(mc.rd)
		if err != nil {
			mc.nc.Close()
			c.addError("IOERR error or timeout reading to target node")
			return
		}
		if line[0] == '-' && firstErr == "" {
			firstErr = line[1:]
		}
	}
	if firstErr == "" {
		mc.db = int(db)
	}
	moved := int64(0)
	for _, it := range items {
		line, err := readReplyLine(mc.rd)
		if err != nil {
			mc.nc.Close()
			c.addError("IOERR error or timeout reading to target node")
			return
		}
		if line[0] == '-' {
			if firstErr == "" {
				firstErr = line[1:]
			}
			continue
		}
		if !copyKeys {
			h := c.st.Hash(it.key)
			c.tx.Delete(c.db, it.key, h, store.Deleted)
		}
		moved++
	}
	mc.nc.SetDeadline(time.Time{})
	c.srv.migrate.give(addr, mc)
	if c.srv.cluster != nil {
		c.srv.cluster.Stats().KeysMigratedOut.Add(moved)
	}
	if firstErr != "" {
		c.addError("ERR Target instance replied with error: " + firstErr)
		return
	}
	c.addOK()
}

// appendCommand encodes a command as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

var errBadReply = errors.New("unexpected reply")

// readReplyLine reads one simple reply (+, -, :) from a MIGRATE target;
// bulk and array replies are not expected from AUTH, SELECT or RESTORE.
func readReplyLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return "", errBadReply
	}
	line = line[:len(line)-2]
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	}
	return "", errBadReply
}
