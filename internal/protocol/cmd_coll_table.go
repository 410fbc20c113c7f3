package protocol

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
			t.add(&Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step,
				Category: group, Group: group, Since: since, Summary: summary, Handler: h})
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
}
