package apt

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var record = flag.Bool("record", false, "re-record testdata/cmd and testdata/emptylists from this machine's apt-cache, dpkg-query and programs")

// bookwormVersions is the versions: block of a default trio.yaml on
// Debian 12.
var bookwormVersions = map[Component]string{Nginx: "1.22", PHP: "8.2", MariaDB: "10.11", HAProxy: "2.6"}

// TestRecord_Commands re-records the command outputs the unit tests
// replay. It runs the package's own code against the real programs with a
// Runner that saves every call, so the recordings hold exactly the
// commands the code runs. It needs a Debian 12 machine with the stack's
// packages installed, and only reads: nothing is installed or updated.
//
//	go test ./internal/apt -run TestRecord -record
func TestRecord_Commands(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record testdata from this machine")
	}
	ctx := context.Background()
	note := "Recorded by `go test -run TestRecord -record` on " + debianRelease(t) + "."

	// Scenario 1: this machine as it is.
	dir := resetDir(t, filepath.Join("testdata", "cmd"))
	a := &Apt{Run: recordingRunner(t, dir, note, nil)}
	lock, err := a.Resolve(ctx, bookwormVersions)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"php8.3-fpm"} // not installed: dpkg-query exits 1
	for _, p := range lock.Packages() {
		pkgs = append(pkgs, p.Name)
	}
	if _, err := a.Observe(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	for c, prefix := range bookwormVersions {
		if _, err := a.ProgramVersion(ctx, c, prefix); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.checkLists(ctx); err != nil {
		t.Fatal(err)
	}
	// A php version Debian 12 does not ship.
	if _, err := a.Resolve(ctx, map[Component]string{PHP: "8.3"}); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("Resolve(php 8.3) = %v, want ErrNoMatch", err)
	}

	// Scenario 2: a fresh machine that never ran apt-get update, simulated
	// by pointing apt-cache at an empty lists directory and no caches.
	empty := t.TempDir()
	if err := os.Mkdir(filepath.Join(empty, "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	noLists := []string{"-o", "Dir::State::Lists=" + empty, "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="}
	dir = resetDir(t, filepath.Join("testdata", "emptylists"))
	note += "\napt-cache ran with -o Dir::State::Lists=<empty dir> -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=,\nto look like a machine that never ran apt-get update."
	a = &Apt{Run: recordingRunner(t, dir, note, noLists)}
	if _, err := a.Resolve(ctx, bookwormVersions); !errors.Is(err, ErrNoPackageLists) {
		t.Fatalf("Resolve with empty lists = %v, want ErrNoPackageLists", err)
	}
}

// recordingRunner runs commands for real and saves each to dir. aptOpts
// are inserted after "apt-cache" but left out of the recorded command
// line.
func recordingRunner(t testing.TB, dir, note string, aptOpts []string) Runner {
	t.Helper()
	return func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		ranArgs := args
		if name == "apt-cache" {
			ranArgs = append(slices.Clone(aptOpts), args...)
		}
		stdout, stderr, err := ExecRunner(ctx, name, ranArgs...)
		r := recording{cmd: commandLine(name, args), stdout: stdout, stderr: stderr}
		var ee *ExitError
		switch {
		case errors.As(err, &ee):
			r.exit = ee.Code
			err = &ExitError{Command: r.cmd, Code: ee.Code, Stderr: stderr}
		case err != nil:
			t.Fatalf("record %s: %v", r.cmd, err)
		}
		writeRecording(t, dir, note, r)
		return stdout, stderr, err
	}
}

func resetDir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// debianRelease names the machine for the recordings' notes.
func debianRelease(t testing.TB) string {
	t.Helper()
	v, err := os.ReadFile("/etc/debian_version")
	if err != nil {
		t.Fatalf("recording needs a Debian machine: %v", err)
	}
	out, err := exec.Command("apt-get", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return "Debian " + strings.TrimSpace(string(v)) + " (" + first + ")"
}
