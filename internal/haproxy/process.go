package haproxy

import (
	"context"
	"syscall"

	"github.com/trio-stack/trio/internal/procfs"
)

// Process is how a supervisor runs HAProxy: in master-worker mode, with the
// master in the foreground (-db keeps master-worker mode) so that its pid
// is the one to watch.
//
// A reload makes the master re-execute itself under the same pid, read the
// config, fork new workers and tell the old ones to finish their
// connections and leave. A new child of the master is the sign that a
// reload took: a config the master refuses starts none and leaves the old
// workers serving.
//
// The master ignores the reload signal while it re-executes itself, which
// it does at start, during a reload and once more right after forking the
// new workers; a signal sent then is lost. Wait for Reloadable before each
// reload signal (WaitReloadable).
type Process struct {
	Path string
	Args []string
	// ReloadSignal goes to the master: SIGUSR2.
	ReloadSignal syscall.Signal
	// StopSignal goes to the master: SIGUSR1, a soft stop. Workers finish
	// what they serve and close idle keep-alive connections after at most
	// timeout http-keep-alive (10s); hard-stop-after (2m) bounds the rest.
	StopSignal syscall.Signal
}

// MasterWorker is the Process for binary (such as /usr/sbin/haproxy)
// reading cfg. The pid file is named in the config, not on the command
// line: HAProxy complains when given both.
func MasterWorker(binary, cfg string) Process {
	return Process{
		Path:         binary,
		Args:         []string{"-W", "-db", "-f", cfg},
		ReloadSignal: syscall.SIGUSR2,
		StopSignal:   syscall.SIGUSR1,
	}
}

// Reloadable reports whether the master with this pid would act on the
// reload signal now: it has a handler for it and does not block it. It
// reads /proc.
func Reloadable(master int) (bool, error) {
	return procfs.SignalReady(master, syscall.SIGUSR2)
}

// WaitReloadable waits until the master would act on the reload signal.
func WaitReloadable(ctx context.Context, master int) error {
	return procfs.WaitSignalReady(ctx, master, syscall.SIGUSR2)
}
