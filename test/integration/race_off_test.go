//go:build !race

package integration

const raceOn = false
