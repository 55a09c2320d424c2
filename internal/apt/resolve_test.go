package apt

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// bookwormLock is what the recordings in testdata/cmd resolve to.
func bookwormLock(t testing.TB) *Lock {
	t.Helper()
	pv := func(name, version string) PkgVersion { return PkgVersion{Name: name, Version: version, Arch: "amd64"} }
	return &Lock{Components: map[Component]ComponentLock{
		Nginx:   {Prefix: "1.22", Packages: []PkgVersion{pv("nginx", "1.22.1-9+deb12u11")}},
		PHP:     {Prefix: "8.2", Packages: []PkgVersion{pv("php8.2-fpm", "8.2.36-1~deb12u1"), pv("php8.2-mysql", "8.2.36-1~deb12u1")}},
		MariaDB: {Prefix: "10.11", Packages: []PkgVersion{pv("mariadb-backup", "1:10.11.19-0+deb12u1"), pv("mariadb-client", "1:10.11.19-0+deb12u1"), pv("mariadb-server", "1:10.11.19-0+deb12u1")}},
		HAProxy: {Prefix: "2.6", Packages: []PkgVersion{pv("haproxy", "2.6.12-1+deb12u4")}},
	}}
}

func TestResolve_PicksNewestMatchingBuild(t *testing.T) {
	a := replayApt(t, "testdata/cmd")
	got, err := a.Resolve(context.Background(), bookwormVersions)
	if err != nil {
		t.Fatal(err)
	}
	assertLock(t, got, bookwormLock(t))
}

func TestResolve_NoMatchListsAvailableVersions(t *testing.T) {
	a := replayApt(t, "testdata/cmd")
	versions := map[Component]string{Nginx: "1.24", PHP: "8.2", MariaDB: "10.1", HAProxy: "2.6"}
	_, err := a.Resolve(context.Background(), versions)
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("err = %v, want ErrNoMatch", err)
	}
	for _, want := range []string{
		`resolve nginx: versions.nginx "1.24": no matching build: apt has nginx 1.22.1-9+deb12u11, 1.22.1-9+deb12u9; change versions.nginx in trio.yaml to match one of them (e.g. "1.22")`,
		"run `apt-get update` as root",
		// 10.1 must not match 10.11.x; both problems are reported at once.
		`resolve mariadb: versions.mariadb "10.1": no matching build: apt has mariadb-server 1:10.11.19-0+deb12u1, 1:10.11.18-0+deb12u1; change versions.mariadb in trio.yaml to match one of them (e.g. "10.11")`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}
}

func TestResolve_UnknownPHPVersionNamesThePackage(t *testing.T) {
	a := replayApt(t, "testdata/cmd")
	_, err := a.Resolve(context.Background(), map[Component]string{PHP: "8.3"})
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("err = %v, want ErrNoMatch", err)
	}
	want := `resolve php: versions.php "8.3": no matching build: apt knows no package php8.3-fpm (Debian 12 ships php 8.2); change versions.php in trio.yaml`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\ndoes not contain %q", err, want)
	}
}

func TestResolve_EmptyListsSaysRunAptGetUpdate(t *testing.T) {
	a := replayApt(t, "testdata/emptylists")
	_, err := a.Resolve(context.Background(), bookwormVersions)
	if !errors.Is(err, ErrNoPackageLists) {
		t.Fatalf("err = %v, want ErrNoPackageLists", err)
	}
	if !strings.Contains(err.Error(), "run `apt-get update` as root") {
		t.Errorf("error %q does not name apt-get update", err)
	}
}

func TestResolve_NothingRequested(t *testing.T) {
	a := &Apt{Run: func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		t.Errorf("unexpected %s", commandLine(name, args))
		return nil, nil, nil
	}}
	l, err := a.Resolve(context.Background(), nil)
	if err != nil || len(l.Components) != 0 {
		t.Fatalf("Resolve(nil) = %+v, %v; want an empty lock", l, err)
	}
}

func TestResolve_PrefersVersionSharedByAllPackages(t *testing.T) {
	// mariadb-backup lags behind: the newest build all three share wins.
	madison := `mariadb-server | 1:10.11.19-0+deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
mariadb-server | 1:10.11.18-0+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages
mariadb-client | 1:10.11.19-0+deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
mariadb-client | 1:10.11.18-0+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages
mariadb-backup | 1:10.11.18-0+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages
`
	var show strings.Builder
	for _, p := range []string{"mariadb-backup", "mariadb-client", "mariadb-server"} {
		show.WriteString("Package: " + p + "\nVersion: 1:10.11.18-0+deb12u1\nArchitecture: amd64\n\n")
	}
	a := &Apt{Run: func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		switch commandLine(name, args) {
		case "apt-cache madison mariadb-backup mariadb-client mariadb-server":
			return []byte(madison), nil, nil
		case "apt-cache show mariadb-backup=1:10.11.18-0+deb12u1 mariadb-client=1:10.11.18-0+deb12u1 mariadb-server=1:10.11.18-0+deb12u1":
			return []byte(show.String()), nil, nil
		}
		t.Errorf("unexpected %s", commandLine(name, args))
		return nil, nil, errors.New("unexpected")
	}}
	got, err := a.Resolve(context.Background(), map[Component]string{MariaDB: "10.11"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Packages() {
		if p.Version != "1:10.11.18-0+deb12u1" {
			t.Errorf("%s pinned at %s, want the shared 1:10.11.18-0+deb12u1", p.Name, p.Version)
		}
	}
}

func TestResolve_WithoutAptSaysDebian12(t *testing.T) {
	a := &Apt{Run: func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		return nil, nil, fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)
	}}
	_, err := a.Resolve(context.Background(), bookwormVersions)
	if !errors.Is(err, ErrNoApt) || !strings.Contains(err.Error(), "the host target needs Debian 12") {
		t.Fatalf("err = %v, want ErrNoApt", err)
	}
}

func TestParseMadison_SkipsSourcesAndDuplicates(t *testing.T) {
	out := `     nginx | 1.22.1-9+deb12u9 | http://deb.debian.org/debian bookworm/main amd64 Packages
     nginx | 1.22.1-9+deb12u11 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     nginx | 1.22.1-9+deb12u11 | http://mirror.example/debian-security bookworm-security/main amd64 Packages
     nginx | 1.25.0-1 | http://deb.debian.org/debian sid/main Sources
garbage line
`
	got := parseMadison(out)
	want := []string{"1.22.1-9+deb12u11", "1.22.1-9+deb12u9"}
	if !slices.Equal(got["nginx"], want) {
		t.Fatalf("parseMadison = %q, want %q (newest first, no Sources, no duplicates)", got["nginx"], want)
	}
}

func TestCountPackageFiles_RecordedPolicy(t *testing.T) {
	for dir, want := range map[string]int{"testdata/cmd": 3, "testdata/emptylists": 0} {
		r := loadRecordings(t, dir)["apt-cache policy"]
		if got := countPackageFiles(string(r.stdout)); got != want {
			t.Errorf("%s: countPackageFiles = %d, want %d", dir, got, want)
		}
	}
}

func assertLock(t testing.TB, got, want *Lock) {
	t.Helper()
	g, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Fatalf("lock:\n%s\nwant:\n%s", g, w)
	}
}
