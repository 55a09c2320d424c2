package repl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/db/dbtest"
	"github.com/trio-stack/trio/internal/secrets"
)

var replUser = Credentials{User: "repl", Password: "replpw"}

func waitFor(t testing.TB, r *testServer, pos Position) {
	t.Helper()
	if err := WaitFor(context.Background(), r.Admin, pos, 30*time.Second); err != nil {
		t.Fatalf("%s: %v", r.Name, err)
	}
}

func sameChecksums(t testing.TB, servers ...*testServer) {
	t.Helper()
	want := servers[0].checksums()
	if len(want) == 0 {
		t.Fatalf("%s: no tables in app", servers[0].Name)
	}
	for _, s := range servers[1:] {
		if got := s.checksums(); !maps.Equal(got, want) {
			t.Errorf("checksums of %s %v, of %s %v", s.Name, got, servers[0].Name, want)
		}
	}
}

// TestCluster_Lifecycle drives one primary and two replicas through what
// a supervisor does: seed under writes, semi-sync, a kill -9 failover,
// the old primary rejoining, an errant node, a switchover. The steps
// share servers, so each needs the ones before it.
func TestCluster_Lifecycle(t *testing.T) {
	requirePrograms(t)
	ctx := context.Background()
	base := dbtest.Base(t)

	p := newServer(t, base, "p", 1, Primary, SettingsOptions{})
	p.Install()
	p.Start()
	if !p.status().ReadOnly {
		t.Fatal("a primary must start read_only")
	}
	// Bootstrap as root, whom read_only does not stop, before any
	// replica exists and before semi-sync is on.
	if err := EnsureReplicationUser(ctx, p.Admin, replUser.User, secrets.MySQLNativeHash([]byte(replUser.Password))); err != nil {
		t.Fatal(err)
	}
	p.CreateAppSchema()

	// r1 starts from an empty data directory and replicates the
	// primary's whole binlog.
	r1 := newServer(t, base, "r1", 2, Replica, SettingsOptions{})
	r1.Install()
	r1.Start()
	if err := StartReplica(ctx, r1.Admin, p.node(), replUser, nil, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only Promote opens the first primary for the app's writes.
	if _, err := p.App().Exec("INSERT INTO t (id, v) VALUES (0, 'before promote')"); !isMySQLError(err, 1290) {
		t.Fatalf("app write before Promote: %v, want read_only error 1290", err)
	}
	if _, err := Promote(ctx, p.Admin, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r2 := newServer(t, base, "r2", 3, Replica, SettingsOptions{})

	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("SeedUnderWrites", func(t *testing.T) {
		w := dbtest.StartWriter(t, p.App(), 1, false)
		w.WaitRows(t, 50)
		var progress []string
		staging := r2.DataDir() + ".seed"
		pos, err := Seed(ctx, SeedOptions{Socket: p.Socket(), TargetDir: staging, Progress: func(s string) { progress = append(progress, s) }})
		if err != nil {
			t.Fatal(err)
		}
		w.WaitRows(t, 50) // writes went on during and after the copy
		dbtest.ChownMySQL(t, staging)
		if err := os.Rename(staging, r2.DataDir()); err != nil {
			t.Fatal(err)
		}
		r2.Start()
		if err := StartReplica(ctx, r2.Admin, p.node(), replUser, pos, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}
		acked := w.Finish()
		if w.LastErr() != nil {
			t.Fatalf("writer: %v", w.LastErr())
		}
		final := p.status().BinlogPos
		waitFor(t, r1, final)
		waitFor(t, r2, final)
		sameChecksums(t, p, r1, r2)
		if m := dbtest.Missing(t, r2.Server, acked); len(m) > 0 {
			t.Fatalf("r2 lacks %d rows", len(m))
		}
		t.Logf("seeded r2 at %s while %d rows were written; progress: %q", pos, len(acked), progress)
	})

	step("SemiSyncAfterSync", func(t *testing.T) {
		var wp string
		if err := p.Admin.QueryRow("SELECT @@rpl_semi_sync_master_wait_point").Scan(&wp); err != nil {
			t.Fatal(err)
		}
		st := p.status()
		if wp != "AFTER_SYNC" || !st.SemiSync.MasterOn || st.SemiSync.MasterClients != 2 {
			t.Fatalf("primary: wait point %s, semi-sync %+v; want AFTER_SYNC, on, 2 clients", wp, st.SemiSync)
		}
		for _, r := range []*testServer{r1, r2} {
			if rs := r.status(); !rs.SemiSync.SlaveOn || rs.SemiSync.MasterOn {
				t.Fatalf("%s: semi-sync %+v; want the replica side only", r.Name, rs.SemiSync)
			}
		}
		// The moment a commit returns, a replica has received it.
		conn, err := p.App().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i := range 20 {
			if _, err := conn.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, 'semisync')", 100000+i); err != nil {
				t.Fatal(err)
			}
			var last string
			if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&last); err != nil {
				t.Fatal(err)
			}
			g := MustPosition(last)
			if !r1.status().Replica.IOPos.Covers(g) && !r2.status().Replica.IOPos.Covers(g) {
				t.Fatalf("commit %s acknowledged, but no replica has received it", last)
			}
		}
		if after := p.status().SemiSync; after.MasterYesTx < st.SemiSync.MasterYesTx+20 {
			t.Fatalf("acknowledged commits went from %d to %d, want +20", st.SemiSync.MasterYesTx, after.MasterYesTx)
		}
	})

	var newPrimary, other *testServer
	var promotedAt Position
	step("FailoverAfterKill9", func(t *testing.T) {
		w := dbtest.StartWriter(t, p.App(), 1000, false)
		w.WaitRows(t, 100)
		// r2 keeps receiving but stops applying, so Promote has a relay
		// log to drain.
		r2.Exec("STOP SLAVE SQL_THREAD")
		w.WaitRows(t, 200)
		p.Kill()
		killed := time.Now()
		acked := w.Finish()

		s1, err := Status(ctx, r1.Admin)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Status(ctx, r2.Admin)
		if err != nil {
			t.Fatal(err)
		}
		// Equally advanced, the first listed wins: r2, with its backlog.
		candidates := []*testServer{r2, r1}
		best := MostAdvanced([]NodeStatus{s2, s1})
		if best < 0 {
			t.Fatal("no failover candidate")
		}
		newPrimary, other = candidates[best], candidates[1-best]
		promotedAt, err = Promote(ctx, newPrimary.Admin, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(killed)
		backlog := candidates[best].Name + " had received but not applied"
		if best == 0 {
			backlog = fmt.Sprintf("%s %d", backlog, s2.SlavePos.Lag(s2.Received()))
		}
		if err := Repoint(ctx, other.Admin, newPrimary.node(), replUser, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}

		lost := dbtest.Missing(t, newPrimary.Server, acked)
		if len(lost) > 0 {
			t.Fatalf("%d acknowledged rows lost in the failover: %v", len(lost), lost)
		}
		st := newPrimary.status()
		if st.ReadOnly || st.Replica != nil || !st.SemiSync.MasterOn {
			t.Fatalf("new primary: read_only %v, replica %v, semi-sync %+v", st.ReadOnly, st.Replica, st.SemiSync)
		}
		// The new primary takes writes, and the other replica follows.
		if _, err := newPrimary.App().Exec("INSERT INTO t (id, v) VALUES (200000, 'after failover')"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, other, newPrimary.status().BinlogPos)
		sameChecksums(t, newPrimary, other)
		t.Logf("kill -9 to promotion done: %s; %s promoted at %s (%s transactions); %d rows acknowledged, 0 lost; writer's last error: %v",
			took.Round(time.Millisecond), newPrimary.Name, promotedAt, backlog, len(acked), w.LastErr())
	})

	step("OldPrimaryRejoins", func(t *testing.T) {
		// The supervisor restarts the lost primary as a replica.
		p.restart(Replica)
		st := p.status()
		if !st.ReadOnly {
			t.Fatal("the old primary came back writable")
		}
		if e := Errant(st, promotedAt); len(e) > 0 {
			t.Fatalf("old primary at %s has errant transactions %s (promoted at %s)\nlog:\n%s", st.BinlogPos, e, promotedAt, p.LogTail(20))
		}
		if err := Repoint(ctx, p.Admin, newPrimary.node(), replUser, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p, newPrimary.status().BinlogPos)
		sameChecksums(t, newPrimary, other, p)
		var recovery []string
		for _, l := range strings.Split(p.LogTail(200), "\n") {
			if strings.Contains(strings.ToLower(l), "truncat") || strings.Contains(l, "semi-sync") || strings.Contains(l, "Semi-sync") {
				recovery = append(recovery, strings.TrimSpace(l))
			}
		}
		t.Logf("old primary came back at %s (promoted at %s); recovery log: %q", st.BinlogPos, promotedAt, recovery)
	})

	step("ErrantNodeDetected", func(t *testing.T) {
		// Cut p off and write on it, as a partitioned primary might.
		p.Exec("STOP SLAVE")
		p.Exec("SET GLOBAL read_only = OFF")
		p.Exec("INSERT INTO app.t (id, v) VALUES (300000, 'errant')")
		p.Exec("SET GLOBAL read_only = ON")
		st := p.status()
		np := newPrimary.status()
		e := Errant(st, np.Applied())
		if len(e) != 1 || e[0].Server != p.serverID {
			t.Fatalf("Errant(%s vs %s) = %s, want p's own write", st.BinlogPos, np.Applied(), e)
		}
		if e := Errant(other.status(), np.Applied()); len(e) > 0 {
			t.Fatalf("healthy replica reported errant: %s", e)
		}
		// Even once the new primary has moved past it in sequence numbers,
		// the local write is found.
		for i := range 3 {
			if _, err := newPrimary.App().Exec("INSERT INTO t (id, v) VALUES (?, 'moves on')", 300001+i); err != nil {
				t.Fatal(err)
			}
		}
		np = newPrimary.status()
		if e := Errant(st, np.Applied()); len(e) != 1 {
			t.Fatalf("Errant(%s vs %s) = %s, want p's own write", st.BinlogPos, np.Applied(), e)
		}
		// The server refuses it too (gtid_strict_mode).
		err := Repoint(ctx, p.Admin, newPrimary.node(), replUser, ReplicaOptions{})
		if err == nil {
			err = WaitFor(ctx, p.Admin, np.BinlogPos, 10*time.Second)
		}
		if !errors.Is(err, ErrReplication) {
			t.Fatalf("rejoining an errant node: %v, want ErrReplication", err)
		}
		t.Logf("errant %s; the server says: %v", e, err)
		p.Kill() // kept aside
	})

	step("SwitchoverUnderWrites", func(t *testing.T) {
		oldP, target := newPrimary, other
		w := dbtest.StartWriter(t, oldP.App(), 400000, true)
		w.WaitRows(t, 200)
		start := time.Now()
		at, err := Switchover(ctx, SwitchoverOptions{
			Old: oldP.member(), New: target.member(), Repl: replUser, Timeout: 30 * time.Second,
			Progress: func(s string) { t.Log("switchover: " + s) },
		})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		w.SetTarget(target.App()) // the app learns the new primary
		w.WaitRows(t, 200)
		acked := w.Finish()
		if lost := dbtest.Missing(t, target.Server, acked); len(lost) > 0 {
			t.Fatalf("%d acknowledged rows lost in the switchover: %v", len(lost), lost)
		}
		if st := oldP.status(); !st.ReadOnly || st.Replica == nil || st.SemiSync.MasterOn {
			t.Fatalf("old primary after switchover: read_only %v, replica %+v, semi-sync %+v", st.ReadOnly, st.Replica, st.SemiSync)
		}
		waitFor(t, oldP, target.status().BinlogPos)
		sameChecksums(t, target, oldP)
		t.Logf("switchover to %s at %s took %s; writes failed for at most %s; %d rows acknowledged, 0 lost",
			target.Name, at, took.Round(time.Millisecond), w.MaxBlocked().Round(time.Millisecond), len(acked))
	})
}
