package cluster

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/trio-stack/trio/internal/db/repl"
)

// Defaults of Config's timings.
const (
	DefaultHeartbeat   = 500 * time.Millisecond
	DefaultFailAfter   = 1500 * time.Millisecond
	DefaultMinInterval = time.Minute
	DefaultMaxLag      = 10 * time.Second
)

// Config is the db tier the controller watches and the state it changes:
// Primary, PromotedAt, KeptAside and LastFailover move with failovers and
// switchovers. The caller persists all of it (Config, OnChange) and builds
// the next Controller from it after a restart.
type Config struct {
	// Nodes are every node, in order of preference for promotion. Each
	// needs a Socket: the controller logs in over it as the OS user
	// (unix_socket authentication, db.Admin). Host and Port are what
	// replicas give CHANGE MASTER, and how a replica's master is matched
	// to a node.
	Nodes []repl.Node `json:"nodes"`
	// Primary names the node that should be the primary.
	Primary string `json:"primary"`
	// Repl is the replication account for CHANGE MASTER. Its password is
	// never written out with the config: it is read from ReplPasswordFile
	// when the controller is made.
	Repl             repl.Credentials `json:"-"`
	ReplUser         string           `json:"repl_user,omitempty"`
	ReplPasswordFile string           `json:"repl_password_file,omitempty"`
	// HAProxySocket is HAProxy's admin socket; "" when there is none,
	// and then no endpoint is switched.
	HAProxySocket string `json:"haproxy_socket,omitempty"`
	// WriteBackend and ReadBackend name the HAProxy backends; every node
	// is a server of both, by its Name.
	WriteBackend string `json:"write_backend,omitempty"`
	ReadBackend  string `json:"read_backend,omitempty"`
	// Heartbeat is how often the nodes are read. Default 500ms.
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
	// FailAfter is how long the primary must be unhealthy without a
	// break before a failover. Default 1.5s.
	FailAfter time.Duration `json:"fail_after,omitempty"`
	// MinInterval is the least time between two automatic failovers.
	// Default 1m.
	MinInterval time.Duration `json:"min_interval,omitempty"`
	// MaxLag is the replication lag past which a replica leaves the read
	// backend (drained) until it catches up. Default 10s.
	MaxLag time.Duration `json:"max_lag,omitempty"`
	// PromotedAt is the position the primary was promoted at: the fork
	// point a returning node is checked against (repl.Errant). Empty
	// means unknown, and then the primary's current position is used.
	PromotedAt repl.Position `json:"promoted_at,omitempty"`
	// KeptAside are the nodes found with errant transactions, by name.
	// They stay out of the backends and out of replication until they are
	// re-seeded.
	KeptAside map[string]Aside `json:"kept_aside,omitempty"`
	// LastFailover is the last failover, for anti-flapping.
	LastFailover *Event `json:"last_failover,omitempty"`
}

// Aside says why a node is kept aside.
type Aside struct {
	// Errant are the transactions (the last GTID of each affected domain)
	// the node holds and the primary never had.
	Errant repl.Position `json:"errant,omitempty"`
	Reason string        `json:"reason"`
	Since  time.Time     `json:"since"`
}

func (c Config) withDefaults() Config {
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.FailAfter <= 0 {
		c.FailAfter = DefaultFailAfter
	}
	if c.MinInterval <= 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.MaxLag <= 0 {
		c.MaxLag = DefaultMaxLag
	}
	return c
}

func (c Config) validate() error {
	if len(c.Nodes) == 0 {
		return fmt.Errorf("db cluster config: no nodes")
	}
	seen := map[string]bool{}
	for i, n := range c.Nodes {
		switch {
		case n.Name == "":
			return fmt.Errorf("db cluster config: node %d has no name", i)
		case seen[n.Name]:
			return fmt.Errorf("db cluster config: node %s appears twice", n.Name)
		case n.Socket == "":
			return fmt.Errorf("db cluster config: node %s has no admin socket", n.Name)
		}
		seen[n.Name] = true
	}
	if !seen[c.Primary] {
		return fmt.Errorf("db cluster config: primary %q: %w", c.Primary, ErrUnknownNode)
	}
	if c.HAProxySocket != "" && (c.WriteBackend == "" || c.ReadBackend == "") {
		return fmt.Errorf("db cluster config: an HAProxy socket needs the write and read backends' names")
	}
	return nil
}

// clone copies the parts a caller could change under the controller.
func (c Config) clone() Config {
	c.Nodes = slices.Clone(c.Nodes)
	c.PromotedAt = slices.Clone(c.PromotedAt)
	c.KeptAside = maps.Clone(c.KeptAside)
	if c.LastFailover != nil {
		e := *c.LastFailover
		c.LastFailover = &e
	}
	return c
}

// node finds a node by name.
func (c Config) node(name string) (repl.Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return repl.Node{}, false
}

// probeTimeout bounds one look at a node: short enough that a hung node
// is noticed well within FailAfter.
func (c Config) probeTimeout() time.Duration {
	return max(200*time.Millisecond, min(c.FailAfter/2, max(c.Heartbeat, time.Second)))
}
