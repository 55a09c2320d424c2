// Package dbtest runs real mariadbd servers for tests, as the host target
// runs them: data directories made by mariadb-install-db, and each server
// with its own my.cnf, socket and tmpdir on a free loopback port. The app
// database, its account and a writer of numbered rows stand in for a PHP
// app. Only tests import it.
package dbtest

import (
	"context"
	"database/sql"
	"errors"
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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/trio-stack/trio/internal/db"
)

func init() {
	// The driver logs connections that the tests kill on purpose.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// RequirePrograms skips the test when a program is not installed, except
// in CI (CI=true), where a missing program is a failure: CI never passes
// without having run the test.
func RequirePrograms(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true, so this fails instead of skipping); test.sh installs it", p)
			}
			t.Skipf("%s is not installed", p)
		}
	}
}

// Base returns a new directory for servers that the mysql user can reach:
// t.TempDir makes it and its parent 0700.
func Base(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// Server is one mariadbd under test, in its own directory under a Base.
type Server struct {
	t    testing.TB
	Name string
	Dir  string // holds my.cnf, data/, run/ and tmp/
	// Port is the TCP port on 127.0.0.1. Start moves it when another
	// process took it first.
	Port int
	// Admin is root over the socket while the server runs.
	Admin *sql.DB

	settings map[string]string
	cmd      *exec.Cmd
	done     chan struct{}
}

// NewServer prepares a server's directories and my.cnf: fixed settings,
// then settings, those of its replication role. Install or restore its
// data directory before Start. The server is killed when the test ends.
func NewServer(t testing.TB, base, name string, settings map[string]string) *Server {
	t.Helper()
	s := &Server{t: t, Name: name, Dir: filepath.Join(base, name), settings: settings}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.Port = port
	for _, d := range []string{s.Dir, s.runDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ChownMySQL(t, s.runDir())
	ChownMySQL(t, s.tmpDir())
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) runDir() string { return filepath.Join(s.Dir, "run") }
func (s *Server) tmpDir() string { return filepath.Join(s.Dir, "tmp") }
func (s *Server) cnf() string    { return filepath.Join(s.Dir, "my.cnf") }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return filepath.Join(s.Dir, "data") }

// Socket is the server's unix socket.
func (s *Server) Socket() string { return filepath.Join(s.runDir(), "mysqld.sock") }

func (s *Server) logPath() string { return filepath.Join(s.runDir(), "error.log") }

// LogTail returns the last n lines of the server's error log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// writeConfig renders my.cnf the way the renderer does. Each server has
// its own tmpdir, as the renderer gives it: mariadbd removes every #sql
// file in its tmpdir as it starts, under the feet of a neighbour's
// bootstrap.
func (s *Server) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "[mysqld]\ndatadir = %s\nsocket = %s\nport = %d\nbind-address = 127.0.0.1\npid-file = %s\nlog_error = %s\ntmpdir = %s\n",
		s.DataDir(), s.Socket(), s.Port, filepath.Join(s.runDir(), "mysqld.pid"), s.logPath(), s.tmpDir())
	b.WriteString("skip-name-resolve\ninnodb_buffer_pool_size = 32M\ninnodb_log_file_size = 16M\n")
	for _, k := range slices.Sorted(maps.Keys(s.settings)) {
		fmt.Fprintf(&b, "%s = %s\n", k, s.settings[k])
	}
	return os.WriteFile(s.cnf(), []byte(b.String()), 0o644)
}

// Reconfigure rewrites my.cnf with other role settings, for the next Start.
func (s *Server) Reconfigure(settings map[string]string) {
	s.t.Helper()
	s.settings = settings
	if err := s.writeConfig(); err != nil {
		s.t.Fatal(err)
	}
}

// Install makes an empty data directory the way dbinit.go does.
func (s *Server) Install() {
	s.t.Helper()
	if err := s.install(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) install() error {
	args := []string{"--defaults-file=" + s.cnf(), "--datadir=" + s.DataDir(), "--skip-test-db"}
	u, err := db.AdminUser()
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=mysql")
	}
	args = append(args, "--auth-root-authentication-method=socket", "--auth-root-socket-user="+u)
	if out, err := exec.Command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db %s: %v\n%s\nits log says:\n%s", s.Name, err, out, s.LogTail(20))
	}
	return nil
}

// Start runs mariadbd with its my.cnf, as the agent does, waits until it
// answers and opens Admin.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// InstallAndStart installs and starts servers all at once, as the host
// target initialises a tier's nodes.
func InstallAndStart(t testing.TB, servers ...*Server) {
	t.Helper()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			if errs[i] = s.install(); errs[i] == nil {
				errs[i] = s.start()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// start starts the server. Another test may take the port between
// freePort and mariadbd's bind: then it tries another.
func (s *Server) start() error {
	for try := 0; ; try++ {
		err := s.tryStart()
		if err == nil || try == 3 || !strings.Contains(s.LogTail(20), "Address already in use") {
			return err
		}
		if s.Port, err = freePort(); err != nil {
			return err
		}
		if err := s.writeConfig(); err != nil {
			return err
		}
	}
}

func (s *Server) tryStart() error {
	args := []string{"--defaults-file=" + s.cnf()}
	if os.Geteuid() == 0 {
		args = append(args, "--user=mysql")
	}
	cmd := exec.Command("mariadbd", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %v", s.Name, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("%s exited while starting; its log says:\n%s", s.Name, s.LogTail(20))
		default:
		}
		if c, err := net.DialTimeout("unix", s.Socket(), time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not open its socket; its log says:\n%s", s.Name, s.LogTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	d, err := db.Admin(s.Socket())
	if err != nil {
		return err
	}
	if err := d.Ping(); err != nil {
		d.Close()
		return fmt.Errorf("%s: %v", s.Name, err)
	}
	s.Admin = d
	return nil
}

// Kill ends the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	if s.Admin != nil {
		s.Admin.Close()
		s.Admin = nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Freeze stops the server (SIGSTOP): it hangs, its sockets stay open.
func (s *Server) Freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw lets a frozen server go on.
func (s *Server) Thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Exec runs a statement as root, failing the test if it fails.
func (s *Server) Exec(q string, args ...any) {
	s.t.Helper()
	if _, err := s.Admin.ExecContext(context.Background(), q, args...); err != nil {
		s.t.Fatalf("%s: %s: %v", s.Name, q, err)
	}
}

// CreateAppSchema makes the app database, its account and the table the
// Writer writes to; on a primary, the statements replicate.
func (s *Server) CreateAppSchema() {
	s.t.Helper()
	for _, q := range []string{
		"CREATE DATABASE app",
		"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, at DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB",
		"CREATE USER app@'%' IDENTIFIED BY 'apppw'",
		"GRANT ALL ON app.* TO app@'%'",
	} {
		s.Exec(q)
	}
}

// App opens a connection to the server as the app's account over TCP.
func (s *Server) App() *sql.DB {
	s.t.Helper()
	return AppDB(s.t, s.Port)
}

// AppDB opens a connection pool as the app's account to a port on
// 127.0.0.1, a server's or an HAProxy endpoint's, like a PHP app would: an
// account without READ ONLY ADMIN, so read_only stops it.
func AppDB(t testing.TB, port int) *sql.DB {
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

// freePort returns a loopback port nothing listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ChownMySQL gives a tree to the mysql user when the tests run as root,
// as the caller of Seed and Restore does before starting mariadbd.
func ChownMySQL(t testing.TB, root string) {
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
