package cmdtab

import (
	"slices"
	"testing"
)

func TestKeyIndexes(t *testing.T) {
	t.Parallel()
	args := func(n int) [][]byte { return make([][]byte, n) }
	for _, tc := range []struct {
		spec Spec
		n    int
		want []int
	}{
		{Spec{FirstKey: 1, LastKey: 1, Step: 1}, 3, []int{1}},        // GET k, SET k v
		{Spec{FirstKey: 1, LastKey: -1, Step: 2}, 5, []int{1, 3}},    // MSET k v k v
		{Spec{FirstKey: 1, LastKey: -1, Step: 1}, 4, []int{1, 2, 3}}, // DEL k k k
		{Spec{FirstKey: 1, LastKey: -2, Step: 1}, 4, []int{1, 2}},    // BLPOP k k timeout
		{Spec{}, 3, nil}, // PING
		{Spec{FirstKey: 1, LastKey: 5, Step: 0}, 3, []int{1, 2}}, // clipped at the arguments
		{Spec{FirstKey: 2, Keys: func(a [][]byte, d []int) []int { return append(d, 4) }}, 5, []int{4}},
	} {
		if got := tc.spec.KeyIndexes(args(tc.n), nil); !slices.Equal(got, tc.want) {
			t.Errorf("%+v over %d args: %v, want %v", tc.spec, tc.n, got, tc.want)
		}
	}
}

func TestArityAndFlags(t *testing.T) {
	t.Parallel()
	if !ArityOK(2, 2) || ArityOK(2, 3) || !ArityOK(-3, 5) || ArityOK(-3, 2) {
		t.Fatal("ArityOK")
	}
	if got := (FlagWrite | FlagFast | FlagNoAuth).Names(); !slices.Equal(got, []string{"write", "fast", "no_auth"}) {
		t.Fatalf("Names %v", got)
	}
	s := Spec{Flags: FlagWrite | FlagAdmin, Category: "keyspace dangerous"}
	if got := s.Categories(); !slices.Equal(got, []string{"write", "admin", "dangerous", "slow", "keyspace"}) {
		t.Fatalf("Categories %v", got)
	}
}
