package protocol

import "github.com/cachesrv/cachesrv/internal/cmdtab"

// addCollCommands registers the hash, list, set and sorted set commands.
func addCollCommands(t *Table) {
	const (
		w = FlagWrite | FlagDenyOOM
		d = FlagWrite // writes that only remove
		r = FlagReadonly
		f = FlagFast
	)
	add := func(group string) func(name string, arity int, flags Flag, first, last, step int, since, summary string, h Handler) {
		return func(name string, arity int, flags Flag, first, last, step int, since, summary string, h Handler) {
			t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Category: group, Group: group, Since: since, Summary: summary}, Handler: h})
		}
	}
	hash := add("hash")
	hash("hset", -4, w|f, 1, 1, 1, "2.0.0", "Creates or modifies the value of a field in a hash.", cmdHSet)
	hash("hsetnx", 4, w|f, 1, 1, 1, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", cmdHSetNX)
	hash("hmset", -4, w|f, 1, 1, 1, "2.0.0", "Sets the values of multiple fields.", cmdHMSet)
	hash("hget", 3, r|f, 1, 1, 1, "2.0.0", "Returns the value of a field in a hash.", cmdHGet)
	hash("hmget", -3, r|f, 1, 1, 1, "2.0.0", "Returns the values of all fields in a hash.", cmdHMGet)
	hash("hdel", -3, d|f, 1, 1, 1, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", cmdHDel)
	hash("hexists", 3, r|f, 1, 1, 1, "2.0.0", "Determines whether a field exists in a hash.", cmdHExists)
	hash("hlen", 2, r|f, 1, 1, 1, "2.0.0", "Returns the number of fields in a hash.", cmdHLen)
	hash("hstrlen", 3, r|f, 1, 1, 1, "3.2.0", "Returns the length of the value of a field.", cmdHStrlen)
	hash("hkeys", 2, r, 1, 1, 1, "2.0.0", "Returns all fields in a hash.", cmdHKeys)
	hash("hvals", 2, r, 1, 1, 1, "2.0.0", "Returns all values in a hash.", cmdHVals)
	hash("hgetall", 2, r, 1, 1, 1, "2.0.0", "Returns all fields and values in a hash.", cmdHGetAll)
	hash("hincrby", 4, w|f, 1, 1, 1, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", cmdHIncrBy)
	hash("hincrbyfloat", 4, w|f, 1, 1, 1, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", cmdHIncrByFloat)
	hash("hrandfield", -2, r, 1, 1, 1, "6.2.0", "Returns one or more random fields from a hash.", cmdHRandField)
	hash("hscan", -3, r, 1, 1, 1, "2.8.0", "Iterates over fields and values of a hash.", cmdHScan)
	hash("hexpire", -6, w|f, 1, 1, 1, "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", cmdHExpire)
	hash("hpexpire", -6, w|f, 1, 1, 1, "7.4.0", "Set expiry for hash field using relative time to expire (milliseconds)", cmdHPExpire)
	hash("hexpireat", -6, w|f, 1, 1, 1, "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (seconds)", cmdHExpireAt)
	hash("hpexpireat", -6, w|f, 1, 1, 1, "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", cmdHPExpireAt)
	hash("httl", -5, r|f, 1, 1, 1, "7.4.0", "Returns the TTL in seconds of a hash field.", cmdHTTL)
	hash("hpttl", -5, r|f, 1, 1, 1, "7.4.0", "Returns the TTL in milliseconds of a hash field.", cmdHPTTL)
	hash("hexpiretime", -5, r|f, 1, 1, 1, "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", cmdHExpireTime)
	hash("hpexpiretime", -5, r|f, 1, 1, 1, "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", cmdHPExpireTime)
	hash("hpersist", -5, w|f, 1, 1, 1, "7.4.0", "Removes the expiration time for each specified field", cmdHPersist)

	list := add("list")
	list("lpush", -3, w|f, 1, 1, 1, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", cmdLPush)
	list("rpush", -3, w|f, 1, 1, 1, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", cmdRPush)
	list("lpushx", -3, w|f, 1, 1, 1, "2.2.0", "Prepends one or more elements to a list only when the list exists.", cmdLPushX)
	list("rpushx", -3, w|f, 1, 1, 1, "2.2.0", "Appends an element to a list only when the list exists.", cmdRPushX)
	list("lpop", -2, d|f, 1, 1, 1, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", cmdLPop)
	list("rpop", -2, d|f, 1, 1, 1, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", cmdRPop)
	list("llen", 2, r|f, 1, 1, 1, "1.0.0", "Returns the length of a list.", cmdLLen)
	list("lrange", 4, r, 1, 1, 1, "1.0.0", "Returns a range of elements from a list.", cmdLRange)
	list("lindex", 3, r, 1, 1, 1, "1.0.0", "Returns an element from a list by its index.", cmdLIndex)
	list("lset", 4, w, 1, 1, 1, "1.0.0", "Sets the value of an element in a list by its index.", cmdLSet)
	list("linsert", 5, w, 1, 1, 1, "2.2.0", "Inserts an element before or after another element in a list.", cmdLInsert)
	list("lrem", 4, d, 1, 1, 1, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", cmdLRem)
	list("ltrim", 4, d, 1, 1, 1, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", cmdLTrim)
	list("lpos", -3, r, 1, 1, 1, "6.0.6", "Returns the index of matching elements in a list.", cmdLPos)
	list("lmove", 5, w, 1, 2, 1, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", cmdLMove)
	list("rpoplpush", 3, w, 1, 2, 1, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", cmdRPopLPush)
	t.add(&Command{Spec: cmdtab.Spec{Name: "lmpop", Arity: -4, Flags: d, FirstKey: 2, LastKey: -2, Step: 1, Category: "list", Group: "list", Since: "7.0.0", Summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", Keys: numKeysAt(1)}, Handler: cmdLMPop})
	set := add("set")
	set("sadd", -3, w|f, 1, 1, 1, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", cmdSAdd)
	set("srem", -3, d|f, 1, 1, 1, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", cmdSRem)
	set("sismember", 3, r|f, 1, 1, 1, "1.0.0", "Determines whether a member belongs to a set.", cmdSIsMember)
	set("smismember", -3, r|f, 1, 1, 1, "6.2.0", "Determines whether multiple members belong to a set.", cmdSMIsMember)
	set("scard", 2, r|f, 1, 1, 1, "1.0.0", "Returns the number of members in a set.", cmdSCard)
	set("smembers", 2, r, 1, 1, 1, "1.0.0", "Returns all members of a set.", cmdSMembers)
	set("srandmember", -2, r, 1, 1, 1, "1.0.0", "Get one or multiple random members from a set", cmdSRandMember)
	set("spop", -2, d|f, 1, 1, 1, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", cmdSPop)
	set("smove", 4, w|f, 1, 2, 1, "1.0.0", "Moves a member from one set to another.", cmdSMove)
	set("sinter", -2, r, 1, -1, 1, "1.0.0", "Returns the intersect of multiple sets.", cmdSInter)
	set("sunion", -2, r, 1, -1, 1, "1.0.0", "Returns the union of multiple sets.", cmdSUnion)
	set("sdiff", -2, r, 1, -1, 1, "1.0.0", "Returns the difference of multiple sets.", cmdSDiff)
	set("sinterstore", -3, w, 1, -1, 1, "1.0.0", "Stores the intersect of multiple sets in a key.", cmdSInterStore)
	set("sunionstore", -3, w, 1, -1, 1, "1.0.0", "Stores the union of multiple sets in a key.", cmdSUnionStore)
	set("sdiffstore", -3, w, 1, -1, 1, "1.0.0", "Stores the difference of multiple sets in a key.", cmdSDiffStore)
	t.add(&Command{Spec: cmdtab.Spec{Name: "sintercard", Arity: -3, Flags: r, FirstKey: 2, LastKey: -1, Step: 1, Category: "set", Group: "set", Since: "7.0.0", Summary: "Returns the number of members of the intersect of multiple sets.", Keys: numKeysAt(1)}, Handler: cmdSInterCard})
	set("sscan", -3, r, 1, 1, 1, "2.8.0", "Iterates over members of a set.", cmdSScan)
	zset := add("sortedset")
	zset("zadd", -4, w|f, 1, 1, 1, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", cmdZAdd)
	zset("zincrby", 4, w|f, 1, 1, 1, "1.2.0", "Increments the score of a member in a sorted set.", cmdZIncrBy)
	zset("zrem", -3, d|f, 1, 1, 1, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", cmdZRem)
	zset("zcard", 2, r|f, 1, 1, 1, "1.2.0", "Returns the number of members in a sorted set.", cmdZCard)
	zset("zcount", 4, r|f, 1, 1, 1, "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", cmdZCount)
	zset("zlexcount", 4, r|f, 1, 1, 1, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", cmdZLexCount)
	zset("zscore", 3, r|f, 1, 1, 1, "1.2.0", "Returns the score of a member in a sorted set.", cmdZScore)
	zset("zmscore", -3, r|f, 1, 1, 1, "6.2.0", "Returns the score of one or more members in a sorted set.", cmdZMScore)
	zset("zrank", -3, r|f, 1, 1, 1, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", cmdZRank)
	zset("zrevrank", -3, r|f, 1, 1, 1, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", cmdZRevRank)
	zset("zrange", -4, r, 1, 1, 1, "1.2.0", "Returns members in a sorted set within a range of indexes.", cmdZRange)
	zset("zrangestore", -5, w, 1, 2, 1, "6.2.0", "Stores a range of members from sorted set in a key.", cmdZRangeStore)
	zset("zrevrange", -4, r, 1, 1, 1, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", cmdZRevRange)
	zset("zrangebyscore", -4, r, 1, 1, 1, "1.0.5", "Returns members in a sorted set within a range of scores.", cmdZRangeByScore)
	zset("zrevrangebyscore", -4, r, 1, 1, 1, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", cmdZRevRangeByScore)
	zset("zrangebylex", -4, r, 1, 1, 1, "2.8.9", "Returns members in a sorted set within a lexicographical range.", cmdZRangeByLex)
	zset("zrevrangebylex", -4, r, 1, 1, 1, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", cmdZRevRangeByLex)
	zset("zremrangebyrank", 4, d, 1, 1, 1, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", cmdZRemRangeByRank)
	zset("zremrangebyscore", 4, d, 1, 1, 1, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", cmdZRemRangeByScore)
	zset("zremrangebylex", 4, d, 1, 1, 1, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", cmdZRemRangeByLex)
	zset("zpopmin", -2, d|f, 1, 1, 1, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", cmdZPopMin)
	zset("zpopmax", -2, d|f, 1, 1, 1, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", cmdZPopMax)
	zset("zrandmember", -2, r, 1, 1, 1, "6.2.0", "Returns one or more random members from a sorted set.", cmdZRandMember)
	zset("zscan", -3, r, 1, 1, 1, "2.8.0", "Iterates over members and scores of a sorted set.", cmdZScan)
	movable := func(name string, arity int, flags Flag, keysAt int, since, summary string, h Handler) {
		first := keysAt + 1
		if keysAt == 2 {
			first = 1 // the destination, then the sources
		}
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: first, Step: 1, Category: "sortedset", Group: "sorted-set", Since: since, Summary: summary, Keys: func(args [][]byte, dst []int) []int {
			if keysAt == 2 {
				dst = append(dst, 1)
			}
			return numKeysAt(keysAt)(args, dst)
		}}, Handler: h})
	}
	movable("zunion", -3, r, 1, "6.2.0", "Returns the union of multiple sorted sets.", cmdZUnion)
	movable("zinter", -3, r, 1, "6.2.0", "Returns the intersect of multiple sorted sets.", cmdZInter)
	movable("zdiff", -3, r, 1, "6.2.0", "Returns the difference between multiple sorted sets.", cmdZDiff)
	movable("zunionstore", -4, w, 2, "2.0.0", "Stores the union of multiple sorted sets in a key.", cmdZUnionStore)
	movable("zinterstore", -4, w, 2, "2.0.0", "Stores the intersect of multiple sorted sets in a key.", cmdZInterStore)
	movable("zdiffstore", -4, w, 2, "6.2.0", "Stores the difference of multiple sorted sets in a key.", cmdZDiffStore)
	movable("zintercard", -3, r, 1, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", cmdZInterCard)
	// Blocking pops (cmd_block.go, blocking.go).
	blk := func(name string, arity int, first, last int, group, since, summary string, h Handler, keys func([][]byte, []int) []int) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: FlagWrite | FlagNoScript, FirstKey: first, LastKey: last, Step: 1, Category: group + " blocking", Group: group, Since: since, Summary: summary, Keys: keys}, Handler: h})
	}
	blk("blpop", -3, 1, -2, "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", cmdBLPop, nil)
	blk("brpop", -3, 1, -2, "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", cmdBRPop, nil)
	blk("blmove", 6, 1, 2, "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", cmdBLMove, nil)
	blk("brpoplpush", 4, 1, 2, "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", cmdBRPopLPush, nil)
	blk("blmpop", -5, 3, -2, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", cmdBLMPop, numKeysAt(2))
	blk("bzpopmin", -3, 1, -2, "sortedset", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", cmdBZPopMin, nil)
	blk("bzpopmax", -3, 1, -2, "sortedset", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", cmdBZPopMax, nil)
}

// numKeysAt returns a key finder for commands with "numkeys key..." at
// argument i.
func numKeysAt(i int) func(args [][]byte, dst []int) []int {
	return func(args [][]byte, dst []int) []int {
		if i >= len(args) {
			return dst
		}
		n, ok := parseInt(args[i])
		if !ok || n <= 0 {
			return dst
		}
		for k := i + 1; k <= i+int(n) && k < len(args); k++ {
			dst = append(dst, k)
		}
		return dst
	}
}
