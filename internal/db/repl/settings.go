package repl

import (
	"fmt"
	"strconv"
	"time"
)

// Role is what a node is rendered as. It decides one start-up setting,
// crash recovery (init_rpl_role); at run time the supervisor moves roles
// with Promote and Repoint.
type Role int

const (
	Primary Role = 1
	Replica Role = 2
)

func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Replica:
		return "replica"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// WaitPoint is when a semi-sync primary waits for a replica's ack.
type WaitPoint string

const (
	// AfterSync waits after the binlog is synced and before the storage
	// engine commits: no other client sees a transaction that no replica
	// has, so a failover cannot lose what anyone has read.
	AfterSync WaitPoint = "AFTER_SYNC"
	// AfterCommit waits after the engine commit: other clients may read a
	// transaction that a failover then loses.
	AfterCommit WaitPoint = "AFTER_COMMIT"
)

// SettingsOptions tunes Settings; the zero value is the recommended setup.
type SettingsOptions struct {
	// WaitPoint defaults to AfterSync.
	WaitPoint WaitPoint
	// SemiSyncTimeout is how long a commit waits for a replica's ack
	// before the primary falls back to asynchronous replication (and
	// stops guaranteeing that failover loses nothing). Default 10s.
	SemiSyncTimeout time.Duration
	// Standalone is for a stack without replicas: no semi-sync, so that
	// commits never wait for an ack that cannot come.
	Standalone bool
	// BinlogBasename and RelayLogBasename name the logs inside the data
	// directory. Defaults "mariadb-bin" and "relay-bin".
	BinlogBasename   string
	RelayLogBasename string
}

// Settings returns the [mysqld] settings a node needs for GTID replication
// with semi-sync, to be merged into its my.cnf.
//
// Every node starts read_only, the primary too: a node only takes writes
// once the supervisor has called Promote on it, so an old primary that
// comes back after a failover is fenced from its first second. The app's
// account must not hold READ ONLY ADMIN (part of ALL PRIVILEGES ON *.*),
// which MariaDB 10.11 lets write through read_only.
//
// A replica never starts replicating by itself (skip_slave_start): after
// a restart the supervisor first decides who the primary is.
//
// Semi-sync's replica side is on everywhere; its primary side is off in
// the file and Promote turns it on at run time (Repoint turns it off).
// A replica with it on would wait, in its own applier, for acks from
// replicas it does not have (every replicated transaction goes to its
// binlog too); and a primary with it on but no replica connected yet
// stalls its first commit for the whole timeout. So the first primary
// can be bootstrapped (as root, whom read_only does not stop) before any
// replica exists, without waiting.
//
// init_rpl_role=SLAVE for the Replica role makes crash recovery drop
// transactions at the tail of the binlog that never committed in InnoDB:
// with AFTER_SYNC, those are exactly the ones no replica acknowledged, so
// a crashed primary that the supervisor restarts as a replica comes back
// without the transactions that would make it errant. A primary restarted
// as the primary (no failover happened) must keep them, hence the role.
func Settings(role Role, serverID uint32, o SettingsOptions) map[string]string {
	if o.WaitPoint == "" {
		o.WaitPoint = AfterSync
	}
	if o.SemiSyncTimeout <= 0 {
		o.SemiSyncTimeout = 10 * time.Second
	}
	if o.BinlogBasename == "" {
		o.BinlogBasename = "mariadb-bin"
	}
	if o.RelayLogBasename == "" {
		o.RelayLogBasename = "relay-bin"
	}
	s := map[string]string{
		"server_id":         strconv.FormatUint(uint64(serverID), 10),
		"log_bin":           o.BinlogBasename,
		"log_bin_index":     o.BinlogBasename + ".index",
		"relay_log":         o.RelayLogBasename,
		"relay_log_index":   o.RelayLogBasename + ".index",
		"binlog_format":     "ROW",
		"log_slave_updates": "ON",
		"gtid_strict_mode":  "ON",
		"read_only":         "ON",
		"skip_slave_start":  "ON",
		// What the primary acknowledges must survive its own crash.
		"sync_binlog":                    "1",
		"innodb_flush_log_at_trx_commit": "1",
		// A replica notices a silent primary within seconds (the
		// heartbeat, set by CHANGE MASTER, is shorter).
		"slave_net_timeout":            "5",
		"rpl_semi_sync_master_enabled": "OFF",
		"rpl_semi_sync_slave_enabled":  "ON",
		"init_rpl_role":                "SLAVE",
	}
	if o.Standalone {
		s["rpl_semi_sync_slave_enabled"] = "OFF"
	}
	if role == Primary {
		s["init_rpl_role"] = "MASTER"
	}
	if !o.Standalone {
		s["rpl_semi_sync_master_wait_point"] = string(o.WaitPoint)
		s["rpl_semi_sync_master_timeout"] = strconv.FormatInt(o.SemiSyncTimeout.Milliseconds(), 10)
	}
	return s
}
