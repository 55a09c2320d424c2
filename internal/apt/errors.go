package apt

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotRoot reports that packages must be installed but trio is not
	// running as root; the wrapping error carries the command to run.
	ErrNotRoot = errors.New("not running as root")

	// ErrNoPackageLists reports that apt's package lists are empty, which is
	// the state of a machine where apt-get update never ran.
	ErrNoPackageLists = errors.New("apt's package lists are empty")

	// ErrNoMatch reports that no build in apt's cache matches a version
	// prefix from trio.yaml.
	ErrNoMatch = errors.New("no matching build")

	// ErrLockStale reports that trio.lock no longer fits the versions asked
	// for in trio.yaml.
	ErrLockStale = errors.New("trio.lock does not match trio.yaml")

	// ErrProgramMismatch reports that the program found on PATH is not the
	// build trio.lock pins.
	ErrProgramMismatch = errors.New("program does not match trio.lock")

	// ErrNoApt reports that apt or dpkg is missing: the host target needs
	// Debian 12.
	ErrNoApt = errors.New("apt or dpkg not found (the host target needs Debian 12)")
)

// ExitError reports a command that ran and exited with a non-zero status.
// Runner and Streamer implementations return it so callers can tell "the
// program said no" from "the program could not start".
type ExitError struct {
	// Command is the command line, for messages.
	Command string
	// Code is the exit status.
	Code int
	// Stderr is what the command wrote to standard error, if captured
	// separately.
	Stderr []byte
}

// Error implements error.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit status %d", e.Command, e.Code)
	if s := strings.TrimSpace(string(e.Stderr)); s != "" {
		msg += ": " + strings.Join(tailLines(s, 3), "; ")
	}
	return msg
}

// tailLines returns at most n trailing non-empty-terminated lines of s.
func tailLines(s string, n int) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
