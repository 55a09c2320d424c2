package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/db/dbtest"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/haproxy"
)

// TestController_Cluster runs the controller against one primary and two
// real replicas behind a real HAProxy, with the test as the agent that
// starts and kills mariadbd. The steps share the cluster, so each needs
// the ones before it.
func TestController_Cluster(t *testing.T) {
	requirePrograms(t)
	ctx := context.Background()
	c := newCluster(t)
	parent := t // controllers started in a step outlive it
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	cfg := c.cfg
	cfg.MinInterval = time.Millisecond // the failover rounds follow each other closely
	ctl := runController(t, cfg)

	step("EndpointsReconciledAtStart", func(t *testing.T) {
		want := map[string]haproxy.Status{
			"db-write/db-0": haproxy.StatusUp, "db-write/db-1": haproxy.StatusMaint, "db-write/db-2": haproxy.StatusMaint,
			"db-read/db-0": haproxy.StatusMaint, "db-read/db-1": haproxy.StatusUp, "db-read/db-2": haproxy.StatusUp,
		}
		eventually(t, 10*time.Second, func() (bool, string) {
			got := c.lb.states()
			for k, v := range want {
				if got[k] != v {
					return false, fmt.Sprintf("HAProxy has %v, want %v", got, want)
				}
			}
			return true, ""
		})
		top := ctl.Status(ctx)
		for i, role := range []Role{RolePrimary, RoleReplica, RoleReplica} {
			if n := top.Nodes[i]; n.Role != role || !n.Reachable {
				t.Fatalf("%s: role %s, reachable %t; want %s", n.Name, n.Role, n.Reachable, role)
			}
		}
		if n := top.Nodes[1]; n.Replication == nil || n.Replication.Master != "db-0" || !n.SemiSync.SlaveOn {
			t.Fatalf("db-1 replication %+v, semi-sync %+v", n.Replication, n.SemiSync)
		}
		if n := top.Nodes[0]; !n.SemiSync.MasterOn || n.SemiSync.MasterClients != 2 {
			t.Fatalf("db-0 semi-sync %+v, want on with 2 clients", n.SemiSync)
		}
		b, err := json.Marshal(top)
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			Nodes []map[string]any `json:"nodes"`
		}
		if err := json.Unmarshal(b, &back); err != nil || back.Nodes[0]["role"] != "primary" || back.Nodes[1]["replication"].(map[string]any)["io_thread"] != "Yes" {
			t.Fatalf("status as JSON: %s (%v)", b, err)
		}
	})

	step("FailoverAfterKill9", func(t *testing.T) {
		var outage, took []time.Duration
		rows := 0
		for round := 1; round <= 3; round++ {
			old := c.node(ctl.Config().Primary)
			w := dbtest.StartWriter(t, dbtest.AppDB(t, c.lb.writePort), round*100000, true)
			w.WaitRows(t, 100)
			killed := time.Now()
			old.Kill()
			// In round 2 the agent restarts the crashed primary at once, as
			// it does after 250ms: it is back read-only before FailAfter.
			early := round == 2
			if early {
				time.Sleep(250 * time.Millisecond)
				old.Start()
			}
			first := w.FirstAfter(t, killed, 30*time.Second)
			w.WaitRows(t, 50)
			acked := w.Finish()
			cur := ctl.Config()
			if cur.Primary == old.Name || cur.LastFailover == nil || cur.LastFailover.From != old.Name {
				t.Fatalf("round %d: primary %s, last failover %+v; want a failover from %s", round, cur.Primary, cur.LastFailover, old.Name)
			}
			np := c.node(cur.Primary)
			if lost := dbtest.Missing(t, np.Server, acked); len(lost) > 0 {
				t.Fatalf("round %d: %d acknowledged rows lost in the failover: %v", round, len(lost), lost)
			}
			outage = append(outage, first.At.Sub(killed))
			took = append(took, time.Duration(cur.LastFailover.Took))
			rows += len(acked)
			t.Logf("round %d: kill -9 %s → first commit through %s on %s after %s (failover itself %s; restarted %s); %d rows acknowledged, 0 lost; %s",
				round, old.Name, "db-write", np.Name, first.At.Sub(killed).Round(time.Millisecond), cur.LastFailover.Took,
				map[bool]string{true: "at once, as the agent does", false: "after the failover"}[early], len(acked), cur.LastFailover.Reason)

			if !early {
				old.Start()
			}
			waitReplica(t, ctl, old.Name, cur.Primary)
			converged(t, np, c.nodes...)
			ctl.seen.Lock()
			saved := ctl.changes[len(ctl.changes)-1]
			ctl.seen.Unlock()
			if saved.Primary != cur.Primary || len(saved.PromotedAt) == 0 {
				t.Fatalf("OnChange saw primary %s at %s; want %s", saved.Primary, saved.PromotedAt, cur.Primary)
			}
		}
		t.Logf("kill -9 → first commit through the write endpoint over %d failovers: %s; the failover itself: %s; %d rows acknowledged, 0 lost",
			len(outage), spread(outage), spread(took), rows)
	})

	step("SwitchoverUnderWrites", func(t *testing.T) {
		old := ctl.Config().Primary
		if err := ctl.Switchover(ctx, "db-9"); !errors.Is(err, ErrUnknownNode) {
			t.Fatalf("switchover to db-9: %v, want ErrUnknownNode", err)
		}
		if err := ctl.Switchover(ctx, old); !errors.Is(err, ErrNotReady) {
			t.Fatalf("switchover to the primary: %v, want ErrNotReady", err)
		}
		w := dbtest.StartWriter(t, dbtest.AppDB(t, c.lb.writePort), 500000, true)
		w.WaitRows(t, 100)
		start := time.Now()
		if err := ctl.Switchover(ctx, ""); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		w.WaitRows(t, 100)
		acked := w.Finish()
		cur := ctl.Config()
		if cur.Primary == old {
			t.Fatalf("primary still %s", old)
		}
		if lost := dbtest.Missing(t, c.node(cur.Primary).Server, acked); len(lost) > 0 {
			t.Fatalf("%d acknowledged rows lost in the switchover: %v", len(lost), lost)
		}
		waitReplica(t, ctl, old, cur.Primary)
		if top := ctl.Status(ctx); top.LastSwitchover == nil || top.LastSwitchover.To != cur.Primary {
			t.Fatalf("last switchover %+v", top.LastSwitchover)
		}
		t.Logf("switchover %s → %s took %s; writes through the endpoint failed for at most %s; %d rows acknowledged, 0 lost",
			old, cur.Primary, took.Round(time.Millisecond), w.MaxBlocked().Round(time.Millisecond), len(acked))
	})

	step("StoppedSQLThreadDrainsReplica", func(t *testing.T) {
		r := c.node(replicaOf(t, ctl))
		key := "db-read/" + r.Name
		r.Exec("STOP SLAVE SQL_THREAD")
		stopped := time.Now()
		eventually(t, 5*time.Second, func() (bool, string) {
			s := c.lb.states()[key]
			return s == haproxy.StatusDrain, fmt.Sprintf("%s is %s, want DRAIN", key, s)
		})
		t.Logf("%s drained %s after its SQL thread stopped", r.Name, time.Since(stopped).Round(time.Millisecond))
		time.Sleep(time.Second) // an operator's stop is left alone
		if st := r.status(); st.Replica == nil || st.Replica.SQLRunning {
			t.Fatalf("the controller restarted %s's SQL thread", r.Name)
		}
		if s := c.lb.states()[key]; s != haproxy.StatusDrain {
			t.Fatalf("%s is %s, want DRAIN", key, s)
		}
		if n := nodeNamed(t, ctl.Status(ctx), r.Name); !strings.Contains(n.Note, "sql thread stopped") {
			t.Fatalf("note %q", n.Note)
		}
		r.Exec("START SLAVE SQL_THREAD")
		eventually(t, 5*time.Second, func() (bool, string) {
			s := c.lb.states()[key]
			return s == haproxy.StatusUp, fmt.Sprintf("%s is %s, want UP", key, s)
		})
	})

	step("WitnessHoldsFailover", func(t *testing.T) {
		cur := ctl.Config()
		p := c.node(cur.Primary)
		// The agent loses its socket to the primary; the replicas still
		// replicate from it over TCP.
		p.cutOff()
		eventually(t, 10*time.Second, func() (bool, string) {
			top := ctl.Status(ctx)
			return strings.Contains(top.Held, "still replicate"), "held: " + top.Held
		})
		time.Sleep(2 * cfg.Heartbeat)
		if now := ctl.Config(); now.Primary != cur.Primary || now.LastFailover.At != cur.LastFailover.At {
			t.Fatalf("failed over from %s to %s although replicas still hear it", cur.Primary, now.Primary)
		}
		t.Logf("held: %s", ctl.Status(ctx).Held)
		p.reconnect()
		eventually(t, 5*time.Second, func() (bool, string) {
			top := ctl.Status(ctx)
			return top.Held == "" && top.UnhealthySince == nil, "held: " + top.Held
		})
	})

	step("HungPrimary", func(t *testing.T) {
		cur := ctl.Config()
		p := c.node(cur.Primary)
		// Hung, it keeps its sockets: HAProxy's TCP checks pass and the
		// replicas' IO threads stay connected until slave_net_timeout, but
		// the heartbeats stop.
		frozen := time.Now()
		p.Freeze()
		defer p.Thaw()
		eventually(t, 20*time.Second, func() (bool, string) {
			return ctl.Config().Primary != p.Name, "no failover from the hung " + p.Name
		})
		now := ctl.Config()
		t.Logf("hung %s: failed over to %s %s after SIGSTOP (the failover itself %s): %s",
			p.Name, now.Primary, time.Since(frozen).Round(time.Millisecond), now.LastFailover.Took, now.LastFailover.Reason)
		if s := c.lb.states()["db-write/"+p.Name]; s != haproxy.StatusMaint {
			t.Fatalf("hung old primary is %s in db-write, want MAINT", s)
		}
		// It wakes up still writable: fenced, then rejoined.
		p.Thaw()
		waitReplica(t, ctl, p.Name, now.Primary)
		if !p.status().ReadOnly {
			t.Fatal("the old primary woke up and stayed writable")
		}
	})

	step("AntiFlappingHoldsSecondFailover", func(t *testing.T) {
		// The agent restarts the controller from the persisted config, with
		// the real interval.
		cfg := ctl.stop()
		cfg.MinInterval = time.Minute
		ctl = runController(parent, cfg)
		before := cfg.Primary
		if err := ctl.Failover(ctx, "test: forced"); err != nil {
			t.Fatal(err)
		}
		p := c.node(ctl.Config().Primary)
		waitReplica(t, ctl, before, p.Name)
		p.Kill()
		eventually(t, 10*time.Second, func() (bool, string) {
			top := ctl.Status(ctx)
			return strings.Contains(top.Held, "failover held back by anti-flapping"), "held: " + top.Held
		})
		p.Start() // the agent restarts it: back, but read-only
		eventually(t, 10*time.Second, func() (bool, string) {
			top := ctl.Status(ctx)
			return strings.Contains(top.Held, "anti-flapping") && strings.Contains(top.Held, "read-only"), "held: " + top.Held
		})
		if now := ctl.Config(); now.Primary != p.Name {
			t.Fatalf("failed over to %s within the anti-flapping interval", now.Primary)
		}
		t.Logf("held: %s", ctl.Status(ctx).Held)
		if err := ctl.Failover(ctx, "test: an operator overrides anti-flapping"); err != nil {
			t.Fatal(err)
		}
		cur := ctl.Config()
		if cur.Primary == p.Name {
			t.Fatalf("still %s", p.Name)
		}
		waitReplica(t, ctl, p.Name, cur.Primary)
	})

	step("ErrantNodeKeptAside", func(t *testing.T) {
		r := c.node(replicaOf(t, ctl))
		// While paused, r turns into what an old primary with a write
		// nobody else has looks like.
		ctl.Pause()
		r.Exec("STOP SLAVE")
		r.Exec("RESET SLAVE ALL")
		r.Exec("INSERT INTO app.t (id, v) VALUES (900000, 'errant')") // root writes through read_only
		time.Sleep(2 * cfg.Heartbeat)
		if n := nodeNamed(t, ctl.Status(ctx), r.Name); n.Role != RoleReplica || !strings.Contains(n.Note, "once failover is resumed") {
			t.Fatalf("paused: %s is %s: %s", r.Name, n.Role, n.Note)
		}
		ctl.Resume()
		var n NodeState
		eventually(t, 10*time.Second, func() (bool, string) {
			n = nodeNamed(t, ctl.Status(ctx), r.Name)
			return n.Role == RoleAside && n.Read == "MAINT" && n.Write == "MAINT", fmt.Sprintf("%+v", n)
		})
		if len(n.Errant) != 1 || n.Errant[0].Server != r.serverID || !strings.Contains(n.Note, "re-seed") {
			t.Fatalf("errant %s, note %q; want r's own write", n.Errant, n.Note)
		}
		t.Logf("%s: %s", r.Name, n.Note)
		// Never rejoined, not even by a restarted controller.
		cfg := ctl.stop()
		if _, ok := cfg.KeptAside[r.Name]; !ok {
			t.Fatalf("config to persist has no %s kept aside: %+v", r.Name, cfg.KeptAside)
		}
		ctl = runController(parent, cfg)
		time.Sleep(4 * cfg.Heartbeat)
		if n := nodeNamed(t, ctl.Status(ctx), r.Name); n.Role != RoleAside {
			t.Fatalf("after a restart %s is %s", r.Name, n.Role)
		}
		if st := r.status(); st.Replica != nil {
			t.Fatalf("%s rejoined: %+v", r.Name, st.Replica)
		}
	})
}

// waitReplica waits until Status shows name as a replica of primary with
// both threads running, serving reads and out of the write backend.
func waitReplica(t testing.TB, ctl *runningController, name, primary string) {
	t.Helper()
	start := time.Now()
	eventually(t, 30*time.Second, func() (bool, string) {
		n := nodeNamed(t, ctl.Status(context.Background()), name)
		r := n.Replication
		ok := n.Role == RoleReplica && r != nil && r.Master == primary && r.IOThread == "Yes" && r.SQLThread && n.Read == "UP" && n.Write == "MAINT"
		b, _ := json.Marshal(n)
		return ok, fmt.Sprintf("%s is not a serving replica of %s: %s", name, primary, b)
	})
	if d := time.Since(start); d > time.Second {
		t.Logf("%s serves reads as a replica of %s %s later", name, primary, d.Round(time.Millisecond))
	}
}

func nodeNamed(t testing.TB, top Topology, name string) NodeState {
	t.Helper()
	for _, n := range top.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %s in %+v", name, top)
	return NodeState{}
}

// replicaOf names a replica of the current primary.
func replicaOf(t testing.TB, ctl *runningController) string {
	t.Helper()
	cfg := ctl.Config()
	for _, n := range cfg.Nodes {
		if _, aside := cfg.KeptAside[n.Name]; n.Name != cfg.Primary && !aside {
			return n.Name
		}
	}
	t.Fatal("no replica")
	return ""
}

// converged waits until every node has what the primary has, and checks
// they hold the same rows.
func converged(t testing.TB, primary *testNode, nodes ...*testNode) {
	t.Helper()
	pos := primary.status().BinlogPos
	var want int
	if err := primary.Admin.QueryRow("SELECT COUNT(*) FROM app.t").Scan(&want); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n == primary {
			continue
		}
		if err := repl.WaitFor(context.Background(), n.Admin, pos, 30*time.Second); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		var got int
		if err := n.Admin.QueryRow("SELECT COUNT(*) FROM app.t").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s has %d rows, %s %d", n.Name, got, primary.Name, want)
		}
	}
}
