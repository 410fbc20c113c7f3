//go:build !linux

package bufpool

// offHeap reports whether large buffers live in mappings of their own: not
// here, every buffer is on the Go heap.
const offHeap = false

func mapBuf(int) ([]byte, bool) { return nil, false }

func remapBuf([]byte, int) ([]byte, bool) { return nil, false }

func unmapBuf([]byte) {}
