// Package agent is the daemon that owns a stack's running processes: it
// starts them, restarts them when they crash, reloads them on request and,
// when it is itself restarted, adopts the processes it left running. The
// CLI talks to it over a unix socket that only its owner may open.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Spec says how to run one instance. The host target writes it; the agent
// keeps it in its snapshot so it can restart the instance on its own.
type Spec struct {
	Name string   `json:"name"` // the instance, such as web-0
	Tier string   `json:"tier"`
	Path string   `json:"path"` // program to run
	Args []string `json:"args"` // arguments after the program name
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	// Log receives the program's standard output and error. The program
	// writes it directly, so it keeps logging while the agent is away.
	Log   string `json:"log"`
	Ready Check  `json:"ready"`
	// ReloadSignal asks the program to re-read its config gracefully
	// (HUP for nginx, USR2 for PHP-FPM); empty means reload by restart.
	ReloadSignal Signal `json:"reload_signal,omitempty"`
	// StopSignal asks for a graceful stop; after StopTimeout the whole
	// process group is killed.
	StopSignal   Signal   `json:"stop_signal"`
	StopTimeout  Duration `json:"stop_timeout"`
	ReadyTimeout Duration `json:"ready_timeout"`
	// Sockets are unix sockets the program binds and does not clean up
	// after a crash (nginx): removed before each start, or it cannot bind.
	Sockets []string `json:"sockets,omitempty"`
}

// Hash identifies the spec's content; a changed spec means a restart.
func (s Spec) Hash() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Check is how to tell the program is ready: a connection it accepts.
type Check struct {
	// Network is "tcp" or "unix" for a plain connection, or "mysql" for a
	// login and ping over the unix socket Address: MariaDB logs every
	// connection that leaves without logging in.
	Network string `json:"network"`
	Address string `json:"address"`
}

// Probe reports whether the check passes now.
func (c Check) Probe(ctx context.Context) error {
	if c.Address == "" {
		return nil
	}
	if c.Network == "mysql" {
		return pingMySQL(ctx, c.Address)
	}
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (c Check) String() string { return c.Network + ":" + c.Address }

// Signal is a signal by its name (HUP, USR2, QUIT, TERM), as JSON shows it.
type Signal string

var signals = map[Signal]syscall.Signal{
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"QUIT": syscall.SIGQUIT, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT,
	"WINCH": syscall.SIGWINCH, "KILL": syscall.SIGKILL,
}

// Sys is the signal number.
func (s Signal) Sys() (syscall.Signal, error) {
	if v, ok := signals[s]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown signal %q", string(s))
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as Go prints it.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
