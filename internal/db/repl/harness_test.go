package repl

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/trio-stack/trio/internal/db"
)

// The harness runs real mariadbd processes on loopback ports, as the host
// target does: data directories made by mariadb-install-db with the
// node's own my.cnf, one socket per node.

func init() {
	// The driver logs connections that the tests kill on purpose.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// requirePrograms skips the test when MariaDB is not installed, except in
// CI, where a missing program is a failure.
func requirePrograms(t testing.TB) {
	t.Helper()
	for _, p := range []string{"mariadbd", "mariadb-install-db", "mariadb-backup", "mariadb-dump", "mariadb"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; test.sh installs mariadb-server, mariadb-client and mariadb-backup", p)
			}
			t.Skipf("%s is not installed", p)
		}
	}
}

// testServer is one mariadbd under test.
type testServer struct {
	t        testing.TB
	name     string
	dir      string // holds data/ and run/
	port     int
	serverID uint32
	role     Role
	opts     SettingsOptions
	cmd      *exec.Cmd
	done     chan struct{}
	admin    *sql.DB
}

func (s *testServer) datadir() string { return filepath.Join(s.dir, "data") }
func (s *testServer) socket() string  { return filepath.Join(s.dir, "run", "mysqld.sock") }
func (s *testServer) logPath() string { return filepath.Join(s.dir, "run", "error.log") }
func (s *testServer) cnf() string     { return filepath.Join(s.dir, "my.cnf") }

// node is how the package under test sees the server.
func (s *testServer) node() Node {
	return Node{Name: s.name, Socket: s.socket(), Host: "127.0.0.1", Port: s.port}
}

func (s *testServer) member() Member { return Member{Node: s.node(), DB: s.admin} }

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

// newServer prepares a node's directories and my.cnf; install or seed its
// data directory before start.
func newServer(t testing.TB, base, name string, serverID uint32, role Role, opts SettingsOptions) *testServer {
	t.Helper()
	s := &testServer{t: t, name: name, dir: filepath.Join(base, name), port: freePort(t), serverID: serverID, role: role, opts: opts}
	for _, d := range []string{s.dir, filepath.Join(s.dir, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownMySQL(t, filepath.Join(s.dir, "run"))
	s.writeConfig()
	t.Cleanup(s.kill)
	return s
}

// writeConfig renders my.cnf the way the renderer will: fixed settings,
// then Settings for the node's role.
func (s *testServer) writeConfig() {
	var b strings.Builder
	fmt.Fprintf(&b, "[mysqld]\ndatadir = %s\nsocket = %s\nport = %d\nbind-address = 127.0.0.1\npid-file = %s\nlog_error = %s\n",
		s.datadir(), s.socket(), s.port, filepath.Join(s.dir, "run", "mysqld.pid"), s.logPath())
	b.WriteString("skip-name-resolve\ninnodb_buffer_pool_size = 32M\ninnodb_log_file_size = 16M\n")
	settings := Settings(s.role, s.serverID, s.opts)
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	if err := os.WriteFile(s.cnf(), []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// install makes an empty data directory the way dbinit.go does.
func (s *testServer) install() {
	s.t.Helper()
	args := []string{"--defaults-file=" + s.cnf(), "--datadir=" + s.datadir(), "--skip-test-db"}
	u, err := db.AdminUser()
	if err != nil {
		s.t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=mysql")
	}
	args = append(args, "--auth-root-authentication-method=socket", "--auth-root-socket-user="+u)
	if out, err := exec.Command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("mariadb-install-db %s: %v\n%s", s.name, err, out)
	}
}

// start runs mariadbd and waits until it answers. Another test may take
// the port between freePort and mariadbd's bind: then it tries another.
func (s *testServer) start() {
	s.t.Helper()
	for try := 0; ; try++ {
		err := s.tryStart()
		if err == nil {
			break
		}
		if try < 3 && strings.Contains(tail(s.logPath(), 20), "Address already in use") {
			s.port = freePort(s.t)
			s.writeConfig()
			continue
		}
		s.t.Fatal(err)
	}
	d, err := db.Admin(s.socket())
	if err != nil {
		s.t.Fatal(err)
	}
	if err := d.Ping(); err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
	s.admin = d
}

func (s *testServer) tryStart() error {
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
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not open its socket; its log says:\n%s", s.name, tail(s.logPath(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL, as a crash would.
func (s *testServer) kill() { s.signal(syscall.SIGKILL) }

// stop shuts the server down cleanly.
func (s *testServer) stop() { s.signal(syscall.SIGTERM) }

func (s *testServer) signal(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// restart starts the server again as role (a changed my.cnf).
func (s *testServer) restart(role Role) {
	s.t.Helper()
	s.role = role
	s.writeConfig()
	s.start()
}

// app opens a connection as the application's account over TCP, like a
// PHP app would: an account without READ ONLY ADMIN, so read_only stops it.
func (s *testServer) app() *sql.DB {
	s.t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = "app", "apppw"
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	cfg.DBName = "app"
	cfg.Timeout = 2 * time.Second
	cfg.ReadTimeout = 20 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	d := sql.OpenDB(conn)
	d.SetMaxOpenConns(1)
	s.t.Cleanup(func() { d.Close() })
	return d
}

func (s *testServer) exec(q string, args ...any) {
	s.t.Helper()
	if _, err := s.admin.ExecContext(context.Background(), q, args...); err != nil {
		s.t.Fatalf("%s: %s: %v", s.name, q, err)
	}
}

func (s *testServer) status() NodeStatus {
	s.t.Helper()
	st, err := Status(context.Background(), s.admin)
	if err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
	return st
}

func (s *testServer) checksums() map[string]int64 {
	s.t.Helper()
	m, err := TableChecksums(context.Background(), s.admin, "app")
	if err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
	return m
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

// chownMySQL gives a tree to the mysql user when the tests run as root,
// as the caller of Seed and Restore does before starting mariadbd.
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

// createSchema makes the app database, its account and a table on the
// primary; the statements replicate.
func createSchema(t testing.TB, p *testServer) {
	t.Helper()
	for _, q := range []string{
		"CREATE DATABASE app",
		"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, at DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB",
		"CREATE USER app@'%' IDENTIFIED BY 'apppw'",
		"GRANT ALL ON app.* TO app@'%'",
	} {
		p.exec(q)
	}
}
