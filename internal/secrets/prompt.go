package secrets

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PromptPassword asks for a password on the terminal tty ("" means
// /dev/tty) with prompt and echo off. When confirm is not "", it asks a
// second time with confirm, and the answers must match, or it returns
// ErrPasswordMismatch. Ctrl-C, SIGTERM and ctx restore the terminal and
// end the prompt with ErrInterrupted.
func PromptPassword(ctx context.Context, tty, prompt, confirm string) ([]byte, error) {
	f, err := openTerminal(tty)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ask(ctx, f, prompt, confirm)
}

// promptPassword asks for the vault password on the terminal tty, twice
// if confirm is set, for a new vault.
func promptPassword(ctx context.Context, tty string, confirm bool) ([]byte, error) {
	f, err := openTerminal(tty)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrNoPassword)
	}
	defer f.Close()
	if !confirm {
		return ask(ctx, f, "Vault password: ", "")
	}
	return ask(ctx, f, "New vault password: ", "Confirm new vault password: ")
}

// openTerminal opens the terminal tty, /dev/tty if "", to prompt on.
func openTerminal(tty string) (*os.File, error) {
	if tty == "" {
		tty = "/dev/tty"
	}
	// A terminal opened by name is in Go's poller, so a read deadline can
	// end a pending read when the prompt is interrupted.
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open terminal: %w", err)
	}
	if _, err := getTermios(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a terminal", tty)
	}
	return f, nil
}

// ask asks with prompt and, unless confirm is "", again with confirm;
// the answers must match.
func ask(ctx context.Context, f *os.File, prompt, confirm string) ([]byte, error) {
	in := bufio.NewReader(f)
	pw, err := askNoEcho(ctx, f, in, prompt)
	if err != nil || confirm == "" {
		return pw, err
	}
	again, err := askNoEcho(ctx, f, in, confirm)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, ErrPasswordMismatch
	}
	return pw, nil
}

// askNoEcho prints prompt and reads one line with echo turned off.
//
// It does not use term.ReadPassword: that blocks in a raw read which neither
// a signal nor ctx can stop, and a Ctrl-C that kills the process there
// leaves the user's terminal without echo. Here SIGINT and ctx both restore
// the terminal and end the read with ErrInterrupted.
func askNoEcho(ctx context.Context, f *os.File, in *bufio.Reader, prompt string) ([]byte, error) {
	saved, err := getTermios(f)
	if err != nil {
		return nil, fmt.Errorf("read terminal settings: %w", err)
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := setTermios(f, &quiet); err != nil {
		return nil, fmt.Errorf("turn off terminal echo: %w", err)
	}
	defer setTermios(f, saved)

	if _, err := f.WriteString(prompt); err != nil {
		return nil, fmt.Errorf("write prompt: %w", err)
	}
	// The echo is off, so the user's Enter does not move the cursor.
	defer f.WriteString("\n")

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	type result struct {
		line []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := in.ReadBytes('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && len(r.line) == 0 {
			return nil, fmt.Errorf("read password: %w", r.err)
		}
		return bytes.TrimRight(r.line, "\r\n"), nil
	case <-sigs:
	case <-ctx.Done():
	}
	// A terminal opened by os.OpenFile is in the poller, so a deadline
	// ends the pending read and the goroutine with it.
	f.SetReadDeadline(time.Now())
	<-done
	return nil, ErrInterrupted
}

// getTermios reads f's terminal settings. It goes through SyscallConn
// because f.Fd would switch the file to blocking mode and disable deadlines.
func getTermios(f *os.File) (*unix.Termios, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var t *unix.Termios
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		t, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS)
	}); err != nil {
		return nil, err
	}
	return t, ioctlErr
}

// setTermios applies terminal settings to f.
func setTermios(f *os.File, t *unix.Termios) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	}); err != nil {
		return err
	}
	return ioctlErr
}
