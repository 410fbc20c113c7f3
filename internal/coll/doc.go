// Package coll holds the compact byte encodings of cachesrv's collection
// values (hashes, sets, sorted sets, lists). A collection is one store
// record: its value bytes are one of the encodings below, so it holds no Go
// pointers, is charged to used_memory byte for byte with its record and
// leaves the keyspace (freeing all of its memory) when the key is evicted,
// expired or deleted.
//
// # Sequences (hashes, sets, sorted sets)
//
//	[0]      flags (FlagFieldTTL for hashes whose fields carry deadlines)
//	uvarint  number of items
//	items    each uvarint length + bytes
//
// A hash is a sequence of field, value pairs (triples field, value,
// 8-byte deadline when FlagFieldTTL is set); a set a sequence of members; a
// sorted set a sequence of member, 8-byte score pairs ordered by (score,
// member). Lookups scan the sequence: this is Redis's listpack trade-off,
// kept for every size (see docs/datatypes.md for the costs).
//
// # Lists
//
// A list is a gap buffer so that pushes and pops at both ends are O(1)
// amortized and happen in place under the shard lock:
//
//	[0:4]   element count
//	[4:8]   head: offset of the first element within the buffer
//	[8:12]  tail: offset just past the last element
//	buffer  free space, elements, free space
//
// An element is uvarint length, bytes, the length's uvarint bytes reversed,
// so the list can be walked from either end. When an end runs out of room
// the list is rebuilt with free space at both ends.
//
// Decoders validate their input and never panic on corrupt bytes (fuzzed).
package coll
