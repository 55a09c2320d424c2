package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// writer commits numbered rows through the write endpoint in a loop and
// remembers every commit the database acknowledged.
type writer struct {
	db      *sql.DB
	mu      sync.Mutex
	acked   []int
	lastOK  time.Time
	gaps    []time.Duration // every stretch without a successful commit
	gapFrom time.Time
	stop    context.CancelFunc
	done    chan struct{}
}

func startWriter(t testing.TB, port int) *writer {
	t.Helper()
	// The driver logs each connection a failover cuts; the test counts them.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	dsn := fmt.Sprintf("guestbook:guestbook-dev-password@tcp(127.0.0.1:%d)/guestbook?timeout=1s&readTimeout=2s&writeTimeout=2s", port)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(time.Second)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS writes (n INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{db: db, stop: cancel, done: make(chan struct{}), lastOK: time.Now()}
	var start int
	db.QueryRow("SELECT COALESCE(MAX(n), 0) FROM writes").Scan(&start)
	go func() {
		defer close(w.done)
		for n := start + 1; ctx.Err() == nil; n++ {
			_, err := db.ExecContext(ctx, "INSERT INTO writes VALUES (?)", n)
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, n)
				if !w.gapFrom.IsZero() {
					w.gaps = append(w.gaps, time.Since(w.gapFrom))
					w.gapFrom = time.Time{}
				}
				w.lastOK = time.Now()
			} else if w.gapFrom.IsZero() {
				w.gapFrom = w.lastOK
			}
			w.mu.Unlock()
			time.Sleep(3 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { w.finish(); db.Close() })
	return w
}

func (w *writer) finish() {
	w.stop()
	<-w.done
}

// lost counts acknowledged rows missing from the database now.
func (w *writer) lost(t testing.TB) int {
	t.Helper()
	w.finish()
	lost := 0
	for _, n := range w.acked {
		var x int
		if err := w.db.QueryRow("SELECT n FROM writes WHERE n = ?", n).Scan(&x); err != nil {
			lost++
		}
	}
	return lost
}

func (w *writer) longestGap() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var m time.Duration
	for _, g := range w.gaps {
		m = max(m, g)
	}
	return m
}

type topologyJSON struct {
	Primary string
	Nodes   []struct {
		Name        string
		Role        string
		ReadOnly    bool `json:"read_only"`
		Replication *struct {
			Master    string
			IOThread  string `json:"io_thread"`
			SQLThread bool   `json:"sql_thread"`
		}
	}
}

func (s *Stack) topology(t testing.TB) topologyJSON {
	t.Helper()
	r := s.MustTrio("db", "status", "-o", "json")
	var top topologyJSON
	if err := json.Unmarshal([]byte(r.Stdout), &top); err != nil {
		t.Fatalf("db status: %v\n%s", err, r.Stdout)
	}
	return top
}

// waitTopology polls db status until ok says it is right.
func (s *Stack) waitTopology(t testing.TB, timeout time.Duration, ok func(topologyJSON) bool) topologyJSON {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		top := s.topology(t)
		if ok(top) {
			return top
		}
		if time.Now().After(deadline) {
			t.Fatalf("topology not reached after %s: %+v", timeout, top)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func allReplicating(top topologyJSON) bool {
	for _, n := range top.Nodes {
		if n.Name == top.Primary {
			if n.Role != "primary" || n.ReadOnly {
				return false
			}
			continue
		}
		if n.Role != "replica" || n.Replication == nil || n.Replication.Master != top.Primary || n.Replication.IOThread != "Yes" || !n.Replication.SQLThread {
			return false
		}
	}
	return true
}

// TestDB_ReplicasAndFailover: a primary and two replicas; kill -9 the
// primary under a writer: a replica takes over, no acknowledged write is
// lost, the old primary comes back read-only and rejoins; a switchover
// under load loses nothing; a backup restores to the same checksums.
func TestDB_ReplicasAndFailover(t *testing.T) {
	needTool(t, "haproxy", "haproxy")
	needTool(t, "mariadb-backup", "mariadb-backup")
	s := newStack(t)
	s.EditYAML(func(y string) string {
		return strings.Replace(y, "  migrations: migrations\n", "  migrations: migrations\n  replicas: 2\n  failover: {min_interval: 1s}\n", 1)
	})
	r := s.MustTrio("up")
	mustMatch(t, "up", `init db-1: new replica, copied from db-0 with mariadb-backup`, r.Stdout)
	s.waitTopology(t, 30*time.Second, allReplicating)
	s.AddEntry("Fay", "replicated")
	// Reads go to the replicas: the entry shows once it has replicated.
	deadline := time.Now().Add(5 * time.Second)
	for got := s.Entries(); len(got) != 1; got = s.Entries() {
		if time.Now().After(deadline) {
			t.Fatalf("entries through the read endpoint: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("kill -9 the primary: failover loses no acknowledged write", func(t *testing.T) {
		w := startWriter(t, s.DBPort)
		time.Sleep(time.Second)
		old := s.topology(t).Primary
		killed := time.Now()
		if err := syscall.Kill(s.PID(old), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		top := s.waitTopology(t, 20*time.Second, func(top topologyJSON) bool { return top.Primary != old })
		time.Sleep(2 * time.Second)
		if lost := w.lost(t); lost != 0 {
			t.Fatalf("%d acknowledged writes lost of %d", lost, len(w.acked))
		}
		t.Logf("failover %s → %s; %d writes acknowledged, none lost; longest write gap %s (kill at %s)", old, top.Primary, len(w.acked), w.longestGap(), killed.Format("15:04:05.000"))
		// The old primary came back (the agent restarted it) read-only and
		// follows the new one.
		top = s.waitTopology(t, 30*time.Second, allReplicating)
		for _, n := range top.Nodes {
			if n.Name == old && !n.ReadOnly {
				t.Errorf("the old primary %s accepts writes", old)
			}
		}
	})

	t.Run("switchover under a writer loses nothing", func(t *testing.T) {
		w := startWriter(t, s.DBPort)
		time.Sleep(500 * time.Millisecond)
		before := s.topology(t).Primary
		r := s.MustTrio("db", "switchover")
		mustMatch(t, "switchover", `primary db-\d`, r.Stdout)
		time.Sleep(500 * time.Millisecond)
		if lost := w.lost(t); lost != 0 {
			t.Fatalf("%d acknowledged writes lost", lost)
		}
		top := s.waitTopology(t, 20*time.Second, allReplicating)
		if top.Primary == before {
			t.Fatalf("the primary is still %s", before)
		}
		t.Logf("switchover %s → %s, longest write gap %s", before, top.Primary, w.longestGap())
	})

	t.Run("backup, verify and restore give the same checksums", func(t *testing.T) {
		for _, logical := range []bool{false, true} {
			args := []string{"db", "backup", "-o", "json"}
			if logical {
				args = append(args, "--logical")
			}
			r := s.MustTrio(args...)
			var b struct{ Dir string }
			if err := json.Unmarshal([]byte(r.Stdout), &b); err != nil {
				t.Fatal(err)
			}
			r = s.MustTrio("db", "restore", b.Dir, "--verify", "-o", "json")
			var v struct {
				Tables map[string]int64 `json:"table_checksums"`
			}
			json.Unmarshal([]byte(r.Stdout), &v)
			if v.Tables["entries"] == 0 {
				t.Fatalf("verify of %s: %s", b.Dir, r.Stdout)
			}
		}
		want := checksums(t, s)
		r := s.MustTrio("db", "backup", "-o", "json")
		var b struct{ Dir string }
		json.Unmarshal([]byte(r.Stdout), &b)
		if r := s.Trio("db", "restore", b.Dir); r.Code == 0 {
			t.Fatal("a physical restore into a running stack was allowed")
		}
		s.MustTrio("down")
		r = s.MustTrio("db", "restore", b.Dir)
		mustMatch(t, "restore", `the previous data is kept in .*db-0.before-restore-`, r.Stdout)
		r = s.MustTrio("up")
		mustMatch(t, "up after restore", `init db-1: new replica`, r.Stdout)
		s.waitTopology(t, 30*time.Second, allReplicating)
		if got := checksums(t, s); got != want {
			t.Fatalf("checksums after restore:\n%s\nbefore:\n%s", got, want)
		}
		// New writes go on from the backup's position.
		s.AddEntry("Gus", "after restore")
	})
}

// checksums is CHECKSUM TABLE of the app's tables, through the shell.
func checksums(t testing.TB, s *Stack) string {
	t.Helper()
	r := s.MustTrio("db", "shell", "--", "--batch", "--skip-column-names", "-e", "CHECKSUM TABLE entries, writes")
	return strings.TrimSpace(r.Stdout)
}
