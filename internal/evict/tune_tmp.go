package evict

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// TEMPORARY tuning knobs; removed before hand-off.
var tune = map[string]float64{
	"sample":   10,
	"window":   0.01,
	"step":     0.0625,
	"decay":    0.98,
	"sdecay": 0.9,
	"restart":  0.05,
	"sign":     -1,
	"protect":  0.8,
	"shift":    1,
	"minsample": 0,
	"reset": 10,
	"mode": 0,
	"minmini": 256,
	"period": 1,
	"hyst": 0,
	"debug": 0,
	"maxsample": 1e12,
}

func init() {
	for _, kv := range strings.Split(os.Getenv("EVT"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(kv)
		}
		if _, ok := tune[k]; !ok {
			panic("unknown knob " + k)
		}
		tune[k] = f
	}
}

func debugf(f string, a ...any) { fmt.Fprintf(os.Stderr, f, a...) }
