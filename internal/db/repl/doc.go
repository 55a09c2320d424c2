// Package repl runs one MariaDB primary and N replicas with GTID
// replication, semi-sync and failover: the settings each node needs, and
// the operations a supervisor strings together (seed a replica, start and
// repoint replication, promote, fence, switch over, back up and restore).
//
// It talks SQL to the nodes and runs mariadb-backup and mariadb-dump; it
// never starts or stops a server. That stays with the caller (the host
// target's supervisor, or Swarm), which also decides when a primary is
// lost: this package gives it the facts (Status, MostAdvanced, Errant)
// and the moves.
//
// The invariants it keeps: every node starts read_only and only Promote
// opens one for writes; a replica never starts replicating by itself; a
// primary commits only once a replica has the transaction (semi-sync
// AFTER_SYNC), so promoting the most advanced replica loses no
// acknowledged write while semi-sync is on.
package repl
