package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trio-stack/trio/internal/procfs"
)

// State is where an instance is in its life.
type State int

// The states an instance can be in.
const (
	StateStopped   State = 1
	StateStarting  State = 2 // running, not yet ready
	StateRunning   State = 3 // running and ready
	StateBackoff   State = 4 // crashed; waiting before the next start
	StateCrashLoop State = 5 // crashed too often; still retrying, slowly
	StateStopping  State = 6
)

func (s State) String() string {
	switch s {
	case StateStopped:
		return "stopped"
	case StateStarting:
		return "starting"
	case StateRunning:
		return "running"
	case StateBackoff:
		return "restarting"
	case StateCrashLoop:
		return "crash-loop"
	case StateStopping:
		return "stopping"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Crash-loop policy: restarts back off exponentially up to maxBackoff; this
// many crashes within crashWindow is reported as a crash loop.
const (
	firstBackoff   = 250 * time.Millisecond
	maxBackoff     = 30 * time.Second
	crashWindow    = time.Minute
	crashLoopAfter = 5
)

// process is one run of a program.
type process struct {
	pid     int
	start   uint64
	adopted bool
	done    chan struct{} // closed when the process has ended
	exit    string        // how it ended, once done is closed
}

// service supervises one instance.
type service struct {
	log *slog.Logger
	// onChange persists the agent's snapshot; it reads every service, so it
	// must never be called with mu held.
	onChange func()
	// active reports whether the agent still runs; an agent that has
	// returned from Run leaves its processes to the next one.
	active func() bool

	mu        sync.Mutex
	spec      Spec
	want      bool // should be running
	state     State
	proc      *process
	startedAt time.Time
	restarts  int
	crashes   []time.Time
	lastExit  string
	retry     *time.Timer
	healthy   bool
}

func newService(spec Spec, log *slog.Logger, onChange func(), active func() bool) *service {
	return &service{spec: spec, log: log.With("instance", spec.Name), onChange: onChange, active: active, state: StateStopped}
}

// launch starts the program. s.mu must be held.
func (s *service) launch() error {
	spec := s.spec
	logf, err := os.OpenFile(spec.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", spec.Name, err)
	}
	defer logf.Close()
	for _, sock := range spec.Sockets {
		if fi, err := os.Lstat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(sock)
		}
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// A process group of its own: signals to the agent do not reach it, and
	// the whole group can be cleaned up when its leader dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	if info, err := readProc(p.pid); err == nil {
		p.start = info.Start
	}
	s.proc, s.startedAt, s.state, s.healthy = p, time.Now(), StateStarting, false
	s.log.Info("started", "pid", p.pid)
	go func() {
		err := cmd.Wait()
		p.exit = describeExit(err)
		close(p.done)
		s.exited(p)
	}()
	return nil
}

// adopt takes over a process a previous agent started.
func (s *service) adopt(pid int, start uint64) {
	p := &process{pid: pid, start: start, adopted: true, done: make(chan struct{})}
	s.proc, s.state, s.want = p, StateRunning, true
	s.startedAt = startedAt(start)
	s.log.Info("adopted", "pid", pid)
	go func() {
		if err := waitExit(pid); err != nil {
			s.log.Warn("watching adopted process failed; polling instead", "pid", pid, "error", err)
			for alive(pid, start) {
				time.Sleep(500 * time.Millisecond)
			}
		}
		p.exit = "exited (started by an earlier agent, so its status is unknown)"
		close(p.done)
		s.exited(p)
	}()
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exited with status 0"
}

// exited runs when a process ends, wanted or not.
func (s *service) exited(p *process) {
	if !s.active() {
		// The agent has ended: note the exit, restart nothing.
		s.mu.Lock()
		if s.proc == p {
			s.proc, s.state, s.lastExit = nil, StateStopped, p.exit
		}
		s.mu.Unlock()
		return
	}
	// Workers orphaned by a dead master would keep the port.
	killGroup(p.pid, syscall.SIGKILL)
	if s.noteExit(p) {
		s.onChange()
	}
}

// noteExit records an exit and schedules the restart of a crash; it
// reports whether anything changed.
func (s *service) noteExit(p *process) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != p {
		return false
	}
	s.proc = nil
	s.lastExit = p.exit
	if !s.want {
		s.state = StateStopped
		s.log.Info("stopped", "pid", p.pid)
		return true
	}
	now := time.Now()
	recent := s.crashes[:0]
	for _, t := range s.crashes {
		if now.Sub(t) < crashWindow {
			recent = append(recent, t)
		}
	}
	s.crashes = append(recent, now)
	s.restarts++
	delay := min(maxBackoff, firstBackoff<<(len(s.crashes)-1))
	s.state = StateBackoff
	if len(s.crashes) >= crashLoopAfter {
		s.state = StateCrashLoop
	}
	s.log.Warn("crashed; restarting", "pid", p.pid, "exit", p.exit, "in", delay, "crashes_last_minute", len(s.crashes))
	s.scheduleRestart(delay)
	return true
}

// scheduleRestart starts the program again after delay. s.mu must be held.
func (s *service) scheduleRestart(delay time.Duration) {
	if s.retry != nil {
		s.retry.Stop()
	}
	s.retry = time.AfterFunc(delay, func() {
		s.mu.Lock()
		if !s.want || s.proc != nil || !s.active() {
			s.mu.Unlock()
			return
		}
		if err := s.launch(); err != nil {
			s.lastExit = err.Error()
			s.log.Error("restart failed", "error", err)
			s.scheduleRestart(maxBackoff)
		}
		p := s.proc
		s.mu.Unlock()
		s.onChange()
		if p != nil {
			// Mark it running as soon as it is ready, not at the next tick.
			go s.waitReady(context.Background(), p)
		}
	})
}

// ensure makes the instance run with spec, restarting it when the spec
// changed, and waits until it is ready.
func (s *service) ensure(ctx context.Context, spec Spec) error {
	s.mu.Lock()
	changed := spec.Hash() != s.spec.Hash()
	old := s.proc
	s.want = true
	s.mu.Unlock()
	if old != nil && changed {
		// The old process stops the way its own spec says.
		s.log.Info("spec changed; restarting")
		if err := s.halt(ctx, old); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.spec = spec
	if s.proc == nil {
		if s.retry != nil {
			s.retry.Stop()
		}
		if err := s.launch(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	p := s.proc
	s.mu.Unlock()
	s.onChange()
	return s.waitReady(ctx, p)
}

// waitReady polls the ready check until it passes, the process dies or
// the spec's timeout ends.
func (s *service) waitReady(ctx context.Context, p *process) error {
	s.mu.Lock()
	spec, lastExit := s.spec, s.lastExit
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s is not running (%s); its log %s says:\n%s", spec.Name, lastExit, spec.Log, Tail(spec.Log, 15))
	}
	ctx, cancel := context.WithTimeout(ctx, spec.ReadyTimeout.Or(30*time.Second))
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		err := spec.Ready.Probe(ctx)
		if err == nil {
			s.mu.Lock()
			if s.proc == p {
				s.state, s.healthy = StateRunning, true
			}
			s.mu.Unlock()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s %s while starting; its log %s says:\n%s", spec.Name, p.exit, spec.Log, Tail(spec.Log, 15))
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready (%s: %v) within %s; its log %s says:\n%s", spec.Name, spec.Ready, err, spec.ReadyTimeout.Or(30*time.Second), spec.Log, Tail(spec.Log, 15))
		case <-tick.C:
		}
	}
}

// stop ends the instance gracefully and keeps it down.
func (s *service) stop(ctx context.Context) error {
	s.mu.Lock()
	s.want = false
	if s.retry != nil {
		s.retry.Stop()
	}
	p := s.proc
	if p == nil {
		s.state = StateStopped
	}
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return s.halt(ctx, p)
}

// halt ends one process: the graceful signal, then SIGKILL to its group.
func (s *service) halt(ctx context.Context, p *process) error {
	s.mu.Lock()
	spec := s.spec
	if s.proc == p {
		s.state = StateStopping
	}
	// While halting, the exit is expected: do not treat it as a crash.
	want := s.want
	s.want = false
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.want = want || s.want
		s.mu.Unlock()
	}()
	sig, err := spec.StopSignal.Sys()
	if err != nil {
		sig = syscall.SIGTERM
	}
	_ = syscall.Kill(p.pid, sig)
	timer := time.NewTimer(spec.StopTimeout.Or(30 * time.Second))
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		// Only the program's own stop timeout escalates: a client that
		// gave up must not turn MariaDB's flush into a SIGKILL.
		s.log.Warn("did not stop in time; killing", "pid", p.pid)
		killGroup(p.pid, syscall.SIGKILL)
		<-p.done
	}
	// exited() runs in the waiter goroutine; wait until it has cleared proc.
	for i := 0; i < 200; i++ {
		s.mu.Lock()
		cleared := s.proc != p
		s.mu.Unlock()
		if cleared {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// restart stops the instance and starts it again.
func (s *service) restart(ctx context.Context) error {
	s.mu.Lock()
	p, spec := s.proc, s.spec
	s.mu.Unlock()
	if p != nil {
		if err := s.halt(ctx, p); err != nil {
			return err
		}
	}
	return s.ensure(ctx, spec)
}

// reload sends the reload signal and waits for proof that the program
// acted on it: a new generation of worker processes, then readiness.
func (s *service) reload(ctx context.Context) error {
	s.mu.Lock()
	p, spec := s.proc, s.spec
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s is not running; start it with `trio up`", spec.Name)
	}
	if spec.ReloadSignal == "" {
		return s.restart(ctx)
	}
	sig, err := spec.ReloadSignal.Sys()
	if err != nil {
		return err
	}
	// A master that is still re-executing from the last reload would lose
	// the signal; wait until it takes it again.
	// A program that never handles it is signalled anyway after a while,
	// and the missing new generation below reports the failure.
	waitCtx, cancelWait := context.WithTimeout(ctx, 3*time.Second)
	if err := procfs.WaitSignalReady(waitCtx, p.pid, sig); err != nil {
		s.log.Warn("process does not handle the reload signal yet; sending it anyway", "pid", p.pid, "error", err)
	}
	cancelWait()
	before := children(p.pid)
	if err := syscall.Kill(p.pid, sig); err != nil {
		return fmt.Errorf("signal %s: %w", spec.Name, err)
	}
	s.log.Info("reloading", "pid", p.pid, "signal", string(spec.ReloadSignal))
	ctx, cancel := context.WithTimeout(ctx, spec.ReadyTimeout.Or(30*time.Second))
	defer cancel()
	for {
		for c := range children(p.pid) {
			if !before[c] {
				if err := s.waitReady(ctx, p); err != nil {
					return err
				}
				s.waitRetired(p.pid, before)
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s %s during reload; its log %s says:\n%s", spec.Name, p.exit, spec.Log, Tail(spec.Log, 15))
		case <-ctx.Done():
			return fmt.Errorf("%s did not start new workers after %s; the reload may have been refused, see %s:\n%s", spec.Name, spec.ReloadSignal, spec.Log, Tail(spec.Log, 15))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitRetired waits a little for the previous generation of workers to
// finish, so that once a reload returns every new connection meets the new
// config. Workers still busy with long requests are left to finish alone.
func (s *service) waitRetired(pid int, old map[int]bool) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		left := false
		for c := range children(pid) {
			if old[c] {
				left = true
				break
			}
		}
		if !left {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.log.Info("old workers still finishing requests after reload", "pid", pid)
}

// check runs the ready probe for the status display.
func (s *service) check(ctx context.Context) {
	s.mu.Lock()
	p, spec := s.proc, s.spec
	s.mu.Unlock()
	if p == nil {
		return
	}
	err := spec.Ready.Probe(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == p {
		s.healthy = err == nil
		if err == nil && s.state == StateStarting {
			s.state = StateRunning
		}
	}
}

// ServiceStatus is one instance as the agent sees it.
type ServiceStatus struct {
	Name     string    `json:"name"`
	Tier     string    `json:"tier"`
	State    string    `json:"state"`
	Healthy  bool      `json:"healthy"`
	PID      int       `json:"pid,omitempty"`
	Adopted  bool      `json:"adopted,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Restarts int       `json:"restarts"`
	LastExit string    `json:"last_exit,omitempty"`
	SpecHash string    `json:"spec_hash"`
	Want     bool      `json:"want"`
	LogTail  string    `json:"log_tail,omitempty"`
}

func (s *service) status() ServiceStatus {
	st := s.statusLocked()
	if st.LogTail != "" {
		st.LogTail = Tail(st.LogTail, 10)
	}
	return st
}

func (s *service) statusLocked() ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServiceStatus{
		Name: s.spec.Name, Tier: s.spec.Tier, State: s.state.String(), Healthy: s.healthy && s.proc != nil,
		Restarts: s.restarts, LastExit: s.lastExit, SpecHash: s.spec.Hash(), Want: s.want,
	}
	if s.proc != nil {
		st.PID, st.Adopted, st.Since = s.proc.pid, s.proc.adopted, s.startedAt
	}
	if s.crashLooping() {
		st.State = StateCrashLoop.String()
		st.LogTail = s.spec.Log // read outside the lock, below
	}
	return st
}

// crashLooping reports whether the program crashed too often lately; it
// stays reported while it restarts in between, until a run is healthy.
// s.mu must be held.
func (s *service) crashLooping() bool {
	if s.proc != nil && s.healthy {
		return false
	}
	n := 0
	for _, t := range s.crashes {
		if time.Since(t) < crashWindow {
			n++
		}
	}
	return n >= crashLoopAfter
}

// Tail returns the last n lines of a log file, for error messages.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	const window = 16 << 10
	off := max(0, fi.Size()-window)
	buf := make([]byte, fi.Size()-off)
	n2, _ := f.ReadAt(buf, off)
	lines := strings.Split(strings.TrimRight(string(buf[:n2]), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}
