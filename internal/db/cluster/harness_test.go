package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/db/dbtest"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/haproxy"
	"github.com/trio-stack/trio/internal/haproxy/haproxytest"
	"github.com/trio-stack/trio/internal/secrets"
)

// The harness runs real mariadbd processes through dbtest, as the host
// target does (data directories made by mariadb-install-db, each node's
// own my.cnf, socket and tmpdir, every node rendered as a replica the way
// render.ReplicationSettings does), and a real HAProxy in master-worker
// mode with a write and a read backend in front of them. The test plays
// the agent: it starts and kills the processes.

var replUser = repl.Credentials{User: "repl", Password: "replpw"}

// requirePrograms skips the test when MariaDB or HAProxy is missing,
// except in CI, where that is a failure.
func requirePrograms(t testing.TB) {
	t.Helper()
	dbtest.RequirePrograms(t, "mariadbd", "mariadb-install-db")
	haproxytest.RequireProgram(t, "haproxy")
}

// testNode is one mariadbd under test.
type testNode struct {
	*dbtest.Server
	t        testing.TB
	serverID uint32
	// link is the socket path the controller is given: a symlink to the
	// real socket, which a test removes to cut the controller off.
	link string
}

// node is how the controller sees the server.
func (s *testNode) node() repl.Node {
	return repl.Node{Name: s.Name, Socket: s.link, Host: "127.0.0.1", Port: s.Port}
}

func newNode(t testing.TB, base, name string, serverID uint32) *testNode {
	t.Helper()
	s := &testNode{
		Server: dbtest.NewServer(t, base, name, repl.Settings(repl.Replica, serverID, repl.SettingsOptions{})),
		t:      t, serverID: serverID, link: filepath.Join(base, name+".sock"),
	}
	if err := os.Symlink(s.Socket(), s.link); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *testNode) status() repl.NodeStatus {
	s.t.Helper()
	st, err := repl.Status(context.Background(), s.Admin)
	if err != nil {
		s.t.Fatalf("%s: %v", s.Name, err)
	}
	return st
}

// cutOff removes the socket link the controller dials and kills the
// connections it has: the controller can no longer reach the node, while
// replication (over TCP) and the test (over the real socket) still can.
func (s *testNode) cutOff() {
	s.t.Helper()
	if err := os.Remove(s.link); err != nil {
		s.t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := s.Admin.Conn(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
	if err != nil {
		s.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			s.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		_, _ = conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
	}
}

// reconnect puts the socket link back.
func (s *testNode) reconnect() {
	s.t.Helper()
	if err := os.Symlink(s.Socket(), s.link); err != nil {
		s.t.Fatal(err)
	}
}

// testLB is a real HAProxy with the db endpoints as trio renders them:
// every node a server of both backends, checked every second.
type testLB struct {
	t         testing.TB
	socket    string
	writePort int
	readPort  int
	client    *haproxy.Client
}

// startLB starts HAProxy in front of nodes. Every server starts enabled
// in the write backend, so that the controller must set the endpoints
// right before anything else.
func startLB(t testing.TB, base string, nodes []*testNode) *testLB {
	t.Helper()
	dir := filepath.Join(base, "lb")
	l := &testLB{t: t, socket: filepath.Join(dir, "admin.sock"), writePort: haproxytest.FreePort(t), readPort: haproxytest.FreePort(t)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s mode 600 level admin
    log stdout format raw daemon info

defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions

listen db-write
    bind 127.0.0.1:%d
`, l.socket, l.writePort)
	for _, n := range nodes {
		fmt.Fprintf(&b, "    server %s 127.0.0.1:%d check\n", n.Name, n.Port)
	}
	fmt.Fprintf(&b, "\nlisten db-read\n    bind 127.0.0.1:%d\n    balance leastconn\n", l.readPort)
	for i, n := range nodes {
		backup := ""
		if i == 0 {
			backup = " backup"
		}
		fmt.Fprintf(&b, "    server %s 127.0.0.1:%d check%s\n", n.Name, n.Port, backup)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := haproxytest.RequireProgram(t, "haproxy")
	l.client = haproxytest.Start(t, bin, cfg, l.socket, filepath.Join(dir, "haproxy.log")).Client
	return l
}

// states returns every server's status as "backend/server" → status.
func (l *testLB) states() map[string]haproxy.Status {
	l.t.Helper()
	list, err := l.client.ServerStates(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	m := map[string]haproxy.Status{}
	for _, s := range list {
		m[s.Backend+"/"+s.Name] = s.Status
	}
	return m
}

// testCluster is one primary and two replicas behind HAProxy.
type testCluster struct {
	t     testing.TB
	base  string
	nodes []*testNode
	lb    *testLB
	cfg   Config // the config a controller starts from
}

// newCluster sets up db-0 as the primary with db-1 and db-2 replicating
// from it from their first transaction, as the host target does.
func newCluster(t testing.TB) *testCluster {
	t.Helper()
	ctx := context.Background()
	base := dbtest.Base(t)
	c := &testCluster{t: t, base: base}
	for i := range 3 {
		c.nodes = append(c.nodes, newNode(t, base, fmt.Sprintf("db-%d", i), uint32(i+1)))
	}
	servers := make([]*dbtest.Server, len(c.nodes))
	for i, n := range c.nodes {
		servers[i] = n.Server
	}
	dbtest.InstallAndStart(t, servers...)
	p := c.nodes[0]
	if err := repl.EnsureReplicationUser(ctx, p.Admin, replUser.User, secrets.MySQLNativeHash([]byte(replUser.Password))); err != nil {
		t.Fatal(err)
	}
	p.CreateAppSchema()
	for _, r := range c.nodes[1:] {
		if err := repl.StartReplica(ctx, r.Admin, p.node(), replUser, nil, repl.ReplicaOptions{}); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
	}
	at, err := repl.Promote(ctx, p.Admin, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.lb = startLB(t, base, c.nodes)
	c.cfg = Config{
		Primary: p.Name, Repl: replUser, PromotedAt: at,
		HAProxySocket: c.lb.socket, WriteBackend: "db-write", ReadBackend: "db-read",
		Heartbeat: 250 * time.Millisecond,
	}
	for _, n := range c.nodes {
		c.cfg.Nodes = append(c.cfg.Nodes, n.node())
	}
	return c
}

func (c *testCluster) node(name string) *testNode {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

// runningController is a Controller running in its goroutine, with what
// its OnChange callbacks saw.
type runningController struct {
	*Controller
	cancel  context.CancelFunc
	done    chan struct{}
	seen    sync.Mutex // guards changes
	changes []Config
	logs    *syncBuffer
}

// runController starts a controller as the agent does, from a config it
// persisted, and stops it when the test ends.
func runController(t testing.TB, cfg Config) *runningController {
	t.Helper()
	logs := &syncBuffer{}
	c, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningController{Controller: c, cancel: cancel, done: make(chan struct{}), logs: logs}
	c.OnChange(func(cfg Config) {
		r.seen.Lock()
		r.changes = append(r.changes, cfg)
		r.seen.Unlock()
	})
	go func() { defer close(r.done); c.Run(ctx) }()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() || testing.Verbose() {
			t.Logf("controller log:\n%s", logs.String())
		}
	})
	return r
}

// stop ends Run and returns the config to persist.
func (r *runningController) stop() Config {
	r.cancel()
	<-r.done
	r.Close()
	return r.Config()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds, or fails the test with what cond
// said last.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spread is min, median and max.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %s, median %s, max %s", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
