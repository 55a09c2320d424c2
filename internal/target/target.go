// Package target is the interface every place a stack can run implements:
// observe what runs, plan the difference, apply the plan. Targets register
// themselves by name; the CLI picks one with --target.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/trio-stack/trio/internal/db/cluster"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/plan"
	"github.com/trio-stack/trio/internal/stack"
)

// Target runs stacks somewhere.
type Target interface {
	// Plan observes what runs and returns the steps that would make it
	// match st. It changes nothing.
	Plan(ctx context.Context, st *stack.Stack) (*Planned, error)
	// Apply executes exactly the steps of a plan Plan returned, reporting
	// each as it goes.
	Apply(ctx context.Context, p *Planned, report Reporter) error
	// Status reports every instance of the stack.
	Status(ctx context.Context, st *stack.Stack) (*Status, error)
	// Reload applies the current config of the given tiers (all when
	// empty) gracefully, without a restart.
	Reload(ctx context.Context, st *stack.Stack, tiers []stack.Tier, report Reporter) error
	// Down stops the stack. Data is kept unless volumes is true.
	Down(ctx context.Context, st *stack.Stack, volumes bool, report Reporter) error
	// Logs writes the recent log lines of the given tiers, and with follow
	// keeps writing new ones until ctx ends.
	Logs(ctx context.Context, st *stack.Stack, opts LogOptions, w io.Writer) error
}

// Planned is a plan and what the target needs to carry it out.
type Planned struct {
	plan.Plan
	Stack   *stack.Stack
	Payload any // the target's own data, opaque to callers
}

// Event reports progress of a long operation.
type Event struct {
	Step    *plan.Step // the step it concerns, nil for general progress
	Phase   Phase
	Message string
	Elapsed time.Duration
}

// Phase is where a step is.
type Phase int

// The phases of a step.
const (
	PhaseBegin    Phase = 1
	PhaseProgress Phase = 2
	PhaseDone     Phase = 3
	PhaseFailed   Phase = 4
)

// Reporter receives events; it may be nil.
type Reporter func(Event)

// Emit sends an event if r is set.
func (r Reporter) Emit(e Event) {
	if r != nil {
		r(e)
	}
}

// Status is the stack as a target sees it.
type Status struct {
	Stack     string           `json:"stack"`
	Target    string           `json:"target"`
	URL       string           `json:"url"`
	Healthy   bool             `json:"healthy"`   // the app's health path answers 200
	Health    string           `json:"health"`    // what it answered
	Agent     string           `json:"agent"`     // "running (pid N)" or "not running"
	Instances []InstanceStatus `json:"instances"` // in start order
	// Edge counts what the load balancer saw since its last reload:
	// requests, and those the limits refused, by reason.
	Edge map[string]int64 `json:"edge,omitempty"`
}

// InstanceStatus is one instance.
type InstanceStatus struct {
	Name     string    `json:"name"`
	Tier     string    `json:"tier"`
	State    string    `json:"state"`
	Healthy  bool      `json:"healthy"`
	PID      int       `json:"pid,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Restarts int       `json:"restarts"`
	Address  string    `json:"address"`
	LastExit string    `json:"last_exit,omitempty"`
	// LB is how the load balancer sees the instance (UP, DOWN, DRAIN...).
	LB     string `json:"lb,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// LogOptions selects log lines.
type LogOptions struct {
	Tiers  []stack.Tier
	Lines  int
	Follow bool
}

// Options configure a target when the CLI opens it.
type Options struct {
	StateDir   string // where the host target keeps state; "" for the default
	AllowDrift bool   // accept installed package builds other than trio.lock's
	UpgradeDB  bool   // upgrade a data directory made by an older MariaDB
	Version    string // identity of this trio binary, to notice a stale agent
	Rollback   bool   // plan towards the release before the live one
	// RefreshPackageLists lets planning run apt-get update on a machine
	// that never did (up and apply; plan only observes).
	RefreshPackageLists bool
	// Progress receives progress of long observations, such as that.
	Progress func(string)
	Secrets  SecretResolver
}

// SecretResolver turns a {secret: NAME} reference into its value. It is
// called only by steps that need a credential.
type SecretResolver func(name string) (string, error)

// ErrSecretUnavailable means a credential cannot be read now (no vault
// password was given). Plans go on without it and say so; the steps that
// need it fail.
var ErrSecretUnavailable = errors.New("no vault password")

// Factory opens a target for a stack.
type Factory func(st *stack.Stack, opts Options) (Target, error)

var (
	mu       sync.Mutex
	registry = map[string]Factory{}
)

// Register makes a target available by name.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	registry[name] = f
}

// ErrUnknownTarget means no target of that name is registered.
var ErrUnknownTarget = errors.New("unknown target")

// Open returns the named target for a stack.
func Open(name string, st *stack.Stack, opts Options) (Target, error) {
	mu.Lock()
	f, ok := registry[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q; known targets: %v", ErrUnknownTarget, name, Names())
	}
	return f(st, opts)
}

// Names lists the registered targets.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// HasTier reports whether tiers selects t (an empty selection selects all).
func HasTier(tiers []stack.Tier, t stack.Tier) bool {
	return len(tiers) == 0 || slices.Contains(tiers, t)
}

// Locker is implemented by targets that can keep two trio commands from
// changing the same stack at once. The CLI takes the lock before planning.
type Locker interface {
	// Lock holds the stack for command until the returned func is called.
	Lock(command string) (unlock func(), err error)
}

// Database is implemented by targets that administer the stack's MariaDB:
// topology, switchover and failover, backups and restores, a shell.
type Database interface {
	// DBStatus reports every database node: role, positions, lag.
	DBStatus(ctx context.Context, st *stack.Stack) (cluster.Topology, error)
	// DBAction runs "switchover" (to a node, or "" for the best) or
	// "failover".
	DBAction(ctx context.Context, st *stack.Stack, action, to string) (cluster.Topology, error)
	// Backup copies the database into a new directory and returns its
	// manifest and path.
	Backup(ctx context.Context, st *stack.Stack, opts BackupOptions, report Reporter) (repl.Manifest, string, error)
	// Restore puts a backup in place, or with Verify checks it on a
	// scratch server.
	Restore(ctx context.Context, st *stack.Stack, dir string, opts RestoreOptions, report Reporter) (RestoreResult, error)
	// Shell runs the mariadb client on the primary.
	Shell(ctx context.Context, st *stack.Stack, args []string, stdin io.Reader, stdout, stderr io.Writer) error
	// Dump writes a logical dump of the app's database.
	Dump(ctx context.Context, st *stack.Stack, w io.Writer) error
}

// BackupOptions choose how and where to back up.
type BackupOptions struct {
	Logical bool   // mariadb-dump instead of mariadb-backup
	Method  string // "physical" or "logical"; "" takes db.backup.method
	Dir     string // below which the backup goes; "" takes db.backup.dir
	Keep    int    // prune to this many backups afterwards; 0 keeps all
}

// RestoreOptions choose how to restore.
type RestoreOptions struct {
	Verify bool // restore into a scratch server and check, touching nothing
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Manifest   repl.Manifest    `json:"manifest"`
	MovedAside []string         `json:"moved_aside,omitempty"`
	Tables     map[string]int64 `json:"table_checksums,omitempty"` // with Verify
}
