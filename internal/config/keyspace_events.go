package config

import "errors"

// keyspaceEventClasses are notify-keyspace-events' class characters in
// Redis's canonical order ("A" stands for g$lshzxetd), plus cachesrv's own
// class 'i' (tag invalidations, docs/client-side-caching.md).
const keyspaceEventClasses = "g$lshzxetd"

// errKeyspaceEvents is Redis's text (with cachesrv's class i added).
//
//lint:ignore ST1005 Redis's exact error text
var errKeyspaceEvents = errors.New("Invalid event class character. Use 'Ag$lshzxeKEtmdni'.")

// CanonicalKeyspaceEvents validates a notify-keyspace-events value and
// returns it in the form CONFIG GET shows, as Redis normalises it.
func CanonicalKeyspaceEvents(s string) (string, error) {
	var set [256]bool
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case 'A':
			for j := 0; j < len(keyspaceEventClasses); j++ {
				set[keyspaceEventClasses[j]] = true
			}
		case 'g', '$', 'l', 's', 'h', 'z', 'x', 'e', 't', 'd', 'K', 'E', 'm', 'n', 'i':
			set[ch] = true
		default:
			return "", errKeyspaceEvents
		}
	}
	all := true
	for j := 0; j < len(keyspaceEventClasses); j++ {
		all = all && set[keyspaceEventClasses[j]]
	}
	var out []byte
	if all {
		out = append(out, 'A')
	} else {
		for j := 0; j < len(keyspaceEventClasses); j++ {
			if set[keyspaceEventClasses[j]] {
				out = append(out, keyspaceEventClasses[j])
			}
		}
	}
	for _, ch := range []byte("KEmni") {
		if set[ch] {
			out = append(out, ch)
		}
	}
	return string(out), nil
}
