#!/usr/bin/env python3
"""Writes the RESP command files of the data type memory shapes (issue 19)
into the directory given (default /tmp/types-mem): hash.txt (100,000 hashes
of 10 fields with 16-byte values), set.txt (1,000 sets of 1,000 members),
zset.txt (100 sorted sets of 100,000 members), list.txt (1,000 lists of
1,000 elements). memory.sh loads one into redis-server and cachesrv."""
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/types-mem"
os.makedirs(out, exist_ok=True)


def cmd(*a):
    s = "*%d\r\n" % len(a)
    for x in a:
        x = str(x)
        s += "$%d\r\n%s\r\n" % (len(x.encode()), x)
    return s


with open(os.path.join(out, "hash.txt"), "w") as f:
    for i in range(100000):
        args = ["HSET", "h:%d" % i]
        for j in range(10):
            args += ["field%d" % j, ("v%015d" % (i * 10 + j))[:16]]
        f.write(cmd(*args))
with open(os.path.join(out, "set.txt"), "w") as f:
    for i in range(1000):
        for b in range(10):
            f.write(cmd("SADD", "s:%d" % i, *["member:%d" % (b * 100 + k) for k in range(100)]))
with open(os.path.join(out, "zset.txt"), "w") as f:
    for i in range(100):
        for b in range(10):
            args = ["ZADD", "z:%d" % i]
            for k in range(10000):
                m = b * 10000 + k
                args += [m * 1.5, "member:%d" % m]
            f.write(cmd(*args))
with open(os.path.join(out, "list.txt"), "w") as f:
    for i in range(1000):
        for b in range(10):
            f.write(cmd("RPUSH", "l:%d" % i, *["element:%d" % (b * 100 + k) for k in range(100)]))
