package apt

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// requireProgram skips the test when a program is missing, except in CI
// (CI=true), where a missing program is a failure.
func requireProgram(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (CI=true, so this fails instead of skipping): %v", name, err)
			}
			t.Skipf("%s not found: %v", name, err)
		}
	}
}

// TestResolve_RealHost runs the real apt-cache and dpkg-query. On a
// Debian 12 host with the stack installed and up to date, the newest
// matching builds are the installed ones.
func TestResolve_RealHost(t *testing.T) {
	requireProgram(t, "apt-cache", "dpkg-query")
	ctx := context.Background()
	var a Apt
	lock, err := a.Resolve(ctx, bookwormVersions)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range lock.Packages() {
		names = append(names, p.Name)
		if p.Arch == "" {
			t.Errorf("%s: no architecture", p.Name)
		}
	}
	installed, err := a.Observe(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !installed[name].Installed() {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true: the CI image must have the stack's packages)", name)
			}
			t.Skipf("%s is not installed on this machine", name)
		}
	}
	for _, s := range Drift(lock, installed) {
		if s.State != StateOK {
			t.Errorf("%s (apt has a newer matching build than the installed one: is the host up to date?)", s)
		}
	}
	if err := lock.Matches(bookwormVersions); err != nil {
		t.Error(err)
	}
}

func TestProgramVersion_RealPrograms(t *testing.T) {
	requireProgram(t, "apt-cache", "dpkg-query", "nginx", "php-fpm8.2", "mariadbd", "haproxy")
	ctx := context.Background()
	var a Apt
	lock, err := a.Resolve(ctx, bookwormVersions)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Components() {
		if err := a.VerifyProgram(ctx, lock, c); err != nil {
			t.Error(err)
		}
	}
}

// TestCompareVersions_AgreesWithDpkg checks the comparison against the
// real dpkg --compare-versions on every pair of a set of tricky versions.
func TestCompareVersions_AgreesWithDpkg(t *testing.T) {
	requireProgram(t, "dpkg")
	versions := []string{
		"1.0", "1.0-0", "0:1.0", "1:0.9", "1.0~rc1", "1.0~~", "1.0~~a", "1.0~", "1.0a", "1.0+",
		"1.0.", "1.0.0", "1.00", "1.0-1", "1.0-1.1", "1.0-2-3", "1.2.3A", "1.2.3a", "9", "10",
		"1.22.1-9+deb12u11", "1.22.1-9+deb12u9", "8.2.36-1~deb12u1", "8.2.36-1", "1:10.11.19-0+deb12u1",
		"10.11.19-0+deb12u1", "2.6.12-1+deb12u4", "1:2:3-1", "1.0+dfsg-1", "1.0~dfsg-1", "a1", "1a1b",
	}
	for i, a := range versions {
		for _, b := range versions[i:] { // antisymmetry is tested elsewhere
			got, err := CompareVersions(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := dpkgCompare(t, a, b); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, dpkg says %d", a, b, got, want)
			}
		}
	}
}

// dpkgCompare asks dpkg how a and b order: -1, 0 or +1.
func dpkgCompare(t testing.TB, a, b string) int {
	t.Helper()
	for _, rel := range []struct {
		op  string
		res int
	}{{"lt", -1}, {"eq", 0}, {"gt", 1}} {
		err := exec.Command("dpkg", "--compare-versions", a, rel.op, b).Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return rel.res
		case errors.As(err, &ee) && ee.ExitCode() == 1:
			continue
		default:
			t.Fatalf("dpkg --compare-versions %s %s %s: %v", a, rel.op, b, err)
		}
	}
	t.Fatalf("dpkg found %q neither lt, eq nor gt %q", a, b)
	return 0
}
