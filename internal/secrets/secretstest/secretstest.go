// Package secretstest holds what the tests of the secrets package and of
// the CLI's vault and hash-password verbs share: the real tools they
// check against (ansible-vault, mkpasswd, perl's crypt), password files,
// and a pseudo-terminal to type at prompts. Only tests import it.
package secretstest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequireTool returns the path of a program the test runs. A missing
// program skips the test locally but fails it in CI (CI=true), with the
// command that installs pkg, so CI never passes without having checked.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " not found; install it with: apt-get install -y " + pkg
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s", msg)
	}
	t.Skip(msg)
	return ""
}

// Tool returns a runner for a program from pkg that returns its standard
// output and fails the test when the program fails. Programs run with a
// private HOME and no inherited ANSIBLE_* settings, so the user's Ansible
// configuration cannot leak in.
func Tool(t testing.TB, name, pkg string) func(stdin []byte, args ...string) []byte {
	t.Helper()
	path := RequireTool(t, name, pkg)
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_NOCOLOR=1")
	return func(stdin []byte, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Env, cmd.Dir = env, home
		cmd.Stdin = bytes.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %q: %v\n%s%s", name, args, err, stdout.Bytes(), stderr.Bytes())
		}
		return stdout.Bytes()
	}
}

// WriteFile writes data to name in dir with perm and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask may have cut bits
		t.Fatal(err)
	}
	return path
}

// OpenPTY returns the controlling side of a new pseudo-terminal and the
// path of its terminal side, for prompting tests. It skips the test where
// there are no pseudo-terminals.
func OpenPTY(t testing.TB) (ptmx *os.File, tty string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	rc, err := ptmx.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
			n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil || ioctlErr != nil {
		t.Fatalf("set up pty: %v %v", err, ioctlErr)
	}
	return ptmx, "/dev/pts/" + strconv.Itoa(n)
}

// ReadUntil reads the terminal's output until want has appeared, and
// returns what it read.
func ReadUntil(t testing.TB, r *bufio.Reader, want string) string {
	t.Helper()
	var seen strings.Builder
	for !strings.Contains(seen.String(), want) {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("waiting for %q, saw %q: %v", want, seen.String(), err)
		}
		seen.WriteByte(b)
	}
	return seen.String()
}
