package cluster

import "testing"

func TestKeySlot(t *testing.T) {
	t.Parallel()
	// Expected values from redis-server 7's CLUSTER KEYSLOT.
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"", 0},
		{"foo", 12182},
		{"bar", 5061},
		{"123456789", 12739}, // CRC16/XMODEM check value 0x31C3
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},
		{"foo{{bar}}zap", 4015},
		{"foo{bar}{zap}", 5061},
		{"{", 4092},
	} {
		if got := KeySlot([]byte(tc.key)); got != tc.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

func BenchmarkKeySlot(b *testing.B) {
	key := []byte("user:1000:profile")
	b.ReportAllocs()
	for b.Loop() {
		KeySlot(key)
	}
}
