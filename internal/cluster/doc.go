// Package cluster is cachesrv's Redis Cluster node: key→slot hashing, the
// node's view of the cluster (node ids, config epochs, slot owners,
// importing/migrating slots), the cluster config file, the routing
// decision the dispatcher asks for every keyed command (MOVED, ASK,
// CROSSSLOT, TRYAGAIN, CLUSTERDOWN), a per-slot key index over the store,
// and membership and slot-map propagation on hashicorp/memberlist.
//
// It knows nothing of RESP: package protocol turns its decisions and
// views into replies (cmd_cluster.go). docs/cluster.md describes the
// behaviour and the differences from Redis Cluster.
package cluster
