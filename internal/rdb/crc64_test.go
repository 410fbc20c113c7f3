package rdb

import "testing"

func TestCRC64MatchesRedis(t *testing.T) {
	t.Parallel()
	// The check value from Redis's src/crc64.c self test; the DUMP tests
	// against redis-server check real payloads.
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %#x, want 0xe9c6d914c4b8d9ca", got)
	}
	li := []byte("This is a test of the emergency broadcast system.")
	// Incremental equals one shot.
	if CRC64(CRC64(0, li[:10]), li[10:]) != CRC64(0, li) {
		t.Fatal("incremental crc differs")
	}
}
