package repl

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// NodeStatus is what a supervisor needs to know about one node.
type NodeStatus struct {
	ServerID uint32
	Version  string
	ReadOnly bool
	// BinlogPos is what the node's binlog holds (with log_slave_updates,
	// everything it applied), SlavePos what it applied as a replica,
	// CurrentPos MariaDB's blend of the two.
	BinlogPos  Position
	CurrentPos Position
	SlavePos   Position
	// Replica is nil when no replication is configured (a primary, or a
	// node after RESET SLAVE ALL).
	Replica  *ReplicaStatus
	SemiSync SemiSyncStatus
}

// ReplicaStatus is the replica side, from SHOW SLAVE STATUS.
type ReplicaStatus struct {
	MasterHost string
	MasterPort int
	UsingGTID  string // "Slave_Pos", "Current_Pos" or "No"
	IORunning  string // "Yes", "No" or "Connecting"
	SQLRunning bool
	// IOPos (Gtid_IO_Pos) is the last complete transaction received into
	// the relay log; the node has applied it once SlavePos covers it.
	IOPos         Position
	LastIOErrno   int
	LastIOError   string
	LastSQLErrno  int
	LastSQLError  string
	SecondsBehind int64  // -1 when MariaDB shows NULL (a thread not running)
	SQLState      string // Slave_SQL_Running_State
}

// SemiSyncStatus are the Rpl_semi_sync_* status variables.
type SemiSyncStatus struct {
	MasterOn      bool  // Rpl_semi_sync_master_status: commits wait for acks now
	MasterClients int   // Rpl_semi_sync_master_clients: replicas acking
	MasterYesTx   int64 // commits acknowledged by a replica
	MasterNoTx    int64 // commits that were not (timeout, no replica)
	SlaveOn       bool  // Rpl_semi_sync_slave_status: this replica acks
}

// Received is the position the node will be at once it has applied its
// relay log: what it applied merged with what it received. A replica with
// both threads stopped counts only what it applied: with GTIDs, MariaDB
// throws the relay log away when a thread starts again from that state.
func (s NodeStatus) Received() Position {
	p := Merge(s.CurrentPos, s.SlavePos)
	if s.Replica != nil && s.Replica.drainable() {
		p = Merge(p, s.Replica.IOPos)
	}
	return p
}

// drainable says whether the relay log can still be applied: one thread
// runs (an IO thread retrying a lost primary counts).
func (r *ReplicaStatus) drainable() bool { return r.SQLRunning || r.IORunning != "No" }

// Applied is everything the node holds: its binlog merged with what it
// applied as a replica.
func (s NodeStatus) Applied() Position { return Merge(s.BinlogPos, s.SlavePos) }

// Status reads a node's replication state.
func Status(ctx context.Context, d *sql.DB) (NodeStatus, error) {
	var st NodeStatus
	var ro int
	var binlog, current, slave string
	err := d.QueryRowContext(ctx, "SELECT @@server_id, @@version, @@read_only, @@gtid_binlog_pos, @@gtid_current_pos, @@gtid_slave_pos").
		Scan(&st.ServerID, &st.Version, &ro, &binlog, &current, &slave)
	if err != nil {
		return st, fmt.Errorf("read status: %w", err)
	}
	st.ReadOnly = ro != 0
	for _, p := range []struct {
		s   string
		dst *Position
	}{{binlog, &st.BinlogPos}, {current, &st.CurrentPos}, {slave, &st.SlavePos}} {
		if *p.dst, err = ParsePosition(p.s); err != nil {
			return st, fmt.Errorf("read status: %w", err)
		}
	}
	if st.Replica, err = replicaStatus(ctx, d); err != nil {
		return st, err
	}
	vars, err := showStatus(ctx, d, "Rpl_semi_sync%")
	if err != nil {
		return st, err
	}
	st.SemiSync = SemiSyncStatus{
		MasterOn:      vars["Rpl_semi_sync_master_status"] == "ON",
		MasterClients: atoi(vars["Rpl_semi_sync_master_clients"]),
		MasterYesTx:   int64(atoi(vars["Rpl_semi_sync_master_yes_tx"])),
		MasterNoTx:    int64(atoi(vars["Rpl_semi_sync_master_no_tx"])),
		SlaveOn:       vars["Rpl_semi_sync_slave_status"] == "ON",
	}
	return st, nil
}

func replicaStatus(ctx context.Context, d *sql.DB) (*ReplicaStatus, error) {
	row, err := queryMap(ctx, d, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("read replica status: %w", err)
	}
	if row == nil {
		return nil, nil
	}
	r := &ReplicaStatus{
		MasterHost:    row["Master_Host"],
		MasterPort:    atoi(row["Master_Port"]),
		UsingGTID:     row["Using_Gtid"],
		IORunning:     row["Slave_IO_Running"],
		SQLRunning:    row["Slave_SQL_Running"] == "Yes",
		LastIOErrno:   atoi(row["Last_IO_Errno"]),
		LastIOError:   row["Last_IO_Error"],
		LastSQLErrno:  atoi(row["Last_SQL_Errno"]),
		LastSQLError:  row["Last_SQL_Error"],
		SecondsBehind: -1,
		SQLState:      row["Slave_SQL_Running_State"],
	}
	if v, ok := row["Seconds_Behind_Master"]; ok && v != "" {
		r.SecondsBehind, _ = strconv.ParseInt(v, 10, 64)
	}
	if r.IOPos, err = ParsePosition(row["Gtid_IO_Pos"]); err != nil {
		return nil, fmt.Errorf("read replica status: %w", err)
	}
	return r, nil
}

// queryMap returns the first row of a query as column → text (NULL as
// ""), or nil when there is no row. SHOW SLAVE STATUS changes columns
// between versions, so they are read by name.
func queryMap(ctx context.Context, d *sql.DB, q string) (map[string]string, error) {
	rows, err := d.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(cols))
	for i, c := range cols {
		m[c] = vals[i].String
	}
	return m, rows.Err()
}

func showStatus(ctx context.Context, d *sql.DB, like string) (map[string]string, error) {
	rows, err := d.QueryContext(ctx, "SHOW GLOBAL STATUS LIKE "+quote(like))
	if err != nil {
		return nil, fmt.Errorf("read status variables: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
