package host

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/db"
	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

// initDB makes a new data directory the way the official MariaDB image
// does (install the system tables, start a private server, create the
// database and account, run the schema), but in a staging directory that
// is renamed into place only once everything succeeded. A crash at any
// point leaves at most a staging directory with no app data, which the
// next start discards and redoes.
func (h *Host) initDB(ctx context.Context, st *stack.Stack, pl *payload, name string, progress func(string)) error {
	inst, err := stack.ParseInstance(name)
	if err != nil {
		return err
	}
	if pl.account.PasswordHash == "" {
		return fmt.Errorf("initialising %s needs the app's database password: %w", name, target.ErrSecretUnavailable)
	}
	data := h.env.DataDir(inst.Index)
	staging := data + ".init"
	runDir := filepath.Join(h.layout.Run, name)
	initSock := filepath.Join(runDir, "init.sock")
	initPid := filepath.Join(runDir, "init.pid")
	stopStrayServer(initPid, staging)
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("discard %s: %w", staging, err)
	}
	if err := mkdir(staging, 0o700, h.users.DB); err != nil {
		return err
	}
	if st.DB.Replicas > 0 && inst != pl.primary {
		// A replica starts as a consistent copy of the primary, not empty.
		if err := h.seedReplica(ctx, st, inst, pl.primary, staging, progress); err != nil {
			return err
		}
		if err := os.Rename(staging, data); err != nil {
			return fmt.Errorf("move the new replica into place: %w", err)
		}
		return fsutil.SyncDir(filepath.Dir(data))
	}
	conf := filepath.Join(h.confDir(name, pl.want[name]), "my.cnf")
	logPath := filepath.Join(h.layout.Logs, name+".log")

	progress("installing system tables")
	args := []string{"--defaults-file=" + conf, "--datadir=" + staging, "--skip-test-db"}
	if h.users.Root {
		args = append(args, "--user=mysql", "--auth-root-authentication-method=socket", "--auth-root-socket-user=root")
	} else {
		u, err := db.AdminUser()
		if err != nil {
			return err
		}
		args = append(args, "--auth-root-authentication-method=socket", "--auth-root-socket-user="+u)
	}
	if out, err := exec.CommandContext(ctx, h.programs.Install, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db: %v:\n%s", err, indent(programErrors(string(out))))
	}

	progress("starting a private server")
	srv, err := startPrivateServer(h.programs.MariaDB, conf, staging, initSock, initPid, logPath)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := srv.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	conn, err := db.Admin(initSock)
	if err != nil {
		return err
	}
	defer conn.Close()
	progress("creating database " + st.DB.Database + " and account " + st.DB.User)
	if err := db.Bootstrap(ctx, conn, pl.account); err != nil {
		return err
	}
	if err := h.recordAccount(pl); err != nil {
		return err
	}
	for _, s := range pl.scripts {
		progress("applying " + filepath.Base(s.Path))
		if err := db.Apply(ctx, conn, initSock, st.DB.Database, s); err != nil {
			return err
		}
	}
	conn.Close()
	progress("stopping the private server")
	if err := srv.stop(); err != nil {
		return err
	}
	if err := os.Rename(staging, data); err != nil {
		return fmt.Errorf("move the new database into place: %w", err)
	}
	return fsutil.SyncDir(filepath.Dir(data))
}

// privateServer is a program trio runs for a moment, outside the agent and
// taking no traffic: a mariadbd with networking off to initialise or
// verify, a PHP-FPM pool to check a release. It dies with trio.
type privateServer struct {
	name     string
	cmd      *exec.Cmd
	sock     string
	done     chan struct{}
	err      error
	log      string
	stopSig  syscall.Signal
	stopWait time.Duration
}

// startPrivate starts argv with its output appended to logPath; it is ready
// once it accepts connections on sock, and stopSig asks it to stop.
func startPrivate(name string, argv []string, sock, logPath string, stopSig syscall.Signal, stopWait time.Duration) (*privateServer, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &privateServer{name: name, cmd: cmd, sock: sock, done: make(chan struct{}), log: logPath, stopSig: stopSig, stopWait: stopWait}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	return s, nil
}

// startPrivateServer starts a mariadbd on datadir with networking off.
func startPrivateServer(bin, conf, datadir, sock, pidfile, logPath string) (*privateServer, error) {
	argv := []string{bin, "--defaults-file=" + conf, "--datadir=" + datadir, "--skip-networking", "--socket=" + sock, "--pid-file=" + pidfile}
	// SIGTERM flushes InnoDB; crash recovery of a large one can be slow.
	return startPrivate("mariadbd", argv, sock, logPath, syscall.SIGTERM, 2*time.Minute)
}

func (s *privateServer) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("unix", s.sock, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v); %s says:\n%s", s.name, s.err, s.log, agent.Tail(s.log, 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not open %s within %s; see %s", s.name, s.sock, timeout, s.log)
}

// stop asks the program to stop and, after its wait, kills its group.
func (s *privateServer) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(s.stopSig)
	select {
	case <-s.done:
		return nil
	case <-time.After(s.stopWait):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		return fmt.Errorf("%s did not stop within %s", s.name, s.stopWait)
	}
}

// stopStrayServer ends a private server left by an interrupted init.
func stopStrayServer(pidfile, datadir string) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !bytes.Contains(cmd, []byte("--skip-networking")) || !bytes.Contains(cmd, []byte("--datadir="+datadir+"\x00")) {
		return // the pid is someone else's now
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(pidfile)
}
