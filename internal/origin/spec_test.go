package origin

import "github.com/cachesrv/cachesrv/internal/origin/spec"

func specRoute(p string) spec.Route { return spec.Route{Pattern: p, Origin: "o"} }
