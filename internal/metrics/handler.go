package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxScrapes bounds concurrent /metrics requests; each one walks every
// shard, so a scrape storm must not pile up.
const maxScrapes = 4

// Handler serves
//
//   - /metrics: the metrics gathered from g, in the format the scraper asks
//     for; a metric that fails to build is logged in the reply's place and
//     the rest are still served;
//   - /healthz: 200 "ok" as long as the process can answer (liveness);
//   - /readyz: 200 "ok" when ready reports true, 503 otherwise (readiness).
//     A nil ready means always ready.
//
// Any other path is 404, any method other than GET or HEAD 405.
func Handler(g prometheus.Gatherer, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil && !ready() {
			plain(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		plain(w, http.StatusOK, "ok\n")
	})
	return mux
}

func plain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
