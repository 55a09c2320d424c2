// Package procfs reads what Linux's /proc says about a process.
package procfs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SignalReady reports whether pid now catches sig and does not block it.
// A program that re-executes itself on reload (HAProxy's master does)
// ignores the signal for a moment while it restarts; a signal sent then is
// lost without a trace.
func SignalReady(pid int, sig syscall.Signal) (bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, fmt.Errorf("pid %d: %w", pid, err)
	}
	var caught, blocked uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "SigCgt":
			caught, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		case "SigBlk":
			blocked, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
		if err != nil {
			return false, fmt.Errorf("pid %d: read %s: %w", pid, k, err)
		}
	}
	bit := uint64(1) << (sig - 1)
	return caught&bit != 0 && blocked&bit == 0, nil
}

// WaitSignalReady polls until SignalReady holds or ctx ends.
func WaitSignalReady(ctx context.Context, pid int, sig syscall.Signal) error {
	for {
		ok, err := SignalReady(pid, sig)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d does not take %s yet: %w", pid, sig, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
