// Package host runs a stack natively on this machine: Debian's packages,
// configs rendered into the stack's state directory, and the programs
// supervised by the stack's agent.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/render"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

// Name is the host target's name on the command line.
const Name = "host"

func init() {
	target.Register(Name, func(st *stack.Stack, opts target.Options) (target.Target, error) {
		return New(st, opts)
	})
}

// Host is the host target for one stack.
type Host struct {
	opts     target.Options
	layout   Layout
	users    Users
	env      render.Env
	programs Programs
	agent    *agent.Client
	// ours tells whether a pid is one of the stack's own processes (set
	// while planning, asked only when a port is taken).
	ours func(pid int) bool
}

var (
	_ target.Target = (*Host)(nil)
	_ target.Locker = (*Host)(nil)
)

// New opens the host target for a stack.
func New(st *stack.Stack, opts target.Options) (*Host, error) {
	dir := opts.StateDir
	if dir == "" {
		dir = filepath.Join(st.Dir, StateDirName)
	}
	layout, err := NewLayout(dir)
	if err != nil {
		return nil, err
	}
	users, err := LookupUsers()
	if err != nil {
		return nil, err
	}
	return &Host{
		opts:     opts,
		layout:   layout,
		users:    users,
		env:      layout.Env(users),
		programs: DebianPrograms(st.Versions),
		agent:    agent.NewClient(layout.Run),
	}, nil
}

// Layout says where the stack's state lives.
func (h *Host) Layout() Layout { return h.layout }

// observeAgent asks the agent for the stack's processes; when no agent
// answers, the last agent's snapshot says which are still alive. live says
// whether an agent answered.
func (h *Host) observeAgent(ctx context.Context) (status agent.Status, live bool, err error) {
	status, err = h.agent.Ping(ctx)
	switch {
	case err == nil:
		return status, true, nil
	case errors.Is(err, agent.ErrNoAgent):
		status, err = agent.Offline(h.layout.Run)
		return status, false, err
	}
	return status, false, fmt.Errorf("ask the agent: %w", err)
}

// ErrBusy means another trio command is changing the stack.
var ErrBusy = errors.New("another trio command is changing this stack")

// Lock keeps other trio commands from changing the stack until the
// returned func is called. A second `trio up` fails at once, saying who
// holds the lock, rather than racing the first.
func (h *Host) Lock(command string) (func(), error) {
	if err := os.MkdirAll(h.layout.Run, 0o711); err != nil {
		return nil, err
	}
	path := filepath.Join(h.layout.Run, "trio.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock stack: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "unknown"
		}
		return nil, fmt.Errorf("%w (%s); wait for it to finish and run this again", ErrBusy, who)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d: trio %s\n", os.Getpid(), command)), 0)
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}
