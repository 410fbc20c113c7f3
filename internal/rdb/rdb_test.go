package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestDumpStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "a", "0", "-1", "127", "-128", "128", "32767", "-32768", "2147483647",
		"-2147483648", "2147483648", "007", "+1", "-0", "12345678901", string(bytes.Repeat([]byte("x"), 70000))} {
		p := DumpString(nil, []byte(v))
		typ, body, err := ParseDump(p)
		if err != nil || typ != TypeString {
			t.Fatalf("%q: ParseDump: %v type %d", v, err, typ)
		}
		got, err := NewBytesReader(body).ReadValue(typ, nil)
		if err != nil || string(got) != v {
			t.Fatalf("%q: read back %q, %v", v, got, err)
		}
	}
}

func TestDumpStringMatchesRedisBytes(t *testing.T) {
	t.Parallel()
	// redis-cli DUMP outputs of redis-server 7.0 for SET k bar / SET k 1000.
	cases := []struct{ val, hex string }{
		{"bar", "\x00\x03bar\x0a\x00"},
		{"1000", "\x00\xc1\xe8\x03\x0a\x00"},
	}
	for _, c := range cases {
		p := DumpString(nil, []byte(c.val))
		if !bytes.Equal(p[:len(p)-8], []byte(c.hex)) {
			t.Fatalf("%q: got % x want % x", c.val, p[:len(p)-8], c.hex)
		}
	}
}

func TestParseDumpRejects(t *testing.T) {
	t.Parallel()
	good := DumpString(nil, []byte("hello"))
	flipped := bytes.Clone(good)
	flipped[3] ^= 1
	newer := bytes.Clone(good)
	binary.LittleEndian.PutUint16(newer[len(newer)-10:], 11)
	binary.LittleEndian.PutUint64(newer[len(newer)-8:], CRC64(0, newer[:len(newer)-8]))
	for name, c := range map[string]struct {
		p    []byte
		want error
	}{
		"short":   {good[:5], ErrCorrupt},
		"flipped": {flipped, ErrChecksum},
		"version": {newer, ErrVersion},
	} {
		if _, _, err := ParseDump(c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
}

func TestLZF(t *testing.T) {
	t.Parallel()
	// "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (30 × a) as liblzf compresses it:
	// literal "a", then a back reference of length 29 at distance 1.
	in := []byte{0x00, 'a', 0xe0, 29 - 2 - 7, 0x00}
	out := make([]byte, 30)
	if err := lzfDecompress(in, out); err != nil || string(out) != string(bytes.Repeat([]byte("a"), 30)) {
		t.Fatalf("lzf: %q %v", out, err)
	}
	if err := lzfDecompress(in, make([]byte, 31)); err == nil {
		t.Fatal("wrong length accepted")
	}
	if err := lzfDecompress([]byte{0xe0, 1, 5}, make([]byte, 10)); err == nil {
		t.Fatal("reference before start accepted")
	}
	// Through ReadString.
	enc := append([]byte{0xc3}, AppendLen(nil, uint64(len(in)))...)
	enc = append(AppendLen(enc, 30), in...)
	got, err := NewBytesReader(enc).ReadString(nil)
	if err != nil || len(got) != 30 {
		t.Fatalf("ReadString lzf: %q %v", got, err)
	}
}

// buildFile writes a small RDB file the way redis-server lays it out.
func buildFile(t testing.TB, checksum bool) []byte {
	t.Helper()
	b := []byte("REDIS0010")
	b = append(b, opAux)
	b = AppendString(b, []byte("redis-ver"))
	b = AppendString(b, []byte("7.0.15"))
	b = append(b, opSelectDB, 0, opResizeDB, 2, 1)
	b = append(b, TypeString)
	b = AppendString(b, []byte("k1"))
	b = AppendString(b, []byte("v1"))
	b = append(b, opExpireTimeMs)
	b = binary.LittleEndian.AppendUint64(b, 1<<42)
	b = append(b, TypeString)
	b = AppendString(b, []byte("k2"))
	b = AppendString(b, []byte("42"))
	b = append(b, TypeSet)
	b = AppendString(b, []byte("s"))
	b = append(b, 2)
	b = AppendString(b, []byte("m1"))
	b = AppendString(b, []byte("m2"))
	b = append(b, opSelectDB, 15)
	b = append(b, opFreq, 7, TypeString)
	b = AppendString(b, []byte("k3"))
	b = AppendString(b, []byte("v3"))
	b = append(b, opEOF)
	if checksum {
		b = binary.LittleEndian.AppendUint64(b, CRC64(0, b))
	} else {
		b = binary.LittleEndian.AppendUint64(b, 0)
	}
	return b
}

func readAll(p []byte) ([]Entry, *FileReader, error) {
	f, err := NewFileReader(bytes.NewReader(p))
	if err != nil {
		return nil, nil, err
	}
	var out []Entry
	for {
		var e Entry
		err := f.Next(&e)
		if err == io.EOF {
			return out, f, nil
		}
		if err != nil {
			return out, f, err
		}
		out = append(out, e)
	}
}

func TestFileReader(t *testing.T) {
	t.Parallel()
	for _, sum := range []bool{true, false} {
		es, f, err := readAll(buildFile(t, sum))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 4 || string(es[0].Key) != "k1" || es[0].ExpireMs != 0 || string(es[1].Value) != "42" ||
			es[1].ExpireMs != 1<<42 || es[3].DB != 15 || es[3].Freq != 7 || string(es[3].Value) != "v3" {
			t.Fatalf("entries %+v", es)
		}
		// The set is read as a collection (Coll is valid until the next
		// call: readAll keeps only its presence).
		if string(es[2].Key) != "s" || es[2].Type != TypeSet || es[2].Coll == nil {
			t.Fatalf("set entry %+v", es[2])
		}
		if len(f.Skipped) != 0 || f.Aux["redis-ver"] != "7.0.15" {
			t.Fatalf("skipped %v aux %v", f.Skipped, f.Aux)
		}
	}
}

func TestFileReaderDetectsEveryFlipAndTruncation(t *testing.T) {
	t.Parallel()
	good := buildFile(t, true)
	for i := range good {
		for _, bit := range []byte{1, 0x80} {
			p := bytes.Clone(good)
			p[i] ^= bit
			if _, _, err := readAll(p); err == nil {
				t.Fatalf("flip of bit %#x at byte %d not detected", bit, i)
			}
		}
	}
	for n := range len(good) {
		if _, _, err := readAll(good[:n]); err == nil {
			t.Fatalf("truncation at %d not detected", n)
		}
	}
}

func FuzzParseDump(f *testing.F) {
	f.Add(DumpString(nil, []byte("hello")))
	f.Add(DumpString(nil, []byte("12345")))
	f.Fuzz(func(t *testing.T, p []byte) {
		typ, body, err := ParseDump(p)
		if err != nil {
			return
		}
		r := NewBytesReader(body)
		r.MaxString = 1 << 20
		_, _ = r.ReadValue(typ, nil)
	})
}

func FuzzFileReader(f *testing.F) {
	f.Add(buildFile(f, true))
	f.Add(buildFile(f, false))
	f.Fuzz(func(t *testing.T, p []byte) {
		fr, err := NewFileReader(bytes.NewReader(p))
		if err != nil {
			return
		}
		fr.SetMaxString(1 << 20)
		for i := 0; i < 1000; i++ {
			var e Entry
			if err := fr.Next(&e); err != nil {
				return
			}
		}
	})
}
