package rdb

import "hash/crc64"

// Redis's CRC-64 is the "Jones" polynomial, reflected, with a zero initial
// value and no final xor. Go's crc64 package implements the same reflected
// algorithm with ^crc on entry and exit, which the two helpers undo.
var jones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 continues Redis's CRC-64 of crc over p.
func CRC64(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, jones, p)
}
