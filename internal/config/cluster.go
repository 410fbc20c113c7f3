package config

import (
	"errors"
	"net/netip"
	"path/filepath"
)

// Cluster settings (docs/cluster.md). The names are Redis's, except
// cluster-slot-takeover, cachesrv's switch for cache-style failover.

// ClusterBusPort returns the cluster bus port: cluster-port, or port+10000
// when cluster-port is 0 (as Redis 7).
func (c *Config) ClusterBusPort() int {
	if c.ClusterPort != 0 {
		return c.ClusterPort
	}
	return c.Port + 10000
}

// ClusterConfigPath returns cluster-config-file resolved against dir, as
// Redis resolves it against its working directory.
func (c *Config) ClusterConfigPath() string {
	if filepath.IsAbs(c.ClusterConfigFile) {
		return c.ClusterConfigFile
	}
	return filepath.Join(c.Dir, c.ClusterConfigFile)
}

func checkAnnounceIP(s string) error {
	if s == "" {
		return nil
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return errors.New("argument must be an IP address")
	}
	return nil
}

func checkClusterFile(s string) error {
	if s == "" {
		return errors.New("cluster-config-file must not be empty")
	}
	return nil
}

// clusterParams are the cluster settings.
func clusterParams() []*param {
	return []*param{
		withSection("Cluster", boolParam(meta("cluster-enabled", "yes|no", redis,
			"run as a Redis Cluster node (docs/cluster.md)"),
			func(c *Config) *bool { return &c.ClusterEnabled })),
		withSection("Cluster", intParam(meta("cluster-port", "port", redis,
			"cluster bus port (gossip between nodes); 0 = port + 10000"),
			func(c *Config) *int { return &c.ClusterPort }, 0, 65535)),
		withSection("Cluster", stringParam(meta("cluster-config-file", "file", redis,
			"the node's cluster state (node id, epochs, slots, peers), written by the node; relative to dir"),
			func(c *Config) *string { return &c.ClusterConfigFile }, checkClusterFile)),
		withSection("Cluster", intParam(meta("cluster-node-timeout", "milliseconds", redis,
			"a node unreachable for this long is marked failed (and its slots taken over when cluster-slot-takeover is yes)"),
			func(c *Config) *int64 { return &c.ClusterNodeTimeout }, 100, 1<<31)),
		withSection("Cluster", boolParam(meta("cluster-require-full-coverage", "yes|no", redis,
			"refuse every query (CLUSTERDOWN) while some slot has no live owner"),
			func(c *Config) *bool { return &c.ClusterRequireFullCoverage })),
		withSection("Cluster", boolParam(meta("cluster-slot-takeover", "yes|no", 0,
			"cache-style failover: the live masters share the slots of a failed master (empty) instead of leaving them unserved"),
			func(c *Config) *bool { return &c.ClusterSlotTakeover })),
		withSection("Cluster", stringParam(meta("cluster-announce-ip", "address", redis,
			"IP address the node gives clients and peers; empty = the bound address"),
			func(c *Config) *string { return &c.ClusterAnnounceIP }, checkAnnounceIP)),
	}
}
