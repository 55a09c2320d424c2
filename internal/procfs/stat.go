package procfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stat is what /proc/PID/stat says about a process.
type Stat struct {
	State byte   // R, S, D, Z, ...
	PPID  int    //
	Start uint64 // start time in clock ticks after boot: with the pid, an identity
}

// ReadStat reads /proc/PID/stat. A pid alone can be reused after the
// process ends; pid plus start time cannot.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	// The command name may hold spaces and parentheses; fields resume after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return Stat{State: f[0][0], PPID: ppid, Start: start}, nil
}

// Children lists the live pids whose parent is pid.
func Children(pid int) map[int]bool {
	out := map[int]bool{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if p, err := ReadStat(child); err == nil && p.PPID == pid && p.State != 'Z' {
			out[child] = true
		}
	}
	return out
}
