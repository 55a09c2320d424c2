package host

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portFree reports whether addr can be bound now, or is held by one of
// ours: the stack's own processes, which the plan moves off it first. When
// it cannot, the error names the program holding it, if /proc tells.
func portFree(addr netip.AddrPort, ours func(int) bool) error {
	ln, err := net.Listen("tcp", addr.String())
	if err == nil {
		return ln.Close()
	}
	if pid, owner := portOwner(addr.Port()); owner != "" {
		if ours != nil && ours(pid) {
			return nil
		}
		return fmt.Errorf("%s is in use by %s", addr, owner)
	}
	return fmt.Errorf("%s cannot be bound: %v", addr, err)
}

// portOwner finds the process listening on a TCP port, via the socket's
// inode in /proc/net/tcp{,6} and the fds that point at it.
func portOwner(port uint16) (int, string) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			p, err := strconv.ParseUint(hexPort, 16, 16)
			if ok && err == nil && uint16(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return 0, ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join(p, "fd"))
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join(p, "fd", fd.Name())); err == nil && inodes[target] {
				pid, _ := strconv.Atoi(filepath.Base(p))
				return pid, fmt.Sprintf("pid %d (%s)", pid, commandOf(pid))
			}
		}
	}
	return 0, "another process"
}

func commandOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "unknown"
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
