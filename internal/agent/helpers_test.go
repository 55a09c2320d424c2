package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shortDir is a temporary directory with a short path: unix socket paths
// are limited to 108 bytes, and t.TempDir's carry the test's name.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "trio-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runningAgent is an Agent serving its socket from a goroutine.
type runningAgent struct {
	*Agent
	client *Client
	cancel context.CancelFunc
	done   chan error // receives Run's result
}

// startAgent runs an agent on runDir until the test ends, then stops every
// process it supervises.
func startAgent(t testing.TB, runDir string) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: New(runDir, "test", testLog(t)), client: NewClient(runDir), cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- ra.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ra.done:
		case <-time.After(10 * time.Second):
			t.Errorf("agent on %s did not end", runDir)
		}
		// An agent whose Run has ended still watches its processes from
		// this test binary; stop them so that none outlives the test.
		ra.stopAll(context.Background())
	})
	waitFor(t, 5*time.Second, "agent socket", func() bool {
		_, err := ra.client.Ping(context.Background())
		return err == nil
	})
	return ra
}

// wait waits for Run to return.
func (ra *runningAgent) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-ra.done:
		ra.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not end")
		return nil
	}
}

// startHelperAgent runs an agent in a process of its own, as `trio agent`
// does, and returns it once it answers.
func startHelperAgent(t testing.TB, runDir string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(runDir, "helper-agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(self, runDir)
	cmd.Env = append(os.Environ(), "TRIO_AGENT_HELPER=agent")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	c := NewClient(runDir)
	waitFor(t, 10*time.Second, "helper agent", func() bool {
		_, err := c.Ping(context.Background())
		return err == nil
	})
	return cmd
}

// listenSpec runs the listen helper (see TestMain) as instance name, ready
// once it accepts connections on dir/name.sock.
func listenSpec(t testing.TB, dir, name string, env ...string) Spec {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, name+".sock")
	return Spec{
		Name: name, Tier: strings.Split(name, "-")[0],
		Path: self, Args: []string{sock},
		Env:          append([]string{"TRIO_AGENT_HELPER=listen", "HELPER_NAME=" + name}, env...),
		Dir:          dir,
		Log:          filepath.Join(dir, name+".log"),
		Ready:        Check{Network: "unix", Address: sock},
		ReloadSignal: "HUP",
		StopSignal:   "QUIT",
		StopTimeout:  Duration(5 * time.Second),
		ReadyTimeout: Duration(15 * time.Second),
	}
}

// shSpec runs a shell script as instance name, with no ready check.
func shSpec(dir, name, script string) Spec {
	return Spec{
		Name: name, Tier: strings.Split(name, "-")[0],
		Path: "/bin/sh", Args: []string{"-c", script},
		Dir:          dir,
		Log:          filepath.Join(dir, name+".log"),
		StopSignal:   "TERM",
		StopTimeout:  Duration(2 * time.Second),
		ReadyTimeout: Duration(10 * time.Second),
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether pid has ended: no such process, or a zombie that
// nobody reaped (in a container, PID 1 may not reap orphans).
func gone(pid int) bool {
	info, err := readProc(pid)
	return err != nil || info.State == 'Z' || info.State == 'X'
}

func waitGone(t testing.TB, pid int, what string) {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("%s (pid %d) to end", what, pid), func() bool { return gone(pid) })
}

// killOnCleanup kills pid's process group when the test ends, in case the
// test failed before the agent could.
func killOnCleanup(t testing.TB, pid int) {
	t.Helper()
	t.Cleanup(func() {
		if pid > 1 && !gone(pid) {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// statusOf asks the agent for one instance.
func statusOf(t testing.TB, c *Client, name string) ServiceStatus {
	t.Helper()
	st, ok := lookup(t, c, name)
	if !ok {
		t.Fatalf("status lists no %s", name)
	}
	return st
}

func lookup(t testing.TB, c *Client, name string) (ServiceStatus, bool) {
	t.Helper()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	for _, s := range st.Services {
		if s.Name == name {
			return s, true
		}
	}
	return ServiceStatus{}, false
}

// waitStatus waits until the agent reports instance name in a state that
// satisfies cond, and returns that status.
func waitStatus(t testing.TB, c *Client, name, what string, cond func(ServiceStatus) bool) ServiceStatus {
	t.Helper()
	var st ServiceStatus
	waitFor(t, 10*time.Second, name+" "+what, func() bool {
		var ok bool
		st, ok = lookup(t, c, name)
		return ok && cond(st)
	})
	return st
}

func ensure(t testing.TB, c *Client, spec Spec) ServiceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.Ensure(ctx, spec)
	if err != nil {
		t.Fatalf("ensure %s: %v", spec.Name, err)
	}
	return st
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// workerPID is the listen helper's current worker.
func workerPID(t testing.TB, spec Spec) int {
	t.Helper()
	var pid int
	waitFor(t, 5*time.Second, spec.Name+"'s worker", func() bool {
		_, err := fmt.Sscan(readFile(t, workerFile(spec.Ready.Address)), &pid)
		return err == nil && pid > 0
	})
	return pid
}
