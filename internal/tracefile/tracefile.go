// Package tracefile reads cache request traces (ARC, LIRS, cache2k, scarab
// and plain key logs, optionally gzip- or xz-compressed) for cmd/tracesim
// and cmd/replay.
package tracefile

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Trace formats.
const (
	FormatARC     = "arc"
	FormatLIRS    = "lirs"
	FormatCache2k = "cache2k"
	FormatScarab  = "scarab"
	FormatKeys    = "keys"
)

var Formats = []string{FormatARC, FormatLIRS, FormatCache2k, FormatScarab, FormatKeys}

// Trace is a decoded request stream. Keys are numbered densely in order of
// first appearance: reqs holds one key number per request and hashes one
// 64-bit hash per key.
type Trace struct {
	Name   string
	Reqs   []int32
	Hashes []uint64
}

// DetectFormat splits a file name of the form <name>.<format>.<gz|xz|none>
// (or <name>.<format>) into format and compression.
func DetectFormat(path string) (format, compression string, err error) {
	parts := strings.Split(filepath.Base(path), ".")
	if len(parts) >= 2 {
		switch last := parts[len(parts)-1]; last {
		case "gz", "xz", "none":
			compression = last
			parts = parts[:len(parts)-1]
		}
	}
	if len(parts) >= 2 {
		format = parts[len(parts)-1]
		for _, f := range Formats {
			if f == format {
				return format, compression, nil
			}
		}
	}
	return "", compression, fmt.Errorf("cannot tell the format of %s from its name <name>.<format>.<gz|xz|none>; use -format (one of %s)",
		path, strings.Join(Formats, ", "))
}

// Open opens path, decompressing by its extension: gzip in process, xz
// through the xz command.
func Open(path, compression string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	switch compression {
	case "gz":
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		return &multiCloser{Reader: zr, closers: []io.Closer{zr, f}}, nil
	case "xz":
		f.Close()
		xz, err := exec.LookPath("xz")
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: the xz command is not installed (install xz-utils, or decompress the file with xz -dk first)", path)
		}
		cmd := exec.Command(xz, "-dc", path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("cannot run xz on %s: %w", path, err)
		}
		return &xzReader{Reader: out, cmd: cmd, stderr: &stderr, path: path}, nil
	}
	return f, nil
}

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *multiCloser) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

type xzReader struct {
	io.Reader
	cmd    *exec.Cmd
	stderr *strings.Builder
	path   string
}

func (x *xzReader) Close() error {
	// Drain so xz can exit, then report its status.
	_, _ = io.Copy(io.Discard, x.Reader)
	if err := x.cmd.Wait(); err != nil {
		return fmt.Errorf("xz -dc %s: %w: %s", x.path, err, strings.TrimSpace(x.stderr.String()))
	}
	return nil
}

// Parse calls fn with every key of the stream r in format.
func Parse(r io.Reader, format string, fn func(key uint64)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	switch format {
	case FormatCache2k, FormatScarab:
		width := 4
		if format == FormatScarab {
			width = 8
		}
		var buf [8]byte
		for n := 0; ; n++ {
			_, err := io.ReadFull(br, buf[:width])
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("record %d: truncated %d-byte key: %w", n, width, err)
			}
			if width == 4 {
				fn(uint64(int64(int32(binary.BigEndian.Uint32(buf[:4])))))
			} else {
				fn(binary.BigEndian.Uint64(buf[:8]))
			}
		}
	case FormatARC, FormatLIRS, FormatKeys:
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimRight(sc.Text(), "\r")
			if err := parseLine(format, text, fn); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
		}
		return sc.Err()
	}
	return fmt.Errorf("unknown trace format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func parseLine(format, text string, fn func(key uint64)) error {
	switch format {
	case FormatKeys:
		if text != "" {
			fn(fnv64a(text))
		}
		return nil
	case FormatLIRS:
		text = strings.TrimSpace(text)
		if text == "" || text == "*" {
			return nil
		}
		k, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return fmt.Errorf("bad block number %q", text)
		}
		fn(uint64(k))
		return nil
	}
	// ARC: start_block count ignored request_no
	f := strings.Fields(text)
	if len(f) == 0 {
		return nil
	}
	if len(f) < 2 {
		return fmt.Errorf("want \"start count ...\", got %q", text)
	}
	start, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return fmt.Errorf("bad start block %q", f[0])
	}
	count, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || count < 0 || count > maxARCRun {
		return fmt.Errorf("bad count %q (want 0 to %d)", f[1], maxARCRun)
	}
	for i := range count {
		fn(uint64(start + i))
	}
	return nil
}

// maxARCRun bounds the blocks one ARC line may stand for.
const maxARCRun = 1 << 24

func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Mix64 is the splitMix64 finaliser: it turns sequential block numbers into
// well-spread hashes, as a store's key hash would be.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Load reads and decodes a whole trace file. format "" means detect
// from the name.
func Load(path, format string) (*Trace, error) {
	detected, compression, err := DetectFormat(path)
	if format == "" {
		if err != nil {
			return nil, err
		}
		format = detected
	}
	r, err := Open(path, compression)
	if err != nil {
		return nil, err
	}
	t := &Trace{Name: Name(path)}
	index := make(map[uint64]int32)
	perr := Parse(r, format, func(key uint64) {
		k, ok := index[key]
		if !ok {
			k = int32(len(t.Hashes))
			index[key] = k
			t.Hashes = append(t.Hashes, Mix64(key))
		}
		t.Reqs = append(t.Reqs, k)
	})
	cerr := r.Close()
	if perr != nil {
		return nil, fmt.Errorf("cannot parse %s as %s: %w", path, format, perr)
	}
	if cerr != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, cerr)
	}
	return t, nil
}

// Name is the file name up to its first dot.
func Name(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i > 0 {
		return base[:i]
	}
	return base
}
