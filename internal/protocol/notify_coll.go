package protocol

// collEvent names the keyspace event of a collection write (Redis 7's
// event names, one per command, classes l h s z). It is reported when the
// store changes a collection; writes that empty one (and so delete it)
// report only what the removal hook reports.
func collEvent(cmd string) (class uint32, event string, ok bool) {
	switch cmd {
	case "hset", "hsetnx", "hmset":
		return nfHash, "hset", true
	case "hdel":
		return nfHash, "hdel", true
	case "hincrby":
		return nfHash, "hincrby", true
	case "hincrbyfloat":
		return nfHash, "hincrbyfloat", true
	case "hexpire", "hpexpire", "hexpireat", "hpexpireat":
		return nfHash, "hexpire", true
	case "hpersist":
		return nfHash, "hpersist", true
	case "lpush", "lpushx", "blmove", "lmove", "rpoplpush", "brpoplpush":
		return nfList, "lpush", true
	case "rpush", "rpushx":
		return nfList, "rpush", true
	case "lpop", "blpop":
		return nfList, "lpop", true
	case "rpop", "brpop":
		return nfList, "rpop", true
	case "lmpop", "blmpop":
		return nfList, "lpop", true
	case "lset":
		return nfList, "lset", true
	case "linsert":
		return nfList, "linsert", true
	case "lrem":
		return nfList, "lrem", true
	case "ltrim":
		return nfList, "ltrim", true
	case "sadd", "smove":
		return nfSet, "sadd", true
	case "srem":
		return nfSet, "srem", true
	case "spop":
		return nfSet, "spop", true
	case "sinterstore":
		return nfSet, "sinterstore", true
	case "sunionstore":
		return nfSet, "sunionstore", true
	case "sdiffstore":
		return nfSet, "sdiffstore", true
	case "zadd":
		return nfZSet, "zadd", true
	case "zincrby":
		return nfZSet, "zincr", true
	case "zrem", "zremrangebyrank", "zremrangebyscore", "zremrangebylex":
		return nfZSet, "zrem", true
	case "zpopmin", "bzpopmin":
		return nfZSet, "zpopmin", true
	case "zpopmax", "bzpopmax":
		return nfZSet, "zpopmax", true
	case "zunionstore":
		return nfZSet, "zunionstore", true
	case "zinterstore":
		return nfZSet, "zinterstore", true
	case "zdiffstore":
		return nfZSet, "zdiffstore", true
	case "zrangestore":
		return nfZSet, "zrangestore", true
	}
	return 0, "", false
}
