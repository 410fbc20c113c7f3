package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPubSubMetrics(t *testing.T) {
	t.Parallel()
	c := NewCollector(Source{PubSub: func() PubSubStats {
		return PubSubStats{Channels: 3, Patterns: 1, Subscribers: 2, Messages: 40, Pushes: 55, Invalidations: 15,
			TrackingKeys: 7, TrackingItems: 9, TrackingClients: 2, TrackingPrefixes: 1}
	}})
	const exp = `
# HELP cachesrv_pubsub_messages_total Messages delivered by PUBLISH (one per receiving client).
# TYPE cachesrv_pubsub_messages_total counter
cachesrv_pubsub_messages_total 40
# HELP cachesrv_pubsub_subscribers Clients subscribed to at least one channel or pattern.
# TYPE cachesrv_pubsub_subscribers gauge
cachesrv_pubsub_subscribers 2
# HELP cachesrv_tracking_invalidation_pushes_total Client-side caching invalidation frames sent.
# TYPE cachesrv_tracking_invalidation_pushes_total counter
cachesrv_tracking_invalidation_pushes_total 15
# HELP cachesrv_tracking_keys Keys in the tracking table (default mode).
# TYPE cachesrv_tracking_keys gauge
cachesrv_tracking_keys 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(exp), "cachesrv_pubsub_messages_total",
		"cachesrv_pubsub_subscribers", "cachesrv_tracking_invalidation_pushes_total", "cachesrv_tracking_keys"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}
