package cluster

// Slots is the number of hash slots (Redis Cluster's 16384).
const Slots = 16384

// crc16tab is CRC16-CCITT (XMODEM), Redis's slot hash.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return
}()

func crc16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crc16tab[byte(c>>8)^x]
	}
	return c
}

// KeySlot returns the hash slot of key, honouring hash tags: when the key
// holds a "{...}" with at least one byte between the first '{' and the
// next '}', only those bytes are hashed.
func KeySlot(key []byte) int {
	for i, ch := range key {
		if ch == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j == i+1 {
						break
					}
					return int(crc16(key[i+1:j]) & (Slots - 1))
				}
			}
			break
		}
	}
	return int(crc16(key) & (Slots - 1))
}
