// Package config turns command-line flags, the environment and an optional
// YAML file into one validated, typed Config, and serves the CONFIG
// GET/SET/REWRITE commands from the same table of settings.
//
// It is the only package that imports viper (to read the file) and pflag (to
// read flags). Other packages receive plain values taken from Config.
//
// # Sources
//
// Every setting has one name, used as the flag --<name>, the environment
// variable CACHESRV_<NAME> (upper case, dashes as underscores), the YAML key
// and the CONFIG GET/SET parameter. Where Redis has a setting its name and
// value syntax are kept, so "cachesrv --port 7000 --maxmemory 100mb" means
// what it means to redis-server. Load resolves each setting from the first
// source that has it: flag, environment, file (--config FILE or
// CACHESRV_CONFIG), default. All values pass through the same parsers, so a
// setting is spelled the same way everywhere; YAML lists and mappings are
// accepted for the list settings (bind, rename-command).
//
// Value syntax:
//
//   - byte sizes as Redis's memtoull reads them: 100, 1k (1000), 1kb (1024),
//     m, mb, g, gb, case-insensitive (ParseBytes);
//   - yes/no booleans (true/false also accepted);
//   - Redis durations as whole seconds (timeout, tcp-keepalive), our own as
//     Go durations (shutdown-timeout: 10s);
//   - enumerations case-insensitively (maxmemory-policy, log-level).
//
// # Validation
//
// Default holds every default value; Params, Usage and configs/cachesrv.yaml
// are derived from it. Load and Validate report every problem at once, as an
// errors.Join of "<name>: <problem>" lines, so one run shows everything that
// needs fixing. The problem texts follow Redis's CONFIG SET wording, because
// Set returns the same texts for the client.
//
// # Run time
//
// Params describes every setting and whether it is Mutable. Get formats a
// value as CONFIG GET does, Match expands a CONFIG GET glob, Set parses and
// checks one value (rejecting immutable settings with ErrImmutable), and
// Rewrite saves the configuration back to its file. A Config is a plain value
// without locking: apply CONFIG SET to a Clone and publish the clone.
//
// The Redis pattern matcher CONFIG GET uses is the leaf package
// internal/glob, shared with ACL key patterns, KEYS, SCAN and PSUBSCRIBE.
package config
