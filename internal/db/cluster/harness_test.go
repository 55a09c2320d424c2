package cluster

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/trio-stack/trio/internal/db"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/haproxy"
	"github.com/trio-stack/trio/internal/secrets"
)

// The harness runs real mariadbd processes on loopback ports, as the host
// target does (data directories made by mariadb-install-db, each node's
// own my.cnf and socket, every node rendered as a replica the way
// render.ReplicationSettings does), and a real HAProxy in master-worker
// mode with a write and a read backend in front of them. The test plays
// the agent: it starts and kills the processes.

func init() {
	// The driver logs connections that the tests kill on purpose.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

var replUser = repl.Credentials{User: "repl", Password: "replpw"}

// requirePrograms skips the test when MariaDB or HAProxy is missing,
// except in CI, where that is a failure.
func requirePrograms(t testing.TB) {
	t.Helper()
	for _, p := range []string{"mariadbd", "mariadb-install-db", "haproxy"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true, so this fails instead of skipping); test.sh installs mariadb-server and haproxy", p)
			}
			t.Skipf("%s is not installed", p)
		}
	}
}

// testNode is one mariadbd under test.
type testNode struct {
	t        testing.TB
	name     string
	dir      string // holds data/ and run/
	port     int
	serverID uint32
	// link is the socket path the controller is given: a symlink to the
	// real socket, which a test removes to cut the controller off.
	link  string
	cmd   *exec.Cmd
	done  chan struct{}
	admin *sql.DB
}

func (s *testNode) datadir() string { return filepath.Join(s.dir, "data") }
func (s *testNode) socket() string  { return filepath.Join(s.dir, "run", "mysqld.sock") }
func (s *testNode) logPath() string { return filepath.Join(s.dir, "run", "error.log") }
func (s *testNode) cnf() string     { return filepath.Join(s.dir, "my.cnf") }

// node is how the controller sees the server.
func (s *testNode) node() repl.Node {
	return repl.Node{Name: s.name, Socket: s.link, Host: "127.0.0.1", Port: s.port}
}

// testBase is a directory the mysql user can reach: t.TempDir makes it
// and its parent 0700.
func testBase(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func newNode(t testing.TB, base, name string, serverID uint32) *testNode {
	t.Helper()
	s := &testNode{t: t, name: name, dir: filepath.Join(base, name), port: freePort(t), serverID: serverID}
	s.link = filepath.Join(base, name+".sock")
	for _, d := range []string{s.dir, filepath.Join(s.dir, "run"), filepath.Join(s.dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownMySQL(t, filepath.Join(s.dir, "run"))
	chownMySQL(t, filepath.Join(s.dir, "tmp"))
	s.writeConfig()
	if err := os.Symlink(s.socket(), s.link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

// writeConfig renders my.cnf: fixed settings, then the replication
// settings every node of a replicated tier gets. Each node has its own
// tmpdir, as the renderer gives it: mariadbd removes every #sql file in
// its tmpdir as it starts, under the feet of a neighbour's bootstrap.
func (s *testNode) writeConfig() {
	var b strings.Builder
	fmt.Fprintf(&b, "[mysqld]\ndatadir = %s\nsocket = %s\nport = %d\nbind-address = 127.0.0.1\npid-file = %s\nlog_error = %s\ntmpdir = %s\n",
		s.datadir(), s.socket(), s.port, filepath.Join(s.dir, "run", "mysqld.pid"), s.logPath(), filepath.Join(s.dir, "tmp"))
	b.WriteString("skip-name-resolve\ninnodb_buffer_pool_size = 32M\ninnodb_log_file_size = 16M\n")
	settings := repl.Settings(repl.Replica, s.serverID, repl.SettingsOptions{})
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	if err := os.WriteFile(s.cnf(), []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// install makes an empty data directory the way dbinit.go does.
func (s *testNode) install() error {
	args := []string{"--defaults-file=" + s.cnf(), "--datadir=" + s.datadir(), "--skip-test-db"}
	u, err := db.AdminUser()
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=mysql")
	}
	args = append(args, "--auth-root-authentication-method=socket", "--auth-root-socket-user="+u)
	if out, err := exec.Command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db %s: %v\n%s\nits log says:\n%s", s.name, err, out, tail(s.logPath(), 20))
	}
	return nil
}

// start runs mariadbd with its my.cnf, as the agent does after a crash,
// and waits until it answers.
func (s *testNode) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *testNode) tryStart() error {
	args := []string{"--defaults-file=" + s.cnf()}
	if os.Geteuid() == 0 {
		args = append(args, "--user=mysql")
	}
	cmd := exec.Command("mariadbd", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %v", s.name, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("%s exited while starting; its log says:\n%s", s.name, tail(s.logPath(), 20))
		default:
		}
		if c, err := net.DialTimeout("unix", s.socket(), time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not open its socket; its log says:\n%s", s.name, tail(s.logPath(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	d, err := db.Admin(s.socket())
	if err != nil {
		return err
	}
	if err := d.Ping(); err != nil {
		d.Close()
		return fmt.Errorf("%s: %v", s.name, err)
	}
	s.admin = d
	return nil
}

// kill ends the server with SIGKILL, as a crash would.
func (s *testNode) kill() {
	if s.cmd == nil {
		return
	}
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// freeze stops the server (SIGSTOP): it hangs, its sockets stay open.
func (s *testNode) freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// thaw lets a frozen server go on.
func (s *testNode) thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *testNode) exec(q string, args ...any) {
	s.t.Helper()
	if _, err := s.admin.ExecContext(context.Background(), q, args...); err != nil {
		s.t.Fatalf("%s: %s: %v", s.name, q, err)
	}
}

func (s *testNode) status() repl.NodeStatus {
	s.t.Helper()
	st, err := repl.Status(context.Background(), s.admin)
	if err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
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
	conn, err := s.admin.Conn(ctx)
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
	if err := os.Symlink(s.socket(), s.link); err != nil {
		s.t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// chownMySQL gives a tree to the mysql user when the tests run as root.
func chownMySQL(t testing.TB, root string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testLB is a real HAProxy with the db endpoints as trio renders them:
// every node a server of both backends, checked every second.
type testLB struct {
	t         testing.TB
	dir       string
	socket    string
	writePort int
	readPort  int
	cmd       *exec.Cmd
	done      chan struct{}
	client    *haproxy.Client
}

// startLB starts HAProxy in front of nodes. Every server starts enabled
// in the write backend, so that the controller must set the endpoints
// right before anything else.
func startLB(t testing.TB, base string, nodes []*testNode) *testLB {
	t.Helper()
	l := &testLB{t: t, dir: filepath.Join(base, "lb"), writePort: freePort(t), readPort: freePort(t)}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.socket = filepath.Join(l.dir, "admin.sock")
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
		fmt.Fprintf(&b, "    server %s 127.0.0.1:%d check\n", n.name, n.port)
	}
	fmt.Fprintf(&b, "\nlisten db-read\n    bind 127.0.0.1:%d\n    balance leastconn\n", l.readPort)
	for i, n := range nodes {
		backup := ""
		if i == 0 {
			backup = " backup"
		}
		fmt.Fprintf(&b, "    server %s 127.0.0.1:%d check%s\n", n.name, n.port, backup)
	}
	cfg := filepath.Join(l.dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(l.dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("haproxy", "-W", "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.cmd, l.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(l.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-l.done
		}
	})
	l.client = haproxy.NewClient(l.socket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := l.client.Info(context.Background()); err == nil {
			return l
		}
		select {
		case <-l.done:
			t.Fatalf("haproxy exited:\n%s", tail(filepath.Join(l.dir, "haproxy.log"), 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not answer on %s:\n%s", l.socket, tail(filepath.Join(l.dir, "haproxy.log"), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// app opens a connection pool as the application's account through an
// HAProxy endpoint, like a PHP app would: an account without READ ONLY
// ADMIN, so read_only stops it.
func appDB(t testing.TB, port int) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = "app", "apppw"
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.DBName = "app"
	cfg.Timeout = 2 * time.Second
	cfg.ReadTimeout = 20 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := sql.OpenDB(conn)
	d.SetMaxOpenConns(1)
	t.Cleanup(func() { d.Close() })
	return d
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
	base := testBase(t)
	c := &testCluster{t: t, base: base}
	for i := range 3 {
		c.nodes = append(c.nodes, newNode(t, base, fmt.Sprintf("db-%d", i), uint32(i+1)))
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			if errs[i] = n.install(); errs[i] == nil {
				errs[i] = n.tryStart()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	p := c.nodes[0]
	if err := repl.EnsureReplicationUser(ctx, p.admin, replUser.User, secrets.MySQLNativeHash([]byte(replUser.Password))); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE DATABASE app",
		"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, at DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB",
		"CREATE USER app@'%' IDENTIFIED BY 'apppw'",
		"GRANT ALL ON app.* TO app@'%'",
	} {
		p.exec(q)
	}
	for _, r := range c.nodes[1:] {
		if err := repl.StartReplica(ctx, r.admin, p.node(), replUser, nil, repl.ReplicaOptions{}); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
	at, err := repl.Promote(ctx, p.admin, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.lb = startLB(t, base, c.nodes)
	c.cfg = Config{
		Primary: p.name, Repl: replUser, PromotedAt: at,
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
		if n.name == name {
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
