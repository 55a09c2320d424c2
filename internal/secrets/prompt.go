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

// promptPassword asks for the password on the terminal tty (default
// /dev/tty) with echo off, twice if confirm is set.
func promptPassword(ctx context.Context, tty string, confirm bool) ([]byte, error) {
	if tty == "" {
		tty = "/dev/tty"
	}
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open terminal: %v: %w", err, ErrNoPassword)
	}
	defer f.Close()
	if _, err := getTermios(f); err != nil {
		return nil, fmt.Errorf("%s is not a terminal: %w", tty, ErrNoPassword)
	}
	in := bufio.NewReader(f)
	if !confirm {
		return askNoEcho(ctx, f, in, "Vault password: ")
	}
	pw, err := askNoEcho(ctx, f, in, "New vault password: ")
	if err != nil {
		return nil, err
	}
	again, err := askNoEcho(ctx, f, in, "Confirm new vault password: ")
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
