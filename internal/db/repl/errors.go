package repl

import "errors"

var (
	// ErrNotReplica means a node has no replication configured.
	ErrNotReplica = errors.New("not a replica")
	// ErrNotCaughtUp means a replica did not apply what it had to within
	// the time allowed.
	ErrNotCaughtUp = errors.New("replica did not catch up")
	// ErrReplication means a replica's IO or SQL thread stopped with an
	// error (the message carries MariaDB's).
	ErrReplication = errors.New("replication failed")
	// ErrChecksum means a backup file does not match its manifest.
	ErrChecksum = errors.New("backup checksum mismatch")
)
