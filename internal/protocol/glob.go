package protocol

import "github.com/cachesrv/cachesrv/internal/config/glob"

// globMatch reports whether s matches the Redis glob pattern (* ? [abc]
// [^a] [a-z] \x). It is the project's one matcher, internal/config/glob
// (a standard-library-only leaf, linear time, fuzzed against Redis's
// stringmatchlen), used by KEYS, SCAN MATCH and COMMAND LIST alike.
func globMatch(pattern, s []byte, nocase bool) bool {
	return glob.MatchBytes(pattern, s, nocase)
}
