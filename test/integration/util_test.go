package integration

import (
	"io"
	"strconv"
	"sync"
)

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func ioReadFull(r io.Reader, b []byte) (int, error) { return io.ReadFull(r, b) }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)
