// Package haproxytest runs a real HAProxy for tests, in master-worker
// mode as the agent runs it. Only tests import it.
package haproxytest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
)

// RequireProgram finds a program the tests run, also in /usr/sbin, or
// skips the test; in CI (CI=true) a missing program fails it instead.
func RequireProgram(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		path, err = exec.LookPath(filepath.Join("/usr/sbin", name))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI=true, so this fails instead of skipping): %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return path
}

// FreePort returns a loopback port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Master is a running HAProxy master process.
type Master struct {
	// PID is the master's process id; its workers are its children.
	PID int
	// Client talks to the admin socket.
	Client *haproxy.Client
}

// Start runs the HAProxy at bin on cfg in master-worker mode, with its
// output appended to logPath, and waits until the admin socket answers.
// HAProxy stops when the test ends, and shows its log if the test failed.
func Start(t testing.TB, bin, cfg, socket, logPath string) *Master {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := haproxy.MasterWorker(bin, cfg)
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &Master{PID: cmd.Process.Pid, Client: haproxy.NewClient(socket)}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// A hard stop: a soft one (p.StopSignal) would wait for the
		// clients' idle keep-alive connections to time out.
		syscall.Kill(m.PID, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-m.PID, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy's log:\n%s", logTail(logPath, 40))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := m.Client.Info(context.Background()); err == nil {
			return m
		}
		select {
		case <-done:
			t.Fatalf("haproxy exited at start:\n%s", logTail(logPath, 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not answer on %s within 10s:\n%s", socket, logTail(logPath, 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
