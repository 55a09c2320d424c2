package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trio-stack/trio/internal/db/cluster"

	"golang.org/x/sys/unix"

	"github.com/trio-stack/trio/internal/fsutil"
)

// Files the agent keeps in the stack's run directory.
const (
	SocketName   = "agent.sock"
	snapshotName = "agent.json"
	lockName     = "agent.lock"
)

// ErrRunning means another agent already serves this stack.
var ErrRunning = errors.New("an agent is already running for this stack")

// Agent is the daemon of one stack.
type Agent struct {
	runDir  string
	version string
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex
	services map[string]*service
	order    []string // start order: the order specs first arrived
	ops      map[string]*sync.Mutex

	saveMu sync.Mutex
	stop   chan bool // true: stop the services before exiting
	done   atomic.Bool
	// restored is closed once the snapshot's processes are adopted and
	// the dead ones started again; requests that change things wait.
	restored chan struct{}

	db   dbCluster // the database failover controller, when there are replicas
	jobs jobs      // scheduled commands, such as backups
}

// New makes an agent for the stack whose run directory is runDir.
func New(runDir, version string, log *slog.Logger) *Agent {
	return &Agent{
		runDir: runDir, version: version, log: log, started: time.Now(),
		services: map[string]*service{}, ops: map[string]*sync.Mutex{},
		stop: make(chan bool, 1), restored: make(chan struct{}),
	}
}

// snapshot is what the agent writes after every change, so that a new
// agent knows what to supervise and which processes to adopt.
type snapshot struct {
	Version  string          `json:"version"`
	Services []snapshotEntry `json:"services"`
	// DB is the failover controller's config: who is primary, since when.
	DB   *cluster.Config `json:"db,omitempty"`
	Jobs []Job           `json:"jobs,omitempty"`
}

type snapshotEntry struct {
	Spec  Spec   `json:"spec"`
	Want  bool   `json:"want"`
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"` // /proc start time: pid reuse cannot fool adoption
}

func (a *Agent) save() {
	if a.done.Load() {
		return
	}
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	snap := snapshot{Version: a.version, DB: a.clusterConfig(), Jobs: a.jobList()}
	for _, s := range a.list() {
		s.mu.Lock()
		e := snapshotEntry{Spec: s.spec, Want: s.want}
		if s.proc != nil {
			e.PID, e.Start = s.proc.pid, s.proc.start
		}
		s.mu.Unlock()
		snap.Services = append(snap.Services, e)
	}
	b, _ := json.MarshalIndent(snap, "", "  ")
	if err := fsutil.WriteFileAtomic(filepath.Join(a.runDir, snapshotName), b, 0o600); err != nil {
		a.log.Error("save snapshot", "error", err)
	}
}

func (a *Agent) list() []*service {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*service, 0, len(a.order))
	for _, n := range a.order {
		out = append(out, a.services[n])
	}
	return out
}

// restore reads the snapshot and adopts the live processes; it returns
// the wanted ones that died while no agent watched, to start again once
// the agent serves.
func (a *Agent) restore(ctx context.Context) ([]*service, *snapshot, error) {
	b, err := os.ReadFile(filepath.Join(a.runDir, snapshotName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, nil, fmt.Errorf("read snapshot %s: %w; move it aside to start from scratch (its processes are then not adopted: stop them by hand)", filepath.Join(a.runDir, snapshotName), err)
	}
	var restart []*service
	for _, e := range snap.Services {
		s := a.add(e.Spec)
		switch {
		case e.PID > 0 && alive(e.PID, e.Start):
			s.mu.Lock()
			s.adopt(e.PID, e.Start)
			s.mu.Unlock()
			s.check(ctx)
		case e.Want:
			if e.PID > 0 {
				a.log.Warn("process ended while no agent watched; starting it again", "instance", e.Spec.Name, "pid", e.PID)
			}
			restart = append(restart, s)
		}
	}
	return restart, &snap, nil
}

// resume starts what died while no agent watched, then the jobs and the
// failover controller, and lets changing requests through.
func (a *Agent) resume(ctx context.Context, restart []*service, snap *snapshot) {
	defer close(a.restored)
	for _, s := range restart {
		if err := a.op(s.spec.Name, func(s *service) error { return s.ensure(ctx, s.spec) }); err != nil {
			a.log.Error("start after agent restart", "instance", s.spec.Name, "error", err)
		}
	}
	if snap == nil {
		return
	}
	for _, j := range snap.Jobs {
		a.setJob(j)
	}
	if snap.DB != nil {
		if err := a.setCluster(*snap.DB); err != nil {
			a.log.Error("resume database failover", "error", err)
		}
	}
	a.save()
}

func (a *Agent) add(spec Spec) *service {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.services[spec.Name]; ok {
		return s
	}
	s := newService(spec, a.log, a.save, func() bool { return !a.done.Load() })
	a.services[spec.Name] = s
	a.ops[spec.Name] = &sync.Mutex{}
	a.order = append(a.order, spec.Name)
	return s
}

func (a *Agent) remove(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.services, name)
	delete(a.ops, name)
	a.order = slices.DeleteFunc(a.order, func(n string) bool { return n == name })
}

// op runs one operation on a service; operations on the same service never
// overlap.
func (a *Agent) op(name string, fn func(*service) error) error {
	a.mu.Lock()
	s, m := a.services[name], a.ops[name]
	a.mu.Unlock()
	if s == nil {
		return fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	m.Lock()
	defer m.Unlock()
	a.mu.Lock()
	current := a.services[name] == s
	a.mu.Unlock()
	if !current {
		return fmt.Errorf("%w: %s (removed meanwhile)", ErrUnknown, name)
	}
	return fn(s)
}

// ErrUnknown means the agent supervises no instance of that name.
var ErrUnknown = errors.New("no such instance")

// Run serves the control socket until told to shut down or ctx ends. It
// holds a lock in the run directory so that only one agent serves a stack.
func (a *Agent) Run(ctx context.Context) error {
	lock, err := os.OpenFile(filepath.Join(a.runDir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("agent lock: %w", err)
	}
	defer lock.Close()
	// An agent being replaced lets go of the lock a moment after it
	// answered its last request.
	for tries := 0; ; tries++ {
		err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if tries == 50 {
			return fmt.Errorf("%w (%s is locked)", ErrRunning, lock.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Adopt before answering anyone: a request must never find an
	// instance unknown that is in fact running.
	restart, snap, err := a.restore(ctx)
	if err != nil {
		return err // the snapshot is kept as it is, for a person to look at
	}
	a.save()
	sock := filepath.Join(a.runDir, SocketName)
	_ = os.Remove(sock) // left by an agent that died; we hold the lock
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", sock)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("agent socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		return err
	}
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	a.log.Info("agent up", "pid", os.Getpid(), "version", a.version, "socket", sock)

	go a.resume(ctx, restart, snap)
	go a.watchHealth(ctx)

	var stopServices bool
	select {
	case <-ctx.Done():
	case stopServices = <-a.stop:
	}
	// No failover while the agent goes: the next agent takes over from
	// the snapshot.
	a.db.mu.Lock()
	a.stopClusterLocked()
	a.db.mu.Unlock()
	a.stopJobs()
	if stopServices {
		a.stopAll(context.Background())
	}
	// From here the processes belong to the next agent.
	a.done.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if stopServices {
		_ = os.Remove(filepath.Join(a.runDir, snapshotName))
	}
	_ = os.Remove(sock)
	a.log.Info("agent down", "stopped_services", stopServices)
	return nil
}

// stopAll stops every instance, last started first. The failover
// controller stops first, or it would take the stopping primary for a
// failed one.
func (a *Agent) stopAll(ctx context.Context) {
	a.db.mu.Lock()
	a.stopClusterLocked()
	a.db.mu.Unlock()
	list := a.list()
	slices.Reverse(list)
	for _, s := range list {
		_ = a.op(s.spec.Name, func(s *service) error { return s.stop(ctx) })
	}
	a.save()
}

func (a *Agent) watchHealth(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range a.list() {
			s.check(ctx)
		}
	}
}

// Status is the agent and every instance it supervises.
type Status struct {
	Version  string          `json:"version"`
	PID      int             `json:"pid"`
	Since    time.Time       `json:"since"`
	Services []ServiceStatus `json:"services"`
	// DBPrimary names the database primary when there are replicas.
	DBPrimary string `json:"db_primary,omitempty"`
}

func (a *Agent) status() Status {
	st := Status{Version: a.version, PID: os.Getpid(), Since: a.started, Services: []ServiceStatus{}}
	if cfg := a.clusterConfig(); cfg != nil {
		st.DBPrimary = cfg.Primary
	}
	for _, s := range a.list() {
		st.Services = append(st.Services, s.status())
	}
	return st
}

// Offline reads what the last agent of a stack left in its snapshot, for
// when no agent answers: processes still alive are reported running (a new
// agent will adopt them), the others stopped.
func Offline(runDir string) (Status, error) {
	st := Status{Services: []ServiceStatus{}}
	b, err := os.ReadFile(filepath.Join(runDir, snapshotName))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return st, fmt.Errorf("read snapshot %s: %w", filepath.Join(runDir, snapshotName), err)
	}
	st.Version = snap.Version
	if snap.DB != nil {
		st.DBPrimary = snap.DB.Primary
	}
	for _, e := range snap.Services {
		s := ServiceStatus{Name: e.Spec.Name, Tier: e.Spec.Tier, State: StateStopped.String(), SpecHash: e.Spec.Hash(), Want: e.Want}
		if e.PID > 0 && alive(e.PID, e.Start) {
			s.State, s.PID, s.Since = StateRunning.String(), e.PID, startedAt(e.Start)
			s.Healthy = e.Spec.Ready.Probe(context.Background()) == nil
		}
		st.Services = append(st.Services, s)
	}
	return st, nil
}
