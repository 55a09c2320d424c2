package repl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

var nativeHash = regexp.MustCompile(`^\*[0-9A-F]{40}$`)

// EnsureReplicationUser creates (or updates) the account replicas log in
// with, by its mysql_native_password hash. Run it on the primary: the
// statements go to the binlog, so every replica gets the account too and
// can serve as a primary after a failover. REPLICATION SLAVE lets it read
// the binlog; BINLOG MONITOR (REPLICATION CLIENT before 10.5) and SLAVE
// MONITOR let it be used to watch positions as well.
func EnsureReplicationUser(ctx context.Context, primary *sql.DB, user, passwordHash string) error {
	if !nativeHash.MatchString(passwordHash) {
		return errors.New("ensure replication user: need a mysql_native_password hash")
	}
	acct := quote(user) + "@'%'"
	for _, s := range []string{
		"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY PASSWORD " + quote(passwordHash),
		"ALTER USER " + acct + " IDENTIFIED BY PASSWORD " + quote(passwordHash),
		"GRANT REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO " + acct,
	} {
		if _, err := primary.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("ensure replication user %s: %w", user, err)
		}
	}
	return nil
}

// SetPosition records pos as the node's gtid_slave_pos: what its data
// holds. A node made from a copy (Seed, Restore) has no binlog, and
// MariaDB numbers new transactions after its binlog and this position;
// StartReplica does it for a replica, a restored primary needs it before
// Promote.
func SetPosition(ctx context.Context, node *sql.DB, pos Position) error {
	if err := stopSlave(ctx, node); err != nil {
		return err
	}
	if _, err := node.ExecContext(ctx, "SET GLOBAL gtid_slave_pos = "+quote(pos.String())); err != nil {
		return fmt.Errorf("set gtid_slave_pos to %s: %w", pos, err)
	}
	return nil
}

// ReplicaOptions tunes StartReplica and Repoint; the zero value is fine.
type ReplicaOptions struct {
	// ConnectRetry is MASTER_CONNECT_RETRY: how soon a replica tries
	// again after losing its primary. Default 1s.
	ConnectRetry time.Duration
	// Heartbeat is MASTER_HEARTBEAT_PERIOD. Default 1s.
	Heartbeat time.Duration
	// ConnectTimeout is how long to wait for both replication threads to
	// run, so that a refused login or a diverged history shows as an
	// error here. Default 10s; negative returns right after START SLAVE.
	ConnectTimeout time.Duration
}

// StartReplica makes a node replicate from primary with GTIDs
// (MASTER_USE_GTID=slave_pos). from is the position the node's data is
// at, as Seed or a backup's manifest gives it; it becomes gtid_slave_pos.
// An empty from leaves gtid_slave_pos as it is (a node that replicated
// before, or a fresh one that starts from the primary's first binlog).
// The node stays read_only.
func StartReplica(ctx context.Context, replica *sql.DB, primary Node, repl Credentials, from Position, o ReplicaOptions) error {
	if err := replicate(ctx, replica, primary, repl, from, o); err != nil {
		return fmt.Errorf("start replica of %s: %w", primary, err)
	}
	return nil
}

// Repoint makes a node replicate from a new primary: a replica of the old
// primary, or the old primary itself. A node with no replication
// configured (a former primary) first records its own binlog position as
// gtid_slave_pos, so that it asks the new primary for exactly what it
// lacks. Check Errant first: a node with errant transactions must not
// rejoin. With gtid_strict_mode the new primary refuses most such nodes
// anyway, which Repoint reports as ErrReplication.
func Repoint(ctx context.Context, replica *sql.DB, newPrimary Node, repl Credentials, o ReplicaOptions) error {
	st, err := Status(ctx, replica)
	if err != nil {
		return fmt.Errorf("repoint to %s: %w", newPrimary, err)
	}
	var from Position
	if st.Replica == nil {
		from = st.Applied()
	}
	if err := replicate(ctx, replica, newPrimary, repl, from, o); err != nil {
		return fmt.Errorf("repoint to %s: %w", newPrimary, err)
	}
	return nil
}

func replicate(ctx context.Context, d *sql.DB, primary Node, repl Credentials, from Position, o ReplicaOptions) error {
	if o.ConnectRetry <= 0 {
		o.ConnectRetry = time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	// Fence first: from here on only replication writes.
	for _, q := range []string{"SET GLOBAL read_only = ON", "SET GLOBAL rpl_semi_sync_master_enabled = OFF"} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := stopSlave(ctx, d); err != nil {
		return err
	}
	var stmts []string
	if len(from) > 0 {
		stmts = append(stmts, "SET GLOBAL gtid_slave_pos = "+quote(from.String()))
	}
	stmts = append(stmts,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %d, MASTER_USER = %s, MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = %d, MASTER_HEARTBEAT_PERIOD = %s",
			quote(primary.Host), primary.Port, quote(repl.User), quote(repl.Password),
			max(1, int(o.ConnectRetry.Round(time.Second)/time.Second)),
			strconv.FormatFloat(o.Heartbeat.Seconds(), 'f', 3, 64)),
		"START SLAVE",
	)
	for _, q := range stmts {
		if _, err := d.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", redactPassword(q), err)
		}
	}
	if o.ConnectTimeout < 0 {
		return nil
	}
	return waitRunning(ctx, d, o.ConnectTimeout)
}

// stopSlave stops both replication threads; a node that replicates from
// nobody is already stopped.
func stopSlave(ctx context.Context, d *sql.DB) error {
	if _, err := d.ExecContext(ctx, "STOP SLAVE"); err != nil && !isMySQLError(err, 1200, 1255) {
		return fmt.Errorf("stop slave: %w", err)
	}
	return nil
}

func isMySQLError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && slices.Contains(numbers, me.Number)
}

var masterPassword = regexp.MustCompile(`MASTER_PASSWORD = '(?:[^'\\]|\\.)*'`)

func redactPassword(s string) string {
	return masterPassword.ReplaceAllString(s, "MASTER_PASSWORD = '<redacted>'")
}

// waitRunning waits until both replication threads run, and fails at once
// on an error that stopped one of them.
func waitRunning(ctx context.Context, d *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r, err := replicaStatus(ctx, d)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrNotReplica
		}
		if err := r.err(); err != nil {
			return err
		}
		if r.IORunning == "Yes" && r.SQLRunning {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replication threads not running after %s (io %s, last error %d %s)", timeout, r.IORunning, r.LastIOErrno, r.LastIOError)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// err returns the error that stopped a replication thread, if one did.
// An IO thread that is retrying a connection is not stopped.
func (r *ReplicaStatus) err() error {
	if r.IORunning == "No" && r.LastIOErrno != 0 {
		return fmt.Errorf("%w: io thread: error %d: %s", ErrReplication, r.LastIOErrno, r.LastIOError)
	}
	if !r.SQLRunning && r.LastSQLErrno != 0 {
		return fmt.Errorf("%w: sql thread: error %d: %s", ErrReplication, r.LastSQLErrno, r.LastSQLError)
	}
	return nil
}

// WaitFor waits until a replica has applied pos (MASTER_GTID_WAIT), at
// most timeout. It fails early if replication stops with an error.
func WaitFor(ctx context.Context, replica *sql.DB, pos Position, timeout time.Duration) error {
	return waitApplied(ctx, replica, pos, timeout, true)
}

// waitApplied is WaitFor; with checkIO false, only an applier error ends
// the wait early (the IO thread was stopped on purpose).
func waitApplied(ctx context.Context, replica *sql.DB, pos Position, timeout time.Duration, checkIO bool) error {
	if len(pos) == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	// Wait in slices, so a replication error ends the wait early.
	for {
		left := time.Until(deadline)
		if left <= 0 {
			st, _ := Status(ctx, replica)
			return fmt.Errorf("%w: at %s after %s, want %s", ErrNotCaughtUp, st.SlavePos, timeout, pos)
		}
		slice := min(left, time.Second)
		var res sql.NullInt64
		if err := replica.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos.String(), slice.Seconds()).Scan(&res); err != nil {
			return fmt.Errorf("wait for %s: %w", pos, err)
		}
		if res.Valid && res.Int64 == 0 {
			return nil
		}
		r, err := replicaStatus(ctx, replica)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("wait for %s: %w", pos, ErrNotReplica)
		}
		if !checkIO {
			r.IORunning, r.LastIOErrno = "", 0
		}
		if err := r.err(); err != nil {
			return fmt.Errorf("wait for %s: %w", pos, err)
		}
	}
}
