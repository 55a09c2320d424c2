package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/stack"
)

// hardening are the kernel settings a public web host wants: SYN cookies
// against SYN floods, and accept queues deep enough for bursts.
var hardening = []struct {
	key string
	min int
}{
	{"net.ipv4.tcp_syncookies", 1},
	{"net.core.somaxconn", 4096},
	{"net.ipv4.tcp_max_syn_backlog", 4096},
}

// sysctlFile keeps the settings across reboots.
const sysctlFile = "/etc/sysctl.d/60-trio.conf"

type sysctl struct {
	key      string
	from, to int
}

func procPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// observeTuning lists the kernel settings below what host.harden wants;
// only root can change them, so for others it says nothing.
func (h *Host) observeTuning(st *stack.Stack) []sysctl {
	if !h.users.Root || !*st.Host.Harden {
		return nil
	}
	var out []sysctl
	for _, s := range hardening {
		b, err := os.ReadFile(procPath(s.key))
		if err != nil {
			continue // not this kernel's setting
		}
		cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && cur < s.min {
			out = append(out, sysctl{key: s.key, from: cur, to: s.min})
		}
	}
	return out
}

func describeTuning(changes []sysctl) string {
	var parts []string
	for _, c := range changes {
		parts = append(parts, fmt.Sprintf("%s %d → %d", c.key, c.from, c.to))
	}
	return strings.Join(parts, ", ")
}

// tune writes the settings now and into sysctl.d for the next boot.
func tune(changes []sysctl) error {
	var conf strings.Builder
	conf.WriteString("# Written by trio (host.harden in trio.yaml).\n")
	for _, s := range hardening {
		conf.WriteString(fmt.Sprintf("%s = %d\n", s.key, s.min))
	}
	for _, c := range changes {
		if err := os.WriteFile(procPath(c.key), []byte(strconv.Itoa(c.to)), 0o644); err != nil {
			return fmt.Errorf("set %s: %w (a container may not allow it; set host.harden: false to skip)", c.key, err)
		}
	}
	return fsutil.WriteFileAtomic(sysctlFile, []byte(conf.String()), 0o644)
}
