package repl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/secrets"
)

var replUser = Credentials{User: "repl", Password: "replpw"}

// writer commits numbered rows through the app's account in a loop and
// remembers which commits were acknowledged.
type writer struct {
	target  atomic.Pointer[sql.DB]
	retry   bool
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	acked   []int
	lastErr error
	// the longest time writes kept failing (the switchover's window)
	maxBlocked time.Duration
}

func startWriter(d *sql.DB, first int, retry bool) *writer {
	w := &writer{retry: retry, stop: make(chan struct{}), done: make(chan struct{})}
	w.target.Store(d)
	go w.run(first)
	return w
}

func (w *writer) run(id int) {
	defer close(w.done)
	var failingSince time.Time
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := w.target.Load().ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", id, fmt.Sprintf("row %d", id))
		cancel()
		if err == nil || isMySQLError(err, 1062) { // 1062: an earlier try did commit
			if !failingSince.IsZero() {
				w.maxBlocked = max(w.maxBlocked, time.Since(failingSince))
				failingSince = time.Time{}
			}
			w.mu.Lock()
			w.acked = append(w.acked, id)
			w.mu.Unlock()
			id++
			continue
		}
		w.mu.Lock()
		w.lastErr = err
		w.mu.Unlock()
		if !w.retry {
			return
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitRows waits until n more rows are acknowledged.
func (w *writer) waitRows(t testing.TB, n int) {
	t.Helper()
	want := w.count() + n
	deadline := time.Now().Add(30 * time.Second)
	for w.count() < want {
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("writer stuck at %d rows (want %d): %v", len(w.acked), want, w.lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *writer) finish() []int {
	select {
	case <-w.done:
	default:
		close(w.stop)
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.acked...)
}

// missing returns the acknowledged ids that s does not have.
func missing(t testing.TB, s *testServer, acked []int) []int {
	t.Helper()
	rows, err := s.admin.Query("SELECT id FROM app.t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	have := map[int]bool{}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		have[id] = true
	}
	var out []int
	for _, id := range acked {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

func waitFor(t testing.TB, r *testServer, pos Position) {
	t.Helper()
	if err := WaitFor(context.Background(), r.admin, pos, 30*time.Second); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
}

func sameChecksums(t testing.TB, servers ...*testServer) {
	t.Helper()
	want := servers[0].checksums()
	if len(want) == 0 {
		t.Fatalf("%s: no tables in app", servers[0].name)
	}
	for _, s := range servers[1:] {
		if got := s.checksums(); !maps.Equal(got, want) {
			t.Errorf("checksums of %s %v, of %s %v", s.name, got, servers[0].name, want)
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
	base := testBase(t)

	p := newServer(t, base, "p", 1, Primary, SettingsOptions{})
	p.install()
	p.start()
	if !p.status().ReadOnly {
		t.Fatal("a primary must start read_only")
	}
	// Bootstrap as root, whom read_only does not stop, before any
	// replica exists and before semi-sync is on.
	if err := EnsureReplicationUser(ctx, p.admin, replUser.User, secrets.MySQLNativeHash([]byte(replUser.Password))); err != nil {
		t.Fatal(err)
	}
	createSchema(t, p)

	// r1 starts from an empty data directory and replicates the
	// primary's whole binlog.
	r1 := newServer(t, base, "r1", 2, Replica, SettingsOptions{})
	r1.install()
	r1.start()
	if err := StartReplica(ctx, r1.admin, p.node(), replUser, nil, ReplicaOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only Promote opens the first primary for the app's writes.
	if _, err := p.app().Exec("INSERT INTO t (id, v) VALUES (0, 'before promote')"); !isMySQLError(err, 1290) {
		t.Fatalf("app write before Promote: %v, want read_only error 1290", err)
	}
	if _, err := Promote(ctx, p.admin, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r2 := newServer(t, base, "r2", 3, Replica, SettingsOptions{})

	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("SeedUnderWrites", func(t *testing.T) {
		w := startWriter(p.app(), 1, false)
		w.waitRows(t, 50)
		var progress []string
		staging := r2.datadir() + ".seed"
		pos, err := Seed(ctx, SeedOptions{Socket: p.socket(), TargetDir: staging, Progress: func(s string) { progress = append(progress, s) }})
		if err != nil {
			t.Fatal(err)
		}
		w.waitRows(t, 50) // writes went on during and after the copy
		chownMySQL(t, staging)
		if err := os.Rename(staging, r2.datadir()); err != nil {
			t.Fatal(err)
		}
		r2.start()
		if err := StartReplica(ctx, r2.admin, p.node(), replUser, pos, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}
		acked := w.finish()
		if w.lastErr != nil {
			t.Fatalf("writer: %v", w.lastErr)
		}
		final := p.status().BinlogPos
		waitFor(t, r1, final)
		waitFor(t, r2, final)
		sameChecksums(t, p, r1, r2)
		if m := missing(t, r2, acked); len(m) > 0 {
			t.Fatalf("r2 lacks %d rows", len(m))
		}
		t.Logf("seeded r2 at %s while %d rows were written; progress: %q", pos, len(acked), progress)
	})

	step("SemiSyncAfterSync", func(t *testing.T) {
		var wp string
		if err := p.admin.QueryRow("SELECT @@rpl_semi_sync_master_wait_point").Scan(&wp); err != nil {
			t.Fatal(err)
		}
		st := p.status()
		if wp != "AFTER_SYNC" || !st.SemiSync.MasterOn || st.SemiSync.MasterClients != 2 {
			t.Fatalf("primary: wait point %s, semi-sync %+v; want AFTER_SYNC, on, 2 clients", wp, st.SemiSync)
		}
		for _, r := range []*testServer{r1, r2} {
			if rs := r.status(); !rs.SemiSync.SlaveOn || rs.SemiSync.MasterOn {
				t.Fatalf("%s: semi-sync %+v; want the replica side only", r.name, rs.SemiSync)
			}
		}
		// The moment a commit returns, a replica has received it.
		conn, err := p.app().Conn(ctx)
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
		w := startWriter(p.app(), 1000, false)
		w.waitRows(t, 100)
		// r2 keeps receiving but stops applying, so Promote has a relay
		// log to drain.
		r2.exec("STOP SLAVE SQL_THREAD")
		w.waitRows(t, 200)
		p.kill()
		killed := time.Now()
		acked := w.finish()

		s1, err := Status(ctx, r1.admin)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Status(ctx, r2.admin)
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
		promotedAt, err = Promote(ctx, newPrimary.admin, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(killed)
		backlog := candidates[best].name + " had received but not applied"
		if best == 0 {
			backlog = fmt.Sprintf("%s %d", backlog, s2.SlavePos.Lag(s2.Received()))
		}
		if err := Repoint(ctx, other.admin, newPrimary.node(), replUser, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}

		lost := missing(t, newPrimary, acked)
		if len(lost) > 0 {
			t.Fatalf("%d acknowledged rows lost in the failover: %v", len(lost), lost)
		}
		st := newPrimary.status()
		if st.ReadOnly || st.Replica != nil || !st.SemiSync.MasterOn {
			t.Fatalf("new primary: read_only %v, replica %v, semi-sync %+v", st.ReadOnly, st.Replica, st.SemiSync)
		}
		// The new primary takes writes, and the other replica follows.
		if _, err := newPrimary.app().Exec("INSERT INTO t (id, v) VALUES (200000, 'after failover')"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, other, newPrimary.status().BinlogPos)
		sameChecksums(t, newPrimary, other)
		t.Logf("kill -9 to promotion done: %s; %s promoted at %s (%s transactions); %d rows acknowledged, 0 lost; writer's last error: %v",
			took.Round(time.Millisecond), newPrimary.name, promotedAt, backlog, len(acked), w.lastErr)
	})

	step("OldPrimaryRejoins", func(t *testing.T) {
		// The supervisor restarts the lost primary as a replica.
		p.restart(Replica)
		st := p.status()
		if !st.ReadOnly {
			t.Fatal("the old primary came back writable")
		}
		if e := Errant(st, promotedAt); len(e) > 0 {
			t.Fatalf("old primary at %s has errant transactions %s (promoted at %s)\nlog:\n%s", st.BinlogPos, e, promotedAt, tail(p.logPath(), 20))
		}
		if err := Repoint(ctx, p.admin, newPrimary.node(), replUser, ReplicaOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p, newPrimary.status().BinlogPos)
		sameChecksums(t, newPrimary, other, p)
		var recovery []string
		for _, l := range strings.Split(tail(p.logPath(), 200), "\n") {
			if strings.Contains(strings.ToLower(l), "truncat") || strings.Contains(l, "semi-sync") || strings.Contains(l, "Semi-sync") {
				recovery = append(recovery, strings.TrimSpace(l))
			}
		}
		t.Logf("old primary came back at %s (promoted at %s); recovery log: %q", st.BinlogPos, promotedAt, recovery)
	})

	step("ErrantNodeDetected", func(t *testing.T) {
		// Cut p off and write on it, as a partitioned primary might.
		p.exec("STOP SLAVE")
		p.exec("SET GLOBAL read_only = OFF")
		p.exec("INSERT INTO app.t (id, v) VALUES (300000, 'errant')")
		p.exec("SET GLOBAL read_only = ON")
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
			if _, err := newPrimary.app().Exec("INSERT INTO t (id, v) VALUES (?, 'moves on')", 300001+i); err != nil {
				t.Fatal(err)
			}
		}
		np = newPrimary.status()
		if e := Errant(st, np.Applied()); len(e) != 1 {
			t.Fatalf("Errant(%s vs %s) = %s, want p's own write", st.BinlogPos, np.Applied(), e)
		}
		// The server refuses it too (gtid_strict_mode).
		err := Repoint(ctx, p.admin, newPrimary.node(), replUser, ReplicaOptions{})
		if err == nil {
			err = WaitFor(ctx, p.admin, np.BinlogPos, 10*time.Second)
		}
		if !errors.Is(err, ErrReplication) {
			t.Fatalf("rejoining an errant node: %v, want ErrReplication", err)
		}
		t.Logf("errant %s; the server says: %v", e, err)
		p.kill() // kept aside
	})

	step("SwitchoverUnderWrites", func(t *testing.T) {
		oldP, target := newPrimary, other
		w := startWriter(oldP.app(), 400000, true)
		w.waitRows(t, 200)
		start := time.Now()
		at, err := Switchover(ctx, SwitchoverOptions{
			Old: oldP.member(), New: target.member(), Repl: replUser, Timeout: 30 * time.Second,
			Progress: func(s string) { t.Log("switchover: " + s) },
		})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		w.target.Store(target.app()) // the app learns the new primary
		w.waitRows(t, 200)
		acked := w.finish()
		if lost := missing(t, target, acked); len(lost) > 0 {
			t.Fatalf("%d acknowledged rows lost in the switchover: %v", len(lost), lost)
		}
		if st := oldP.status(); !st.ReadOnly || st.Replica == nil || st.SemiSync.MasterOn {
			t.Fatalf("old primary after switchover: read_only %v, replica %+v, semi-sync %+v", st.ReadOnly, st.Replica, st.SemiSync)
		}
		waitFor(t, oldP, target.status().BinlogPos)
		sameChecksums(t, target, oldP)
		t.Logf("switchover to %s at %s took %s; writes failed for at most %s; %d rows acknowledged, 0 lost",
			target.name, at, took.Round(time.Millisecond), w.maxBlocked.Round(time.Millisecond), len(acked))
	})
}
