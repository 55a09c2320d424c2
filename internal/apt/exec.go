package apt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Runner runs a short command to completion and returns what it wrote to
// standard output and standard error. A command that ran and exited
// non-zero is reported as *ExitError; one that could not start (not
// installed) wraps exec.ErrNotFound or the start error.
type Runner func(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error)

// Streamer runs a long apt-get command. The child gets a pipe as file
// descriptor statusFD (3), which apt-get is told to use via
// -o APT::Status-Fd=3; every line apt writes there is passed to status as
// it arrives, from a single goroutine. The child's standard output and
// standard error are returned interleaved. env is added to the current
// environment. Non-zero exits are reported as *ExitError.
type Streamer func(ctx context.Context, env []string, status func(line string), name string, args ...string) (output []byte, err error)

// statusFD is the descriptor the Streamer hands the child: ExtraFiles[0]
// always becomes fd 3.
const statusFD = 3

// Apt runs the apt and dpkg commands behind Resolve, Observe, Install and
// ProgramVersion. The zero value runs the real programs; tests set the
// func fields to fakes fed with recorded outputs.
type Apt struct {
	// Run runs short commands (apt-cache, dpkg-query, version checks).
	Run Runner
	// Stream runs apt-get update and apt-get install.
	Stream Streamer
	// Euid returns the effective user id; root is 0.
	Euid func() int
	// LookPath finds a program the way the host target will: PATH first,
	// then the sbin directories Debian installs daemons into.
	LookPath func(file string) (string, error)
}

func (a *Apt) run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if a.Run != nil {
		return a.Run(ctx, name, args...)
	}
	return ExecRunner(ctx, name, args...)
}

func (a *Apt) stream(ctx context.Context, env []string, status func(string), name string, args ...string) ([]byte, error) {
	if a.Stream != nil {
		return a.Stream(ctx, env, status, name, args...)
	}
	return ExecStreamer(ctx, env, status, name, args...)
}

func (a *Apt) euid() int {
	if a.Euid != nil {
		return a.Euid()
	}
	return os.Geteuid()
}

func (a *Apt) lookPath(file string) (string, error) {
	if a.LookPath != nil {
		return a.LookPath(file)
	}
	return LookPath(file)
}

// sbinDirs are searched after PATH: on Debian a normal user's PATH lacks
// them, yet nginx, php-fpm8.2, mariadbd and haproxy all live in /usr/sbin.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// LookPath finds file in PATH, then in the sbin directories.
func LookPath(file string) (string, error) {
	p, err := exec.LookPath(file)
	if err == nil {
		return p, nil
	}
	for _, dir := range sbinDirs {
		if p, err2 := exec.LookPath(filepath.Join(dir, file)); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

// commandEnv keeps the output of every command parseable: in the C locale
// apt's messages stay in English for the hints.
var commandEnv = []string{"LC_ALL=C"}

// ExecRunner is the Runner that runs real programs.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), commandEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A program that forks a daemon keeping our pipes open must not hang
	// the caller.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it exited 0; only a leftover child held the pipes
	}
	return stdout.Bytes(), stderr.Bytes(), exitError(ctx, err, name, args, stderr.Bytes())
}

// ExecStreamer is the Streamer that runs real programs.
//
// Output goes through pipes this function owns rather than through
// os/exec's copying goroutines: a maintainer script may start a daemon
// that inherits them, and Wait would then block until that daemon exits.
// After the command exits the pipes are drained for a short while and
// then closed.
func ExecStreamer(ctx context.Context, env []string, status func(string), name string, args ...string) ([]byte, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statR, statW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), commandEnv...), env...)
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{statW} // fd 3 in the child
	// Killing apt-get while dpkg runs leaves the package database
	// half-configured; an interrupt lets apt stop cleanly, and only a
	// stubborn apt gets killed a minute later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute

	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{outR, outW, statR, statW} {
			f.Close()
		}
		return nil, exitError(ctx, err, name, args, nil)
	}
	outW.Close()
	statW.Close()

	var out bytes.Buffer // read only after both goroutines finish
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(&out, outR)
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(statR)
		for sc.Scan() {
			if status != nil {
				status(sc.Text())
			}
		}
		// Keep the pipe drained even after an overlong line, or apt
		// blocks writing to it.
		io.Copy(io.Discard, statR)
	}()

	waitErr := cmd.Wait()
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
		// Something apt started still holds a pipe; stop reading.
		outR.Close()
		statR.Close()
		<-drained
	}
	outR.Close()
	statR.Close()
	return out.Bytes(), exitError(ctx, waitErr, name, args, nil)
}

// exitError turns os/exec's errors into *ExitError, or into the context's
// error when the command was cancelled. A missing program stays an error
// wrapping exec.ErrNotFound.
func exitError(ctx context.Context, err error, name string, args []string, stderr []byte) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", commandLine(name, args), ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Command: commandLine(name, args), Code: ee.ExitCode(), Stderr: stderr}
	}
	return err
}

func commandLine(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}

// aptError adds the Debian 12 hint to a missing apt-cache or dpkg-query.
func aptError(err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNoApt, err)
	}
	return err
}
