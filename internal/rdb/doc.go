// Package rdb reads and writes Redis's RDB serialization: the DUMP/RESTORE
// payload and the dump.rdb file written by redis-server 7.0 (RDB version 10).
//
// The package knows the wire format only; it never touches the store. Value
// types plug in by their RDB type byte: ReadValue decodes the types cachesrv
// can hold and skips every other type Redis 7.0 writes (reporting
// ErrUnsupportedType with the type), so a file with lists or streams still
// loads its strings. A new value type adds a case to ReadValue and an
// encoder next to AppendString.
//
// No Go RDB library is used: github.com/hdt3213/rdb is not served by the
// module proxy, and the loader needs a streaming reader that allocates
// nothing per key.
package rdb
