package repl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Promote makes a replica the primary. It stops the IO thread (nothing
// more arrives), waits up to timeout until the SQL thread has applied
// everything the IO thread received (MASTER_GTID_WAIT on Gtid_IO_Pos),
// forgets the old primary (STOP SLAVE, RESET SLAVE ALL), turns on the
// semi-sync master side (unless the node was rendered Standalone, with
// semi-sync off) and only then read_only off. It returns the position it
// was promoted at: the fork point to give Errant.
//
// timeout ≤ 0 means 30s.
//
// A node with no replication configured is only opened for writes: that
// is how the supervisor starts the very first primary, which comes up
// read_only like every node, and it makes Promote safe to call again
// after it was cut short.
func Promote(ctx context.Context, replica *sql.DB, timeout time.Duration) (Position, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	r, err := replicaStatus(ctx, replica)
	if err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	if r != nil {
		if err := drainRelayLog(ctx, replica, timeout); err != nil {
			return nil, fmt.Errorf("promote: %w", err)
		}
		for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL"} {
			if _, err := replica.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("promote: %s: %w", q, err)
			}
		}
	}
	st, err := Status(ctx, replica)
	if err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	at := st.Applied()
	// A node rendered Standalone has semi-sync off on both sides, and a
	// primary without replicas must not wait for acks.
	var semiSync int
	if err := replica.QueryRowContext(ctx, "SELECT @@rpl_semi_sync_slave_enabled").Scan(&semiSync); err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	for _, q := range []string{"SET GLOBAL rpl_semi_sync_master_enabled = " + onOff(semiSync != 0), "SET GLOBAL read_only = OFF"} {
		if _, err := replica.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("promote: %s: %w", q, err)
		}
	}
	return at, nil
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// drainRelayLog stops receiving and waits until everything received is
// applied. Order matters: with GTIDs, starting a replication thread while
// both are stopped purges the relay log, so a stopped applier is started
// while the IO thread still runs, and only then is the IO thread stopped.
func drainRelayLog(ctx context.Context, d *sql.DB, timeout time.Duration) error {
	r, err := replicaStatus(ctx, d)
	if err != nil {
		return err
	}
	if r == nil {
		return ErrNotReplica
	}
	if !r.SQLRunning {
		switch {
		case r.LastSQLErrno != 0:
			return fmt.Errorf("%w: cannot apply the relay log: sql thread error %d: %s", ErrReplication, r.LastSQLErrno, r.LastSQLError)
		case !r.drainable():
			return nil // nothing left to apply: the relay log is lost anyway
		}
		if _, err := d.ExecContext(ctx, "START SLAVE SQL_THREAD"); err != nil {
			return fmt.Errorf("start sql thread: %w", err)
		}
	}
	if _, err := d.ExecContext(ctx, "STOP SLAVE IO_THREAD"); err != nil && !isMySQLError(err, 1255) {
		return fmt.Errorf("stop io thread: %w", err)
	}
	if r, err = replicaStatus(ctx, d); err != nil {
		return err
	}
	return waitApplied(ctx, d, r.IOPos, timeout, false)
}

// Fence stops a node from taking writes: read_only on, then every client
// connection killed except replication threads, replicas reading the
// binlog and the admin's own sessions. Use it on a reachable old primary
// (a planned switchover, or one that came back) before another node is
// promoted. It returns how many connections it killed.
//
// Clients are killed before read_only too, so that a long statement does
// not hold read_only up; one that commits between the two kills is in the
// binlog and reaches the replicas like any other.
func Fence(ctx context.Context, node *sql.DB) (int, error) {
	conn, err := node.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("fence: %w", err)
	}
	defer conn.Close()
	killed, err := killClients(ctx, conn)
	if err != nil {
		return killed, fmt.Errorf("fence: %w", err)
	}
	for _, q := range []string{"SET SESSION lock_wait_timeout = 10", "SET GLOBAL read_only = ON", "SET SESSION lock_wait_timeout = DEFAULT"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return killed, fmt.Errorf("fence: %s: %w", q, err)
		}
	}
	n, err := killClients(ctx, conn)
	killed += n
	if err != nil {
		return killed, fmt.Errorf("fence: %w", err)
	}
	return killed, nil
}

// killClients kills the connections of every account but the one conn
// uses, except system threads and binlog dumps to replicas.
func killClients(ctx context.Context, conn *sql.Conn) (int, error) {
	rows, err := conn.QueryContext(ctx, `SELECT ID FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID()
		AND USER NOT IN ('system user', 'event_scheduler', SUBSTRING_INDEX(CURRENT_USER(), '@', 1))
		AND COMMAND NOT IN ('Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')`)
	if err != nil {
		return 0, fmt.Errorf("list connections: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
		switch {
		case err == nil:
			n++
		case isMySQLError(err, 1094): // gone already
		default:
			return n, fmt.Errorf("kill connection %d: %w", id, err)
		}
	}
	return n, nil
}

// SwitchoverOptions describes a planned change of primary.
type SwitchoverOptions struct {
	Old    Member   // the primary now; must be reachable
	New    Member   // the replica to promote; replicates from Old
	Others []Member // the other replicas; they follow New
	Repl   Credentials
	// Timeout bounds each wait for New to catch up, and so how long
	// writes stay blocked. Default 30s.
	Timeout  time.Duration
	Replica  ReplicaOptions
	Progress func(string)
}

// Switchover moves the primary role from a healthy Old to New without
// losing a write and with writes blocked only while New applies the last
// few transactions: it waits for New to be nearly caught up while Old
// still takes writes, fences Old, waits for New to reach Old's final
// gtid_binlog_pos, promotes New, and repoints Old and the others to it.
// If New does not catch up in time, Old is opened for writes again and
// nothing changed. It returns the position New was promoted at.
func Switchover(ctx context.Context, o SwitchoverOptions) (Position, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	old, err := Status(ctx, o.Old.DB)
	if err != nil {
		return nil, fmt.Errorf("switchover: %s: %w", o.Old.Node, err)
	}
	progress(fmt.Sprintf("waiting for %s to approach %s's %s", o.New.Node, o.Old.Node, old.BinlogPos))
	if err := WaitFor(ctx, o.New.DB, old.BinlogPos, o.Timeout); err != nil {
		return nil, fmt.Errorf("switchover: %s: %w", o.New.Node, err)
	}

	progress("fencing " + o.Old.Node.String())
	if _, err := Fence(ctx, o.Old.DB); err != nil {
		return nil, fmt.Errorf("switchover: %s: %w", o.Old.Node, err)
	}
	final, err := Status(ctx, o.Old.DB)
	if err == nil {
		progress(fmt.Sprintf("waiting for %s to reach %s", o.New.Node, final.BinlogPos))
		err = WaitFor(ctx, o.New.DB, final.BinlogPos, o.Timeout)
	}
	if err != nil {
		if !old.ReadOnly {
			if _, uerr := o.Old.DB.ExecContext(ctx, "SET GLOBAL read_only = OFF"); uerr != nil {
				err = errors.Join(err, fmt.Errorf("reopen %s for writes: %w", o.Old.Node, uerr))
			}
		}
		return nil, fmt.Errorf("switchover: %s stays primary: %w", o.Old.Node, err)
	}

	progress("promoting " + o.New.Node.String())
	at, err := Promote(ctx, o.New.DB, o.Timeout)
	if err != nil {
		return nil, fmt.Errorf("switchover: %s: %w", o.New.Node, err)
	}
	var errs []error
	for _, m := range append([]Member{o.Old}, o.Others...) {
		progress(fmt.Sprintf("repointing %s to %s", m.Node, o.New.Node))
		if err := Repoint(ctx, m.DB, o.New.Node, o.Repl, o.Replica); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Node, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return at, fmt.Errorf("switchover: %s is primary, but: %w", o.New.Node, err)
	}
	return at, nil
}
