package rdb

import "fmt"

// lzfDecompress expands LZF data (liblzf, as Redis uses it) into out, which
// must be exactly the uncompressed length.
func lzfDecompress(in, out []byte) error {
	ip, op := 0, 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			n := ctrl + 1
			if ip+n > len(in) || op+n > len(out) {
				return fmt.Errorf("%w: lzf literal overruns", ErrCorrupt)
			}
			copy(out[op:], in[ip:ip+n])
			ip += n
			op += n
			continue
		}
		n := ctrl >> 5
		ref := op - (ctrl&0x1f)<<8 - 1
		if n == 7 {
			if ip >= len(in) {
				return fmt.Errorf("%w: lzf truncated", ErrCorrupt)
			}
			n += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return fmt.Errorf("%w: lzf truncated", ErrCorrupt)
		}
		ref -= int(in[ip])
		ip++
		n += 2
		if ref < 0 || op+n > len(out) {
			return fmt.Errorf("%w: lzf back reference out of range", ErrCorrupt)
		}
		for i := 0; i < n; i++ { // may overlap: byte by byte
			out[op] = out[ref]
			op++
			ref++
		}
	}
	if op != len(out) {
		return fmt.Errorf("%w: lzf expands to %d bytes, header says %d", ErrCorrupt, op, len(out))
	}
	return nil
}
