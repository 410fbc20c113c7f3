package protocol

import (
	"strconv"
	"testing"
)

// TestBloomReplies checks RedisBloom's replies and errors byte for byte.
func TestBloomReplies(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	c := lt.client()
	steps := []struct{ cmd, want string }{
		{"BF.RESERVE b 0.01 100", "+OK"},
		{"BF.RESERVE b 0.01 100", "-ERR item exists"},
		{"BF.RESERVE b2 x 100", "-ERR bad error rate"},
		{"BF.RESERVE b2 0 100", "-ERR (0 < error rate range < 1)"},
		{"BF.RESERVE b2 1 100", "-ERR (0 < error rate range < 1)"},
		{"BF.RESERVE b2 0.01 x", "-ERR bad capacity"},
		{"BF.RESERVE b2 0.01 0", "-ERR (capacity should be larger than 0)"},
		{"BF.RESERVE b2 0.01 100 EXPANSION", "-ERR no expansion"},
		{"BF.RESERVE b2 0.01 100 EXPANSION x", "-ERR bad expansion"},
		{"BF.RESERVE b2 0.01 100 EXPANSION 0", "-ERR bad expansion"},
		{"BF.RESERVE b2 0.01 100 NONSCALING EXPANSION 2", "-Nonscaling filters cannot expand"},
		{"BF.RESERVE b2 0.01 100 EXPANSION 2 NONSCALING x y", "-ERR wrong number of arguments for 'bf.reserve' command"},
		{"BF.RESERVE b2 0.01 100000000000000", "-ERR could not create filter"},
		{"BF.ADD b a", ":1"},
		{"BF.ADD b a", ":0"},
		{"BF.MADD b a c d", "*3\r\n:0\r\n:1\r\n:1"},
		{"BF.EXISTS b a", ":1"},
		{"BF.EXISTS b zzz", ":0"},
		{"BF.EXISTS nokey a", ":0"},
		{"BF.MEXISTS b a zzz", "*2\r\n:1\r\n:0"},
		{"BF.CARD b", ":3"},
		{"BF.CARD nokey", ":0"},
		{"BF.INFO b ITEMS", "*1\r\n:3"},
		{"BF.INFO b capacity", "*1\r\n:100"},
		{"BF.INFO b FILTERS", "*1\r\n:1"},
		{"BF.INFO b EXPANSION", "*1\r\n:2"},
		{"BF.INFO b nope", "-Invalid information value"},
		{"BF.INFO b ITEMS x", "-ERR wrong number of arguments for 'bf.info' command"},
		{"BF.INFO nokey", "-ERR not found"},
		{"TYPE b", "+MBbloom--"},
		{"GET b", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"SET s v", "+OK"},
		{"BF.ADD s a", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"BF.RESERVE s 0.01 10", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"BF.INFO s", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"BF.CARD s", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"BF.EXISTS s a", ":0"},
		{"BF.RESERVE ns 0.01 2 NONSCALING", "+OK"},
		{"BF.INFO ns EXPANSION", "*1\r\n$-1"},
		{"BF.ADD ns a", ":1"},
		{"BF.ADD ns b", ":1"},
		{"BF.ADD ns c", "-ERR non scaling filter is full"},
		{"BF.MADD ns a c", "*2\r\n:0\r\n-ERR non scaling filter is full"},
		{"BF.INSERT i NOCREATE ITEMS a", "-ERR not found"},
		{"BF.INSERT i CAPACITY x ITEMS a", "-Bad capacity"},
		{"BF.INSERT i ERROR x ITEMS a", "-Bad error rate"},
		{"BF.INSERT i EXPANSION x ITEMS a", "-Bad expansion"},
		{"BF.INSERT i ERROR 2 ITEMS a", "-Bad argument received"},
		{"BF.INSERT i CAPACITY 0 ITEMS a", "-Bad argument received"},
		{"BF.INSERT i FOO ITEMS a", "-Unknown argument received"},
		{"BF.INSERT i CAPACITY 10 ITEMS", "-ERR wrong number of arguments for 'bf.insert' command"},
		{"BF.INSERT i CAPACITY 10 ERROR", "-ERR wrong number of arguments for 'bf.insert' command"},
		{"BF.INSERT i CAPACITY 10 ERROR 0.001 EXPANSION 4 ITEMS a b a", "*3\r\n:1\r\n:1\r\n:0"},
		{"BF.INFO i CAPACITY", "*1\r\n:10"},
		{"BF.INFO i EXPANSION", "*1\r\n:4"},
		{"BF.INSERT i2 NONSCALING CAPACITY 1 ITEMS a b", "*2\r\n:1\r\n-ERR non scaling filter is full"},
	}
	for _, s := range steps {
		if got := lt.do(c, s.cmd); got != s.want+"\r\n" {
			t.Errorf("%s: got %q, want %q", s.cmd, got, s.want+"\r\n")
		}
	}
	// BF.INFO's full reply: RESP2 flat array, RESP3 map.
	want := "*10\r\n+Capacity\r\n:100\r\n+Size\r\n:"
	if got := lt.do(c, "BF.INFO b"); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("BF.INFO: %q", got)
	}
	lt.do(c, "HELLO 3")
	want = "%5\r\n+Capacity\r\n:2\r\n+Size\r\n:64\r\n+Number of filters\r\n:1\r\n" +
		"+Number of items inserted\r\n:2\r\n+Expansion rate\r\n_\r\n"
	if got := lt.do(c, "BF.INFO ns"); got != want {
		t.Errorf("BF.INFO RESP3: %q, want %q", got, want)
	}
}

// TestBloomScalesLikeRedisBloom: capacity 100, expansion 2 → after 101
// items, two sub-filters with a total capacity of 300; the value grows in
// the store (memory accounted) and keeps its TTL.
func TestBloomScalesLikeRedisBloom(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	c := lt.client()
	lt.do(c, "BF.RESERVE b 0.01 100")
	lt.do(c, "EXPIRE b 1000")
	before := lt.s.st.UsedMemory()
	for i := 0; i < 101; i++ {
		lt.do(c, "BF.ADD b item:"+strconv.Itoa(i))
	}
	if got := lt.do(c, "BF.INFO b FILTERS"); got != "*1\r\n:2\r\n" {
		t.Fatalf("filters: %q", got)
	}
	if got := lt.do(c, "BF.INFO b CAPACITY"); got != "*1\r\n:300\r\n" {
		t.Fatalf("capacity: %q", got)
	}
	if got := lt.do(c, "TTL b"); got != ":1000\r\n" && got != ":999\r\n" {
		t.Fatalf("TTL lost on growth: %q", got)
	}
	if after := lt.s.st.UsedMemory(); after <= before {
		t.Fatalf("memory %d -> %d", before, after)
	}
	for i := 0; i < 101; i++ {
		if got := lt.do(c, "BF.EXISTS b item:"+strconv.Itoa(i)); got != ":1\r\n" {
			t.Fatalf("false negative for %d", i)
		}
	}
}
