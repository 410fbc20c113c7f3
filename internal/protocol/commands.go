package protocol

import "github.com/cachesrv/cachesrv/internal/cmdtab"

// buildTable is the single place where commands are declared: name, arity,
// flags, key positions, ACL category, docs and handler. Dispatch, COMMAND,
// ACL categories and per-command metrics all read this table. leases binds
// the CACHE.* handlers (nil: they reply that stampede protection is off).
func buildTable(leases *leaseHandlers) *Table {
	t := newTable()
	const (
		w   = FlagWrite | FlagDenyOOM
		r   = FlagReadonly
		f   = FlagFast
		adm = FlagAdmin | FlagNoScript
	)
	str := func(name string, arity int, flags Flag, first, last, step int, since, summary string, h Handler) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Category: "string", Group: "string", Since: since, Summary: summary}, Handler: h})
	}
	key := func(name string, arity int, flags Flag, first, last, step int, since, summary string, h Handler) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Category: "keyspace", Group: "generic", Since: since, Summary: summary}, Handler: h})
	}
	srv := func(name string, arity int, flags Flag, category, group, since, summary string, h Handler) *Command {
		cmd := &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, Category: category, Group: group, Since: since, Summary: summary}, Handler: h}
		if h == nil {
			cmd.Subs = map[string]*Command{}
		}
		return t.add(cmd)
	}
	sub := func(parent *Command, name string, arity int, flags Flag, summary string, h Handler) {
		t.addSub(parent, &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, Category: parent.Category, Group: parent.Group, Since: parent.Since, Summary: summary}, Handler: h})
	}
	subKey := func(parent *Command, name string, arity int, flags Flag, summary string, h Handler) {
		t.addSub(parent, &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: 2, LastKey: 2, Step: 1, Category: parent.Category, Group: parent.Group, Since: parent.Since, Summary: summary}, Handler: h})
	}

	// Strings
	str("get", 2, r|f, 1, 1, 1, "1.0.0", "Returns the string value of a key.", cmdGet)
	str("set", -3, w, 1, 1, 1, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", cmdSet)
	str("setnx", 3, w|f, 1, 1, 1, "1.0.0", "Set the string value of a key only when the key doesn't exist.", cmdSetNX)
	str("setex", 4, w, 1, 1, 1, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", cmdSetEX)
	str("psetex", 4, w, 1, 1, 1, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", cmdPSetEX)
	str("getset", 3, w|f, 1, 1, 1, "1.0.0", "Returns the previous string value of a key after setting it to a new value.", cmdGetSet)
	str("getdel", 2, FlagWrite|f, 1, 1, 1, "6.2.0", "Returns the string value of a key after deleting the key.", cmdGetDel)
	str("getex", -2, FlagWrite|f, 1, 1, 1, "6.2.0", "Returns the string value of a key after setting its expiration time.", cmdGetEx)
	str("mget", -2, r|f, 1, -1, 1, "1.0.0", "Atomically returns the string values of one or more keys.", cmdMGet)
	str("mset", -3, w, 1, -1, 2, "1.0.1", "Atomically creates or modifies the string values of one or more keys.", cmdMSet)
	str("msetnx", -3, w, 1, -1, 2, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", cmdMSetNX)
	str("incr", 2, w|f, 1, 1, 1, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", cmdIncr)
	str("decr", 2, w|f, 1, 1, 1, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", cmdDecr)
	str("incrby", 3, w|f, 1, 1, 1, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", cmdIncrBy)
	str("decrby", 3, w|f, 1, 1, 1, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", cmdDecrBy)
	str("incrbyfloat", 3, w|f, 1, 1, 1, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", cmdIncrByFloat)
	str("append", 3, w|f, 1, 1, 1, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", cmdAppend)
	str("strlen", 2, r|f, 1, 1, 1, "2.2.0", "Returns the length of a string value.", cmdStrlen)
	str("getrange", 4, r, 1, 1, 1, "2.4.0", "Returns a substring of the string stored at a key.", cmdGetRange)
	str("substr", 4, r, 1, 1, 1, "1.0.0", "Returns a substring from a string value.", cmdGetRange)
	str("setrange", 4, w, 1, 1, 1, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", cmdSetRange)

	// Keys
	key("del", -2, FlagWrite, 1, -1, 1, "1.0.0", "Deletes one or more keys.", cmdDel)
	key("unlink", -2, FlagWrite|f, 1, -1, 1, "4.0.0", "Asynchronously deletes one or more keys.", cmdDel)
	key("exists", -2, r|f, 1, -1, 1, "1.0.0", "Determines whether one or more keys exist.", cmdExists)
	key("touch", -2, r|f, 1, -1, 1, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", cmdTouch)
	key("type", 2, r|f, 1, 1, 1, "1.0.0", "Determines the type of value stored at a key.", cmdType)
	key("rename", 3, FlagWrite, 1, 2, 1, "1.0.0", "Renames a key and overwrites the destination.", cmdRename)
	key("renamenx", 3, FlagWrite|f, 1, 2, 1, "1.0.0", "Renames a key only when the target key name doesn't exist.", cmdRenameNX)
	key("copy", -3, w, 1, 2, 1, "6.2.0", "Copies the value of a key to a new key.", cmdCopy)
	key("move", 3, FlagWrite|f, 1, 1, 1, "1.0.0", "Moves a key to another database.", cmdMove)
	key("keys", 2, r, 0, 0, 0, "1.0.0", "Returns all key names that match a pattern.", cmdKeys)
	key("scan", -2, r, 0, 0, 0, "2.8.0", "Iterates over the key names in the database.", cmdScan)
	key("randomkey", 1, r, 0, 0, 0, "1.0.0", "Returns a random key name from the database.", cmdRandomKey)
	key("expire", -3, FlagWrite|f, 1, 1, 1, "1.0.0", "Sets the expiration time of a key in seconds.", cmdExpire)
	key("pexpire", -3, FlagWrite|f, 1, 1, 1, "2.6.0", "Sets the expiration time of a key in milliseconds.", cmdPExpire)
	key("expireat", -3, FlagWrite|f, 1, 1, 1, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", cmdExpireAt)
	key("pexpireat", -3, FlagWrite|f, 1, 1, 1, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", cmdPExpireAt)
	key("ttl", 2, r|f, 1, 1, 1, "1.0.0", "Returns the expiration time in seconds of a key.", cmdTTL)
	key("pttl", 2, r|f, 1, 1, 1, "2.6.0", "Returns the expiration time in milliseconds of a key.", cmdPTTL)
	key("expiretime", 2, r|f, 1, 1, 1, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", cmdExpireTime)
	key("pexpiretime", 2, r|f, 1, 1, 1, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", cmdPExpireTime)
	key("persist", 2, FlagWrite|f, 1, 1, 1, "2.2.0", "Removes the expiration time of a key.", cmdPersist)
	// Persistence (cmd_persist.go)
	key("dump", 2, r, 1, 1, 1, "2.6.0", "Returns a serialized representation of the value stored at a key.", cmdDump)
	key("restore", -4, w, 1, 1, 1, "2.6.0", "Creates a key from the serialized representation of a value.", cmdRestore)
	t.Lookup("restore").Category += " dangerous"
	obj := key2(t, "object", "2.2.3", "A container for object introspection commands.")
	subKey(obj, "encoding", 3, r, "Returns the internal encoding of a Redis object.", cmdObjectEncoding)
	subKey(obj, "freq", 3, r, "Returns the logarithmic access frequency counter of a Redis object.", cmdObjectFreq)
	subKey(obj, "idletime", 3, r, "Returns the time since the last access to a Redis object.", cmdObjectIdletime)
	subKey(obj, "refcount", 3, r, "Returns the reference count of a value of a key.", cmdObjectRefcount)
	sub(obj, "help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdObjectHelp)

	// Tags, dependencies and versions (cachesrv extensions; docs/tags.md)
	tag := func(name string, arity int, flags Flag, first, last int, acl func([][]byte, []int) []int, summary string, h Handler) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: 1, Category: "keyspace tags", Group: "tags", Since: "cachesrv 0.1", Summary: summary, ACLArgs: acl}, Handler: h})
	}
	tag("tagset", -3, w, 1, 1, aclCounted(3), "Sets a string value carrying tags, dependencies and a version; reply like SET.", cmdTagSet)
	tag("invalidate", -2, FlagWrite, 0, 0, aclFrom(1), "Invalidates every entry carrying any of the tags at once; returns the number of keys invalidated.", cmdInvalidate)
	tag("softinvalidate", -3, FlagWrite, 0, 0, aclFrom(2), "Marks every entry carrying any of the tags stale for a grace period (stale-while-revalidate).", cmdSoftInvalidate)
	tag("tags", 2, r|f, 1, 1, nil, "Returns the tags of a key.", cmdTags)
	tag("deps", 2, r|f, 1, 1, nil, "Returns the keys a key depends on.", cmdDeps)
	tag("tagcount", 2, r|f, 0, 0, aclFrom(1), "Returns the number of live keys carrying a tag.", cmdTagCount)
	tag("tagkeys", -3, r, 0, 0, func(_ [][]byte, dst []int) []int { return append(dst, 1) }, "Iterates over the keys carrying a tag (SCAN style).", cmdTagKeys)
	tag("vget", 2, r|f, 1, 1, nil, "Returns a value with its version.", cmdVGet)
	tag("vgetif", 3, r|f, 1, 1, nil, "Returns NOTMODIFIED when the client's version is current, else the value with its version.", cmdVGetIf)

	// Databases
	srv("select", 2, FlagLoading|FlagStale|f, "connection", "connection", "1.0.0", "Changes the selected database.", cmdSelect)
	srv("swapdb", 3, FlagWrite|f, "keyspace", "server", "4.0.0", "Swaps two Redis databases.", cmdSwapDB)
	srv("dbsize", 1, r|f, "keyspace", "server", "1.0.0", "Returns the number of keys in the database.", cmdDBSize)
	srv("flushdb", -1, FlagWrite, "keyspace", "server", "1.0.0", "Remove all keys from the current database.", cmdFlushDB).Category = "keyspace"
	srv("flushall", -1, FlagWrite, "keyspace", "server", "1.0.0", "Removes all keys from all databases.", cmdFlushAll)

	// Transactions
	tx := FlagNoScript | FlagLoading | FlagStale | f | FlagAllowBusy
	srv("multi", 1, tx|FlagTxControl, "transaction", "transactions", "1.2.0", "Starts a transaction.", cmdMulti)
	srv("exec", 1, FlagNoScript|FlagLoading|FlagStale|FlagSkipSlowlog|FlagTxControl, "transaction", "transactions", "1.2.0", "Executes all commands in a transaction.", cmdExec)
	srv("discard", 1, tx|FlagTxControl, "transaction", "transactions", "2.0.0", "Discards a transaction.", cmdDiscard)
	srv("watch", -2, tx|FlagTxControl, "transaction", "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", cmdWatch).FirstKey = 1
	t.Lookup("watch").LastKey, t.Lookup("watch").Step = -1, 1
	srv("unwatch", 1, tx, "transaction", "transactions", "2.2.0", "Forgets about watched keys of a transaction.", cmdUnwatch)

	// Connection
	conn := FlagNoScript | FlagLoading | FlagStale
	srv("ping", -1, f, "connection", "connection", "1.0.0", "Returns the server's liveliness response.", cmdPing)
	srv("echo", 2, f, "connection", "connection", "1.0.0", "Returns the given string.", cmdEcho)
	srv("quit", -1, conn|f|FlagNoAuth|FlagAllowBusy|FlagTxControl, "connection", "connection", "1.0.0", "Closes the connection.", cmdQuit)
	srv("reset", 1, conn|f|FlagNoAuth|FlagAllowBusy|FlagTxControl, "connection", "connection", "6.2.0", "Resets the connection.", cmdReset)
	srv("auth", -2, conn|f|FlagNoAuth|FlagAllowBusy|FlagNoMulti, "connection", "connection", "1.0.0", "Authenticates the connection.", cmdAuth)
	srv("hello", -1, conn|f|FlagNoAuth|FlagAllowBusy|FlagNoMulti, "connection", "connection", "6.0.0", "Handshakes with the Redis server.", cmdHello)
	// ACL (acl.go, acl_cmd.go, acl_file.go)
	acl := srv("acl", -2, 0, "", "server", "6.0.0", "A container for Access List Control commands.", nil)
	sub(acl, "cat", -2, conn, "Lists the ACL categories, or the commands inside a category.", cmdACLCat)
	sub(acl, "deluser", -3, adm|FlagLoading|FlagStale, "Deletes ACL users, and terminates their connections.", cmdACLDelUser)
	sub(acl, "dryrun", -4, adm, "Simulates the execution of a command by a user, without executing the command.", cmdACLDryRun)
	sub(acl, "genpass", -2, conn, "Generates a pseudorandom, secure password that can be used to identify ACL users.", cmdACLGenPass)
	sub(acl, "getuser", 3, adm|FlagLoading|FlagStale, "Lists the ACL rules of a user.", cmdACLGetUser)
	sub(acl, "help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdACLHelp)
	sub(acl, "list", 2, adm|FlagLoading|FlagStale, "Dumps the effective rules in ACL file format.", cmdACLList)
	sub(acl, "load", 2, adm|FlagLoading|FlagStale, "Reloads the rules from the configured ACL file.", cmdACLLoad)
	sub(acl, "log", -2, adm|FlagLoading|FlagStale, "Lists recent security events generated due to commands rejected by ACL rules.", cmdACLLog)
	sub(acl, "save", 2, adm|FlagLoading|FlagStale, "Saves the effective ACL rules in the configured ACL file.", cmdACLSave)
	sub(acl, "setuser", -3, adm|FlagLoading|FlagStale, "Creates and modifies an ACL user and its rules.", cmdACLSetUser)
	sub(acl, "users", 2, adm|FlagLoading|FlagStale, "Lists all ACL users.", cmdACLUsers)
	sub(acl, "whoami", 2, conn, "Returns the authenticated username of the current connection.", cmdACLWhoami)
	// Redis 7 puts these in @dangerous as well (ACL CAT dangerous, -@dangerous).
	for _, name := range []string{"flushall", "flushdb", "keys", "swapdb"} {
		t.Lookup(name).Category += " dangerous"
	}
	cl := srv("client", -2, FlagSkipSlowlog, "connection", "connection", "2.4.0", "A container for client connection commands.", nil)
	sub(cl, "id", 2, conn, "Returns the unique client ID of the connection.", cmdClientID)
	sub(cl, "setname", 3, conn, "Sets the connection name.", cmdClientSetName)
	sub(cl, "getname", 2, conn, "Returns the name of the connection.", cmdClientGetName)
	sub(cl, "setinfo", 4, conn, "Sets information specific to the client or connection.", cmdClientSetInfo)
	sub(cl, "list", -2, conn|FlagAdmin, "Lists open connections.", cmdClientList)
	sub(cl, "info", 2, conn, "Returns information about the connection.", cmdClientInfo)
	sub(cl, "kill", -3, conn|FlagAdmin, "Terminates open connections.", cmdClientKill)
	sub(cl, "no-evict", 3, conn|FlagAdmin, "Sets the client eviction mode of the connection.", cmdClientNoEvict)
	sub(cl, "no-touch", 3, conn, "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", cmdClientNoTouch)
	sub(cl, "reply", 3, conn, "Instructs the server whether to reply to commands.", cmdClientReply)
	sub(cl, "help", 2, conn, "Returns helpful text about the different subcommands.", cmdClientHelp)
	// Client-side caching (tracking.go).
	sub(cl, "tracking", -3, conn, "Controls server-assisted client-side caching for the connection.", cmdClientTracking)
	sub(cl, "caching", 3, conn, "Instructs the server whether to track the keys in the next request.", cmdClientCaching)
	sub(cl, "getredir", 2, conn, "Returns the client ID to which the connection's tracking notifications are redirected.", cmdClientGetRedir)
	sub(cl, "trackinginfo", 2, conn, "Returns information about server-assisted client-side caching for the connection.", cmdClientTrackingInfo)

	// Pub/sub (pubsub.go)
	ps := FlagPubSub | FlagNoScript | FlagLoading | FlagStale
	srv("subscribe", -2, ps, "pubsub", "pubsub", "2.0.0", "Listens for messages published to channels.", cmdSubscribe)
	srv("psubscribe", -2, ps, "pubsub", "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", cmdPSubscribe)
	srv("unsubscribe", -1, ps, "pubsub", "pubsub", "2.0.0", "Stops listening to messages posted to channels.", cmdUnsubscribe)
	srv("punsubscribe", -1, ps, "pubsub", "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", cmdPUnsubscribe)
	srv("publish", 3, FlagPubSub|FlagLoading|FlagStale|f, "pubsub", "pubsub", "2.0.0", "Posts a message to a channel.", cmdPublish)
	psc := srv("pubsub", -2, 0, "pubsub", "pubsub", "2.8.0", "A container for Pub/Sub commands.", nil)
	sub(psc, "channels", -2, FlagPubSub|FlagLoading|FlagStale, "Returns the active channels.", cmdPubSubChannels)
	sub(psc, "numsub", -2, FlagPubSub|FlagLoading|FlagStale, "Returns a count of subscribers to channels.", cmdPubSubNumSub)
	sub(psc, "numpat", 2, FlagPubSub|FlagLoading|FlagStale, "Returns a count of unique pattern subscriptions.", cmdPubSubNumPat)
	sub(psc, "help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdPubSubHelp)

	// Server
	srv("info", -1, FlagLoading|FlagStale, "dangerous", "server", "1.0.0", "Returns information and statistics about the server.", cmdInfo)
	srv("monitor", 1, adm|FlagLoading|FlagStale, "", "server", "1.0.0", "Listens for all requests received by the server in real-time.", cmdMonitor)
	srv("time", 1, FlagLoading|FlagStale|f, "", "server", "2.6.0", "Returns the server time.", cmdTime)
	srv("save", 1, adm|FlagNoMulti, "", "server", "1.0.0", "Synchronously saves the database(s) to disk.", cmdSave)
	srv("bgsave", -1, adm, "", "server", "1.0.0", "Asynchronously saves the database(s) to disk.", cmdBGSave)
	srv("lastsave", 1, FlagLoading|FlagStale|f, "", "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", cmdLastSave)
	t.Lookup("lastsave").Category = "fast dangerous"
	srv("shutdown", -1, adm|FlagLoading|FlagStale|FlagNoMulti|FlagAllowBusy, "", "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", cmdShutdown)
	cfg := srv("config", -2, 0, "", "server", "2.0.0", "A container for server configuration commands.", nil)
	sub(cfg, "get", -3, adm|FlagLoading|FlagStale, "Returns the effective values of configuration parameters.", cmdConfigGet)
	sub(cfg, "set", -4, adm|FlagLoading|FlagStale, "Sets configuration parameters in-flight.", cmdConfigSet)
	sub(cfg, "resetstat", 2, adm|FlagLoading|FlagStale, "Resets the server's statistics.", cmdConfigResetStat)
	sub(cfg, "rewrite", 2, adm|FlagLoading|FlagStale, "Persists the effective configuration to file.", cmdConfigRewrite)
	sub(cfg, "help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdConfigHelp)
	sl := srv("slowlog", -2, 0, "", "server", "2.2.12", "A container for slow log commands.", nil)
	sub(sl, "get", -2, FlagAdmin|FlagLoading|FlagStale, "Returns the slow log's entries.", cmdSlowlogGet)
	sub(sl, "len", 2, FlagAdmin|FlagLoading|FlagStale, "Returns the number of entries in the slow log.", cmdSlowlogLen)
	sub(sl, "reset", 2, FlagAdmin|FlagLoading|FlagStale, "Clears all entries from the slow log.", cmdSlowlogReset)
	sub(sl, "help", 2, FlagLoading|FlagStale, "Show helpful text about the different subcommands", cmdSlowlogHelp)
	lat := srv("latency", -2, 0, "", "server", "2.8.13", "A container for latency diagnostics commands.", nil)
	sub(lat, "latest", 2, FlagAdmin|FlagLoading|FlagStale, "Returns the latest latency samples for all events.", cmdLatencyLatest)
	sub(lat, "history", 3, FlagAdmin|FlagLoading|FlagStale, "Returns timestamp-latency samples for an event.", cmdLatencyHistory)
	sub(lat, "reset", -2, FlagAdmin|FlagLoading|FlagStale, "Resets the latency data for one or more events.", cmdLatencyReset)
	sub(lat, "doctor", 2, FlagAdmin|FlagLoading|FlagStale, "Returns a human-readable latency analysis report.", cmdLatencyDoctor)
	sub(lat, "help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdLatencyHelp)
	cmd := srv("command", -1, FlagLoading|FlagStale, "connection", "server", "2.8.13", "Returns detailed information about all commands.", cmdCommand)
	sub(cmd, "count", 2, FlagLoading|FlagStale, "Returns a count of commands.", cmdCommandCount)
	sub(cmd, "info", -2, FlagLoading|FlagStale, "Returns information about one, multiple or all commands.", cmdCommandInfo)
	sub(cmd, "docs", -2, FlagLoading|FlagStale, "Returns documentary information about one, multiple or all commands.", cmdCommandDocs)
	sub(cmd, "list", -2, FlagLoading|FlagStale, "Returns a list of command names.", cmdCommandList)
	sub(cmd, "getkeys", -3, FlagLoading|FlagStale, "Extracts the key names from an arbitrary command.", cmdCommandGetKeys)
	sub(cmd, "help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdCommandHelp)
	addClusterCommands(t) // cmd_cluster.go
	addMigrateCommands(t) // cmd_migrate.go

	// Stampede protection (cmd_lease.go; Options.Leases binds the handlers)
	// and RedisBloom-compatible Bloom filters (cmd_bloom.go). Grammars and
	// replies: docs/stampede.md.
	cache := func(name string, arity int, flags Flag, summary string) {
		h := cmdLeasesOff
		if leases != nil {
			h = leases.handler(name)
		}
		cmd := t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1, Category: "string", Group: "string", Since: "0.1.0", Summary: summary}, Handler: h})
		switch name {
		case "cache.fill":
			cmd.ACLArgs = aclCounted(4) // after key, token, value
		case "cache.notfound":
			cmd.ACLArgs = aclCounted(3)
		}
	}
	cache("cache.get", -2, r, "Reads a key with stampede protection: CACHE.GET key [LEASE ms] [WAIT ms] [BETA beta] [NOLEASE]. "+
		"Replies [state, value, token]; state is HIT (token: early refresh won), STALE (token: refresh won), NOTFOUND (negative entry), "+
		"LEASE (miss, token: fill it), PENDING (miss, another client fills) or MISS.")
	cache("cache.fill", -4, w, "Stores the value computed under a lease: CACHE.FILL key token|* value [EX s|PX ms] [GRACE ms] [DELTA ms] "+
		"[JITTER f|NOJITTER] [TAGS n tag ...] [DEPS n key ...]. Replies 1 when stored, 0 when a write, invalidation or expiry overtook the lease.")
	cache("cache.notfound", -3, w, "Caches that a key does not exist at the origin: CACHE.NOTFOUND key token|* [EX s|PX ms] [JITTER f|NOJITTER] "+
		"[TAGS n tag ...] [DEPS n key ...]. Replies 1 when stored, 0 when the lease was overtaken.")
	cache("cache.release", 3, f, "Gives a lease back without filling, waking waiters: CACHE.RELEASE key token. Replies 1 when released, 0 otherwise.")
	cache("cache.stale", -2, FlagWrite|f, "Marks a key stale, keeping its value for a grace period: CACHE.STALE key [GRACE ms]. "+
		"Replies 1 when marked, 0 when the key does not exist.")
	bf := func(name string, arity int, flags Flag, since, summary string, h Handler) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1, Category: "bloom", Group: "bf", Since: since, Summary: summary}, Handler: h})
	}
	bf("bf.reserve", -4, w, "1.0.0", "Creates a new Bloom Filter: BF.RESERVE key error_rate capacity [EXPANSION expansion] [NONSCALING].", cmdBFReserve)
	bf("bf.add", 3, w, "1.0.0", "Adds an item to a Bloom Filter: BF.ADD key item.", cmdBFAdd)
	bf("bf.madd", -3, w, "1.0.0", "Adds one or more items to a Bloom Filter. A filter will be created if it does not exist: BF.MADD key item [item ...].", cmdBFMAdd)
	bf("bf.insert", -4, w, "1.0.0", "Adds one or more items to a Bloom Filter. A filter will be created if it does not exist: "+
		"BF.INSERT key [CAPACITY capacity] [ERROR error] [EXPANSION expansion] [NOCREATE] [NONSCALING] ITEMS item [item ...].", cmdBFInsert)
	bf("bf.exists", 3, r|f, "1.0.0", "Checks whether an item exists in a Bloom Filter: BF.EXISTS key item.", cmdBFExists)
	bf("bf.mexists", -3, r|f, "1.0.0", "Checks whether one or more items exist in a Bloom Filter: BF.MEXISTS key item [item ...].", cmdBFMExists)
	bf("bf.info", -2, r|f, "1.0.0", "Returns information about a Bloom Filter: BF.INFO key [CAPACITY | SIZE | FILTERS | ITEMS | EXPANSION].", cmdBFInfo)
	bf("bf.card", 2, r|f, "2.4.4", "Returns the cardinality of a Bloom filter: BF.CARD key.", cmdBFCard)
	addScriptingCommands(t) // cmd_script.go
	addBitmapCommands(t)    // cmd_bitmap.go
	addMemoryCommands(t)    // cmd_memory.go
	addCollCommands(t)      // hashes, lists, sets, sorted sets (cmd_coll_table.go)
	originCommands(t)
	return t
}

// key2 registers a keyspace container command.
func key2(t *Table, name, since, summary string) *Command {
	return t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: -2, Category: "keyspace", Group: "generic", Since: since, Summary: summary}, Subs: map[string]*Command{}})
}
