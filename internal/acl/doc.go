// Package acl holds the ACL users of Redis 7's model: the rule grammar of
// ACL SETUSER and the ACL file, the user registry, and Check, which decides
// whether a user may run a command with given arguments.
//
// The package never sees a connection. The wire layer (internal/protocol)
// keeps which user a connection runs as, asks User.Check before running or
// queueing a command, logs denials (ACL LOG, audit) and closes the
// connections of deleted users itself. It describes its command table to the
// rules once, with NewTable, and each command at check time through the
// small Command interface.
//
// Concurrency: a *User is immutable once published. ACL SETUSER builds a
// modified copy and publishes it in the user's Slot, which connections
// authenticated as that user point to, so changes apply to them at once (as
// in Redis). The registry's mutex serialises changes; readers only load
// atomics.
package acl
