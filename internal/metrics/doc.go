// Package metrics owns every Prometheus name cachesrv exports and the HTTP
// endpoint that serves them.
//
// Nothing is counted here. Each part of the server keeps its own counters
// where its locks already are and exposes them as a stats snapshot; at scrape
// time a single [prometheus.Collector] calls the funcs of a [Source], turns
// the snapshots into constant metrics and forgets them. The request path
// therefore never touches a Prometheus object or a label map.
//
// To stay free of the parts it reports on, the package defines its own plain
// input types ([ServerStats], [StoreStats], [ExpireStats], [Histogram]); the
// wiring in internal/app converts the real stats into them. In particular
// metrics and internal/protocol never import each other.
//
// Naming rules: every name starts with "cachesrv_", uses base units
// (seconds, bytes), counters end in "_total", and labels take values from
// closed sets only (command names from the command table, database numbers,
// removal reasons, error prefixes bounded by the server). A key, a tag or a
// client address is never a label.
//
// Adding metrics for a new part: add a func returning a plain stats struct to
// [Source], a descriptor to the collector and the conversion in Collect, and
// extend the tests (the linter test covers every name automatically). For a
// quick addition that does not warrant a type here, set [Source.Extra] and
// [Source.ExtraDescs].
//
// [New] registers on a caller-supplied [prometheus.Registerer]; nothing is
// registered globally. [Handler] serves /metrics, /healthz and /readyz.
package metrics
