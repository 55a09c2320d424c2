package cluster

import (
	"fmt"
	"strconv"
	"time"

	"github.com/trio-stack/trio/internal/db/repl"
)

// Role is what a node is in the topology.
type Role int

const (
	RolePrimary Role = 1 // takes the writes
	RoleReplica Role = 2 // replicates from the primary, or is about to
	RoleAside   Role = 3 // holds errant transactions: out of everything until re-seeded
	RoleDown    Role = 4 // does not answer
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleReplica:
		return "replica"
	case RoleAside:
		return "kept-aside"
	case RoleDown:
		return "down"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// MarshalText writes the role as String does, for -o json.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role back, for clients of the agent's API.
func (r *Role) UnmarshalText(b []byte) error {
	for _, v := range []Role{RolePrimary, RoleReplica, RoleAside, RoleDown} {
		if v.String() == string(b) {
			*r = v
			return nil
		}
	}
	return fmt.Errorf("unknown role %q", b)
}

// Topology is what Status reports: every node and the controller's state.
type Topology struct {
	Primary    string        `json:"primary"`
	PromotedAt repl.Position `json:"promoted_at"`
	Paused     bool          `json:"paused"`
	// UnhealthySince is when the primary stopped being healthy, while it
	// is not.
	UnhealthySince *time.Time `json:"primary_unhealthy_since,omitempty"`
	// Held says why a failover that is due does not happen.
	Held         string `json:"held,omitempty"`
	LastFailover *Event `json:"last_failover,omitempty"`
	// LastSwitchover is the last planned change, since this controller
	// started.
	LastSwitchover *Event `json:"last_switchover,omitempty"`
	// HAProxyError says why the backends' states are unknown.
	HAProxyError string      `json:"haproxy_error,omitempty"`
	Nodes        []NodeState `json:"nodes"`
}

// NodeState is one node as Status saw it.
type NodeState struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Role      Role   `json:"role"`
	Reachable bool   `json:"reachable"`
	// Error says why the node does not answer.
	Error      string        `json:"error,omitempty"`
	ServerID   uint32        `json:"server_id,omitempty"`
	ReadOnly   bool          `json:"read_only"`
	BinlogPos  repl.Position `json:"gtid_binlog_pos"`
	CurrentPos repl.Position `json:"gtid_current_pos"`
	SlavePos   repl.Position `json:"gtid_slave_pos"`
	// Replication is nil when the node replicates from nobody.
	Replication *Replication `json:"replication,omitempty"`
	SemiSync    SemiSync     `json:"semi_sync"`
	// Write and Read are HAProxy's status of the node's server in each
	// backend: UP, DOWN, MAINT or DRAIN; "" without HAProxy.
	Write string `json:"write,omitempty"`
	Read  string `json:"read,omitempty"`
	// Errant are the transactions that keep the node aside.
	Errant repl.Position `json:"errant,omitempty"`
	// Note says what is wrong and what happens next.
	Note string `json:"note,omitempty"`
}

// Replication is a node's replica side.
type Replication struct {
	// Master is the node it replicates from, by name, or host:port when
	// that is no node of the tier.
	Master     string        `json:"master"`
	IOThread   string        `json:"io_thread"` // Yes, No or Connecting
	SQLThread  bool          `json:"sql_thread"`
	IOPos      repl.Position `json:"gtid_io_pos"`
	LagSeconds *int64        `json:"lag_seconds"` // null while MariaDB does not know
	LastError  string        `json:"last_error,omitempty"`
}

// SemiSync is a node's semi-synchronous replication state.
type SemiSync struct {
	MasterOn      bool `json:"master_on"`      // commits wait for a replica's ack
	MasterClients int  `json:"master_clients"` // replicas acking
	SlaveOn       bool `json:"slave_on"`       // this replica acks
}

// Event is a change of primary.
type Event struct {
	Kind       string        `json:"kind"` // "failover" or "switchover"
	At         time.Time     `json:"at"`
	From       string        `json:"from"`
	To         string        `json:"to"`
	Reason     string        `json:"reason"`
	Took       Duration      `json:"took"`
	PromotedAt repl.Position `json:"promoted_at"`
}

func (e Event) String() string {
	return fmt.Sprintf("%s from %s to %s at %s in %s: %s", e.Kind, e.From, e.To, e.At.Format(time.RFC3339), e.Took, e.Reason)
}

// Duration is a time.Duration that reads and writes as "1.234s" in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).Round(time.Millisecond).String() }

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "1.234s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
