//go:build linux

package bufpool

import "golang.org/x/sys/unix"

// offHeap reports whether large buffers live in mappings of their own.
const offHeap = true

// mapBuf maps size bytes of anonymous private memory.
func mapBuf(size int) ([]byte, bool) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, false
	}
	return b, true
}

// remapBuf resizes a mapping from mapBuf (b is its whole length) to size
// bytes, keeping its pages: a shrink gives the tail back to the kernel, a
// growth (which may move the mapping, page tables and all, without copying)
// adds fresh pages only at the end.
func remapBuf(b []byte, size int) ([]byte, bool) {
	nb, err := unix.Mremap(b, size, unix.MREMAP_MAYMOVE)
	if err != nil {
		return nil, false
	}
	return nb, true
}

// unmapBuf unmaps a buffer from mapBuf (b is its whole length). A buffer
// that is not a mapping (EINVAL: a heap buffer put back by mistake) is left
// to the collector.
func unmapBuf(b []byte) { _ = unix.Munmap(b) }
