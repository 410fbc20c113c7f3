package coll

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSeqRoundTrip(t *testing.T) {
	t.Parallel()
	for _, items := range [][][]byte{
		nil,
		{[]byte("")},
		{[]byte("a"), []byte("bc"), bytes.Repeat([]byte("x"), 300)},
	} {
		v := Encode(nil, FlagFieldTTL, items)
		if len(v) != Size(items) {
			t.Fatalf("Size = %d, encoded %d", Size(items), len(v))
		}
		got, flags, err := Decode(v, nil)
		if err != nil || flags != FlagFieldTTL || len(got) != len(items) || Count(v) != len(items) {
			t.Fatalf("Decode(%q) = %q %d %v", v, got, flags, err)
		}
		for i := range got {
			if !bytes.Equal(got[i], items[i]) {
				t.Fatalf("item %d = %q, want %q", i, got[i], items[i])
			}
		}
	}
	if _, _, err := Decode([]byte{0, 2, 1, 'a'}, nil); err == nil {
		t.Fatal("truncated sequence decoded")
	}
}

// TestListModel replays random pushes and pops against a slice.
func TestListModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	l := BuildList(nil, nil, 8, 8)
	var model [][]byte
	for op := 0; op < 20000; op++ {
		e := bytes.Repeat([]byte{byte('a' + op%26)}, rng.IntN(200))
		switch rng.IntN(5) {
		case 0, 1:
			front := rng.IntN(2) == 0
			ok := false
			if front {
				ok = l.PushFront(e)
			} else {
				ok = l.PushBack(e)
			}
			if !ok {
				elems := l.Elems(nil)
				if front {
					elems = append([][]byte{e}, elems...)
				} else {
					elems = append(elems, e)
				}
				l = BuildList(nil, elems, len(elems)*8+64, 64)
			}
			if front {
				model = append([][]byte{e}, model...)
			} else {
				model = append(model, e)
			}
		case 2:
			got, ok := l.PopFront()
			if ok != (len(model) > 0) {
				t.Fatalf("op %d: PopFront ok=%v with %d elements", op, ok, len(model))
			}
			if ok {
				if !bytes.Equal(got, model[0]) {
					t.Fatalf("op %d: PopFront = %q, want %q", op, got, model[0])
				}
				model = model[1:]
			}
		case 3:
			got, ok := l.PopBack()
			if ok != (len(model) > 0) {
				t.Fatalf("op %d: PopBack ok=%v with %d elements", op, ok, len(model))
			}
			if ok {
				if !bytes.Equal(got, model[len(model)-1]) {
					t.Fatalf("op %d: PopBack = %q", op, got)
				}
				model = model[:len(model)-1]
			}
		case 4:
			if len(model) == 0 {
				continue
			}
			a := rng.IntN(len(model))
			b := a + rng.IntN(len(model)-a)
			var got [][]byte
			l.Range(a, b, func(e []byte) { got = append(got, e) })
			if fmt.Sprint(got) != fmt.Sprint(model[a:b+1]) {
				t.Fatalf("op %d: Range(%d,%d) differs", op, a, b)
			}
		}
		if l.Len() != len(model) || !l.Valid() {
			t.Fatalf("op %d: Len=%d model=%d valid=%v", op, l.Len(), len(model), l.Valid())
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, 0, [][]byte{[]byte("a"), []byte("b")}))
	f.Add([]byte{0, 5})
	f.Fuzz(func(t *testing.T, v []byte) {
		items, flags, err := Decode(v, nil)
		if err != nil {
			return
		}
		if again := Encode(nil, flags, items); !bytes.Equal(again, v) && len(v) > 0 {
			// Non-minimal varints decode but re-encode shorter; the items
			// must survive the round trip either way.
			got, _, err := Decode(again, nil)
			if err != nil || len(got) != len(items) {
				t.Fatalf("re-encoding of %q lost items", v)
			}
		}
	})
}

func FuzzList(f *testing.F) {
	f.Add([]byte(BuildList(nil, [][]byte{[]byte("a"), []byte("bb")}, 4, 4)), []byte("x"))
	f.Fuzz(func(t *testing.T, v, e []byte) {
		l := List(append([]byte(nil), v...))
		if !l.HeaderValid() {
			return
		}
		if !l.Valid() {
			// Corrupt elements behind a sane header: every access must
			// stay in bounds.
			l.Elems(nil)
			l.Range(0, l.Len()-1, func([]byte) {})
			l.PushBack(e)
			l.PushFront(e)
			for i := 0; i < 4; i++ {
				l.PopBack()
				l.PopFront()
			}
			return
		}
		n := l.Len()
		all := l.Elems(nil)
		if len(all) != n {
			t.Fatalf("Elems = %d, Len = %d", len(all), n)
		}
		if l.PushBack(e) {
			n++
		}
		if l.PushFront(e) {
			n++
		}
		if !l.Valid() || l.Len() != n {
			t.Fatal("push broke the list")
		}
		for l.Len() > 0 {
			if _, ok := l.PopBack(); !ok {
				t.Fatal("PopBack failed on a valid list")
			}
			if _, ok := l.PopFront(); !ok && l.Len() > 0 {
				t.Fatal("PopFront failed on a valid list")
			}
		}
	})
}
