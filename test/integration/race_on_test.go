//go:build race

package integration

// raceOn reports whether the race detector is on (it slows everything
// down several times, so latency targets are checked loosely).
const raceOn = true
