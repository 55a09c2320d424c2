package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
)

// Status looks at every node now and reports the topology: each node's
// role, replication and semi-sync state and HAProxy states, the last
// failover, and whether a failover is paused or held back.
func (c *Controller) Status(ctx context.Context) Topology {
	cfg := c.Config()
	obs := c.observeAll(ctx, cfg, 2*time.Second)
	c.mu.Lock()
	t := Topology{
		Primary: cfg.Primary, PromotedAt: cfg.PromotedAt, Paused: c.paused, Held: c.held,
		LastFailover: cfg.LastFailover, LastSwitchover: c.switched, Nodes: []NodeState{},
	}
	if !c.since.IsZero() {
		since := c.since
		t.UnhealthySince = &since
	}
	c.mu.Unlock()
	var servers []haproxy.Server
	if c.lb != nil {
		var err error
		if servers, err = c.lb.ServerStates(ctx); err != nil {
			t.HAProxyError = err.Error()
		}
	}
	for _, o := range obs {
		t.Nodes = append(t.Nodes, nodeState(cfg, obs, o, servers, t.Paused))
	}
	return t
}

// nodeState describes one node.
func nodeState(cfg Config, obs []observation, o observation, servers []haproxy.Server, paused bool) NodeState {
	name := o.node.Name
	p, _ := find(obs, cfg.Primary)
	n := NodeState{Name: name, Addr: o.node.Addr(), Reachable: o.up()}
	if s, ok := server(servers, cfg.WriteBackend, name); ok {
		n.Write = s.Status.String()
	}
	if s, ok := server(servers, cfg.ReadBackend, name); ok {
		n.Read = s.Status.String()
	}
	aside, isAside := cfg.KeptAside[name]
	if !o.up() {
		n.Error = o.err.Error()
	}
	switch {
	case isAside:
		n.Role = RoleAside
	case !o.up():
		n.Role = RoleDown
	case name == cfg.Primary:
		n.Role = RolePrimary
	default:
		n.Role = RoleReplica
	}
	if o.up() {
		st := o.st
		n.ServerID, n.ReadOnly = st.ServerID, st.ReadOnly
		n.BinlogPos, n.CurrentPos, n.SlavePos = st.BinlogPos, st.CurrentPos, st.SlavePos
		n.SemiSync = SemiSync{MasterOn: st.SemiSync.MasterOn, MasterClients: st.SemiSync.MasterClients, SlaveOn: st.SemiSync.SlaveOn}
		if r := st.Replica; r != nil {
			rep := &Replication{IOThread: r.IORunning, SQLThread: r.SQLRunning, IOPos: r.IOPos}
			rep.Master = net.JoinHostPort(r.MasterHost, strconv.Itoa(r.MasterPort))
			for _, other := range cfg.Nodes {
				if other.Host == r.MasterHost && other.Port == r.MasterPort {
					rep.Master = other.Name
				}
			}
			if r.SecondsBehind >= 0 {
				lag := r.SecondsBehind
				rep.LagSeconds = &lag
			}
			switch {
			case r.LastSQLErrno != 0:
				rep.LastError = fmt.Sprintf("sql thread: error %d: %s", r.LastSQLErrno, r.LastSQLError)
			case r.LastIOErrno != 0:
				rep.LastError = fmt.Sprintf("io thread: error %d: %s", r.LastIOErrno, r.LastIOError)
			}
			n.Replication = rep
		}
	}
	switch {
	case isAside:
		n.Errant = aside.Errant
		n.Note = fmt.Sprintf("kept aside since %s: %s; re-seed it from %s (its data is left as it is)", aside.Since.Format(time.RFC3339), aside.Reason, cfg.Primary)
	case !o.up():
	case name == cfg.Primary:
		if o.st.ReadOnly {
			n.Note = "read-only: not taking writes"
		}
	case !o.st.ReadOnly:
		n.Note = "writable, but not the primary: fenced at the next heartbeat"
	default:
		if why, ok := idle(o, p.node); ok && p.writable() {
			n.Note = why + "; rejoins " + cfg.Primary + " at the next heartbeat"
			if paused {
				n.Note = why + "; rejoins " + cfg.Primary + " once failover is resumed"
			}
		} else if state, why := readState(cfg, o, p); state != haproxy.Ready {
			n.Note = "out of the read backend: " + why
		}
	}
	return n
}
