package cluster

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/haproxy"
)

// This file decides; controller.go and failover.go do. Every function
// here is pure: observations in, decisions out.

// observation is what one look at a node found.
type observation struct {
	node repl.Node
	err  error // why the node did not answer; nil when it did
	st   repl.NodeStatus
	// heartbeats is Slave_received_heartbeats: how many heartbeats the
	// replica has had from its primary.
	heartbeats int64
}

func (o observation) up() bool       { return o.err == nil }
func (o observation) writable() bool { return o.err == nil && !o.st.ReadOnly }

// replicatesFrom says whether the node is configured as a replica of n,
// whatever its threads do.
func (o observation) replicatesFrom(n repl.Node) bool {
	r := o.st.Replica
	return o.up() && r != nil && r.MasterHost == n.Host && r.MasterPort == n.Port
}

// runningFrom says whether the node replicates from n with both threads
// running.
func (o observation) runningFrom(n repl.Node) bool {
	return o.replicatesFrom(n) && o.st.Replica.IORunning == "Yes" && o.st.Replica.SQLRunning
}

func find(obs []observation, name string) (observation, bool) {
	for _, o := range obs {
		if o.node.Name == name {
			return o, true
		}
	}
	return observation{}, false
}

// witnessWindow is how recently a replica must have heard from its
// primary (a heartbeat, or a transaction received) to vouch for it. The
// replication heartbeat (MASTER_HEARTBEAT_PERIOD) is 1s, so a replica
// connected to a live primary hears from it every second at least.
const witnessWindow = 3 * time.Second

// hearing is when a replica last showed that its primary talks to it.
type hearing struct {
	seen  bool
	beats int64
	io    string // Gtid_IO_Pos
	at    time.Time
}

// heard returns h updated with a new observation taken at now.
func (h hearing) heard(o observation, now time.Time) hearing {
	if !o.up() || o.st.Replica == nil {
		return hearing{}
	}
	io := o.st.Replica.IOPos.String()
	if h.seen && (o.heartbeats != h.beats || io != h.io) {
		h.at = now
	}
	h.seen, h.beats, h.io = true, o.heartbeats, io
	return h
}

// witnesses are the replicas that still hear the primary: IO thread
// connected to it, and heartbeats or transactions arriving lately.
func witnesses(obs []observation, primary repl.Node, heard map[string]hearing, now time.Time) []string {
	var out []string
	for _, o := range obs {
		if o.node.Name == primary.Name || !o.replicatesFrom(primary) || o.st.Replica.IORunning != "Yes" {
			continue
		}
		if h := heard[o.node.Name]; !h.at.IsZero() && now.Sub(h.at) <= witnessWindow {
			out = append(out, o.node.Name)
		}
	}
	return out
}

// failure is what decide weighs about an unhealthy primary.
type failure struct {
	primary   observation
	since     time.Duration // unhealthy without a break for this long
	witnesses []string
	paused    bool
	last      *Event // the last failover
	now       time.Time
	failAfter time.Duration
	minGap    time.Duration // Config.MinInterval
}

// verdict is what to do about it: fail over (act, with reason), hold back
// (hold says why, held what kind of hold it is), or wait some more.
type verdict struct {
	act    bool
	reason string
	held   string // "paused", "witness" or "anti-flapping"
	hold   string
}

// decide applies the failover rules of the package doc.
func decide(f failure) verdict {
	if f.since < f.failAfter {
		return verdict{}
	}
	name := f.primary.node.Name
	var reason string
	unreachable := !f.primary.up()
	if unreachable {
		reason = fmt.Sprintf("%s unreachable for %s: %v", name, Duration(f.since), f.primary.err)
	} else {
		reason = fmt.Sprintf("%s read-only for %s (it restarted, or was fenced)", name, Duration(f.since))
	}
	switch {
	case f.paused:
		return verdict{held: "paused", hold: "automatic failover paused; " + reason}
	case unreachable && len(f.witnesses) > 0:
		return verdict{held: "witness", hold: fmt.Sprintf("%s, but %s still replicate(s) from it: only the agent's path to it is broken; no failover", reason, strings.Join(f.witnesses, ", "))}
	case f.last != nil && f.now.Sub(f.last.At) < f.minGap:
		return verdict{held: "anti-flapping", hold: fmt.Sprintf("failover held back by anti-flapping: %s; the last failover (%s to %s) was %s ago, less than %s",
			reason, f.last.From, f.last.To, Duration(f.now.Sub(f.last.At)), f.minGap)}
	}
	return verdict{act: true, reason: reason}
}

// choice is who becomes the primary in a failover.
type choice struct {
	to string
	// inPlace: the old primary is promoted again (it answers, and holds
	// what no replica has, or no replica can take over).
	inPlace bool
	// adopt: to is writable already, replicating from nobody: the node a
	// failover or switchover promoted before it was cut short.
	adopt bool
	// best is the most advanced replica, even when inPlace.
	best string
	why  string
}

// choose picks the new primary among obs (in Config.Nodes order). forced
// (an operator's failover) never keeps the old primary when a replica can
// take over.
func choose(cfg Config, obs []observation, forced bool) (choice, error) {
	old, _ := find(obs, cfg.Primary)
	var cands []observation
	var sts []repl.NodeStatus
	for _, o := range obs {
		if _, aside := cfg.KeptAside[o.node.Name]; aside || o.node.Name == cfg.Primary || !o.up() {
			continue
		}
		if o.st.Replica == nil && !o.st.ReadOnly {
			return choice{to: o.node.Name, adopt: true, why: "writable already and replicating from nobody: a promotion cut short"}, nil
		}
		if o.replicatesFrom(old.node) {
			cands = append(cands, o)
			sts = append(sts, o.st)
		}
	}
	i := repl.MostAdvanced(sts)
	if i < 0 {
		if old.up() && !forced {
			return choice{to: old.node.Name, inPlace: true, why: "no replica can take over, and it answers"}, nil
		}
		return choice{}, ErrNoCandidate
	}
	b := cands[i]
	ch := choice{to: b.node.Name, best: b.node.Name, why: fmt.Sprintf("the most advanced replica, at %s", b.st.Received())}
	if old.up() && !forced && repl.Compare(old.st.Applied(), b.st.Received()) == repl.Ahead {
		ch.to, ch.inPlace = old.node.Name, true
		ch.why = fmt.Sprintf("it holds transactions no replica has (%s, %s at %s): promoting a replica would lose them", old.st.Applied(), b.node.Name, b.st.Received())
	}
	return ch, nil
}

// move is what the controller does to a node that is not the primary.
type move int

const (
	moveFence   move = 1 // writable though not the primary
	moveRejoin  move = 2 // Repoint to the primary
	moveAside   move = 3 // errant: keep it out
	moveRelease move = 4 // kept aside, but re-seeded since
)

func (m move) String() string {
	switch m {
	case moveFence:
		return "fence"
	case moveRejoin:
		return "rejoin"
	case moveAside:
		return "keep aside"
	case moveRelease:
		return "release"
	}
	return fmt.Sprintf("move(%d)", int(m))
}

// step is one move with its cause.
type step struct {
	node   string
	move   move
	errant repl.Position
	why    string
}

func (s step) String() string { return fmt.Sprintf("%s: %s, %s", s.node, s.move, s.why) }

// plan decides what to do with the other nodes while the primary is
// healthy.
func plan(cfg Config, obs []observation, paused bool) []step {
	p, _ := find(obs, cfg.Primary)
	var out []step
	for _, o := range obs {
		name := o.node.Name
		if name == cfg.Primary || !o.up() {
			continue
		}
		if !o.st.ReadOnly {
			out = append(out, step{node: name, move: moveFence, why: "writable, but " + cfg.Primary + " is the primary"})
			continue
		}
		if _, aside := cfg.KeptAside[name]; aside {
			if o.runningFrom(p.node) && len(repl.Errant(o.st, p.st.Applied())) == 0 {
				out = append(out, step{node: name, move: moveRelease, why: "replicates from " + cfg.Primary + " without errant transactions: re-seeded"})
			}
			continue
		}
		if paused {
			continue
		}
		why, ok := idle(o, p.node)
		if !ok {
			continue
		}
		if e := errant(cfg, o, p); len(e) > 0 {
			out = append(out, step{node: name, move: moveAside, errant: e,
				why: fmt.Sprintf("%s; it holds transactions %s never had (%s)", why, cfg.Primary, e)})
			continue
		}
		out = append(out, step{node: name, move: moveRejoin, why: why})
	}
	return out
}

// idle says whether a read-only node needs to be (re)started as a replica
// of primary, and why: it replicates from nobody or from another node, or
// both its threads are stopped without an error, as a restart leaves them.
// One stopped thread, or an error, is an operator's business.
func idle(o observation, primary repl.Node) (string, bool) {
	r := o.st.Replica
	switch {
	case r == nil:
		return "replicates from nobody", true
	case !o.replicatesFrom(primary):
		return fmt.Sprintf("replicates from %s:%d, not from %s", r.MasterHost, r.MasterPort, primary.Name), true
	case r.IORunning == "No" && !r.SQLRunning && r.LastIOErrno == 0 && r.LastSQLErrno == 0:
		return "replication stopped (restarted)", true
	}
	return "", false
}

// errant returns the transactions o holds that the primary p never had.
// A node from an earlier topology is checked against the fork point,
// PromotedAt; a replica of p against p's position, which its history is
// part of (repl.Errant still finds its local writes).
func errant(cfg Config, o, p observation) repl.Position {
	if len(cfg.PromotedAt) == 0 || o.replicatesFrom(p.node) {
		return repl.Errant(o.st, p.st.Applied())
	}
	return repl.Errant(o.st, cfg.PromotedAt)
}

// route is the state one server should have in one backend.
type route struct {
	backend, server string
	state           haproxy.AdminState
	why             string
}

// routes are the states of every node's servers in both backends. Nodes
// missing from obs count as unreachable.
func routes(cfg Config, obs []observation) []route {
	p, _ := find(obs, cfg.Primary)
	var out []route
	serving := 0
	for _, n := range cfg.Nodes {
		name := n.Name
		o, ok := find(obs, name)
		if !ok {
			o = observation{node: n, err: errors.New("not observed")}
		}
		if name == cfg.Primary {
			out = append(out, route{cfg.WriteBackend, name, haproxy.Ready, "the primary"})
			continue
		}
		out = append(out, route{cfg.WriteBackend, name, haproxy.Maint, "not the primary"})
		state, why := readState(cfg, o, p)
		if state == haproxy.Ready {
			serving++
		}
		out = append(out, route{cfg.ReadBackend, name, state, why})
	}
	if serving > 0 {
		out = append(out, route{cfg.ReadBackend, cfg.Primary, haproxy.Maint, "the primary; replicas serve reads"})
	} else {
		out = append(out, route{cfg.ReadBackend, cfg.Primary, haproxy.Ready, "no replica can serve reads: the primary stands in"})
	}
	return out
}

// readState is a replica's state in the read backend.
func readState(cfg Config, o, primary observation) (haproxy.AdminState, string) {
	if _, aside := cfg.KeptAside[o.node.Name]; aside {
		return haproxy.Maint, "kept aside"
	}
	if !o.up() {
		return haproxy.Maint, "unreachable"
	}
	if !o.st.ReadOnly {
		return haproxy.Maint, "writable, but not the primary"
	}
	r := o.st.Replica
	switch {
	case !o.replicatesFrom(primary.node):
		return haproxy.Drain, "not replicating from " + primary.node.Name
	case !r.SQLRunning:
		return haproxy.Drain, "sql thread stopped"
	case r.IORunning == "No" && primary.writable():
		// While the primary is down its replicas' IO threads stop or
		// retry; they serve what they have until the failover.
		return haproxy.Drain, "io thread stopped"
	case r.SecondsBehind >= 0 && time.Duration(r.SecondsBehind)*time.Second > cfg.MaxLag:
		return haproxy.Drain, fmt.Sprintf("%ds behind, more than %s", r.SecondsBehind, cfg.MaxLag)
	}
	return haproxy.Ready, "replicating"
}

// needsSet says whether a server whose status is cur must be told want.
// A DOWN server fails HAProxy's checks: its admin state cannot be read,
// so ready and drain are left to the checks.
func needsSet(cur haproxy.Status, want haproxy.AdminState) bool {
	switch want {
	case haproxy.Ready:
		return cur == haproxy.StatusMaint || cur == haproxy.StatusDrain
	case haproxy.Drain:
		return cur == haproxy.StatusUp || cur == haproxy.StatusMaint
	case haproxy.Maint:
		return cur != haproxy.StatusMaint
	}
	return false
}
