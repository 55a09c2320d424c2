package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trio-stack/trio/internal/procfs"

	"golang.org/x/sys/unix"
)

// readProc reads /proc/PID/stat.
func readProc(pid int) (procfs.Stat, error) { return procfs.ReadStat(pid) }

// alive reports whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	p, err := readProc(pid)
	return err == nil && p.Start == start && p.State != 'Z' && p.State != 'X'
}

// children lists the live pids whose parent is pid.
func children(pid int) map[int]bool { return procfs.Children(pid) }

// waitExit blocks until a process that is not our child ends, using a
// pidfd, which becomes readable when the process exits.
func waitExit(pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("watch pid %d: %w", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err
	}
}

// killGroup signals every process in the group led by pgid. Programs such as
// nginx leave workers behind when their master is killed; they would hold
// the port and stop a new master from binding it.
func killGroup(pgid int, sig syscall.Signal) {
	if pgid > 1 {
		_ = syscall.Kill(-pgid, sig)
	}
}

// startedAt converts a /proc start time (clock ticks since boot) into wall
// time, so an adopted process shows its real uptime.
func startedAt(ticks uint64) time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}
			}
			// Linux reports start times in USER_HZ, 100 on every
			// architecture Debian ships.
			const userHZ = 100
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ)
		}
	}
	return time.Time{}
}
