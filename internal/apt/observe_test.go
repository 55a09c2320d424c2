package apt

import (
	"context"
	"slices"
	"testing"
)

// observeBookworm replays the recorded dpkg-query, which also asked about
// php8.3-fpm: dpkg-query exits 1 for it.
func observeBookworm(t testing.TB) Installed {
	t.Helper()
	a := replayApt(t, "testdata/cmd")
	pkgs := []string{"php8.3-fpm", "nginx", "php8.2-fpm", "php8.2-mysql", "mariadb-backup", "mariadb-client", "mariadb-server", "haproxy"}
	got, err := a.Observe(context.Background(), pkgs)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return got
}

func TestObserve_UnknownPackageIsMissingNotAnError(t *testing.T) {
	got := observeBookworm(t)
	if _, ok := got["php8.3-fpm"]; ok {
		t.Errorf("php8.3-fpm reported as known: %+v", got["php8.3-fpm"])
	}
	want := InstalledPkg{Name: "mariadb-server", Version: "1:10.11.19-0+deb12u1", Status: "ii "}
	if got["mariadb-server"] != want {
		t.Errorf("mariadb-server = %+v, want %+v", got["mariadb-server"], want)
	}
	if len(got) != 7 {
		t.Errorf("Observe found %d packages, want 7", len(got))
	}
}

func TestObserve_OtherFailuresAreErrors(t *testing.T) {
	a := &Apt{Run: func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		return nil, []byte("dpkg-query: error: cannot access archive"), &ExitError{Command: name, Code: 2}
	}}
	if _, err := a.Observe(context.Background(), []string{"nginx"}); err == nil {
		t.Fatal("Observe ignored exit status 2")
	}
}

func TestInstalledPkg_Installed(t *testing.T) {
	tests := []struct {
		status string
		want   bool
	}{
		{"ii ", true},
		{"hi ", true}, // held, still installed
		{"iW ", true}, // awaiting triggers: configured
		{"it ", true}, // triggers pending: configured
		{"rc ", false},
		{"un ", false},
		{"iU ", false},
		{"iF ", false},
		{"iH ", false},
		{"iiR", false}, // reinstall required
	}
	for _, tt := range tests {
		p := InstalledPkg{Name: "nginx", Version: "1.22.1-9+deb12u11", Status: tt.status}
		if got := p.Installed(); got != tt.want {
			t.Errorf("Installed() with status %q = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestDrift_RecordedHostIsOK(t *testing.T) {
	for _, s := range Drift(bookwormLock(t), observeBookworm(t)) {
		if s.State != StateOK {
			t.Errorf("%s", s)
		}
	}
}

func TestDrift_MissingAndDrifted(t *testing.T) {
	installed := observeBookworm(t)
	installed["nginx"] = InstalledPkg{Name: "nginx", Version: "1.22.1-9+deb12u9", Status: "ii "}
	delete(installed, "mariadb-backup")
	installed["haproxy"] = InstalledPkg{Name: "haproxy", Version: "2.6.12-1+deb12u4", Status: "rc "}

	var got []string
	for _, s := range Drift(bookwormLock(t), installed) {
		got = append(got, s.String())
	}
	want := []string{
		"nginx: drift: installed 1.22.1-9+deb12u9, pinned 1.22.1-9+deb12u11",
		"php8.2-fpm: ok: 8.2.36-1~deb12u1",
		"php8.2-mysql: ok: 8.2.36-1~deb12u1",
		"mariadb-backup: missing: pinned 1:10.11.19-0+deb12u1",
		"mariadb-client: ok: 1:10.11.19-0+deb12u1",
		"mariadb-server: ok: 1:10.11.19-0+deb12u1",
		`haproxy: missing: dpkg status "rc", pinned 2.6.12-1+deb12u4`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Drift =\n%q\nwant\n%q", got, want)
	}
	need := NeedInstall(Drift(bookwormLock(t), installed))
	var names []string
	for _, p := range need {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"nginx", "mariadb-backup", "haproxy"}) {
		t.Errorf("NeedInstall = %q", names)
	}
}

func TestDrift_ComparesLikeDpkg(t *testing.T) {
	l := &Lock{Components: map[Component]ComponentLock{
		Nginx: {Prefix: "1.22", Packages: []PkgVersion{{Name: "nginx", Version: "0:1.22.1-9", Arch: "amd64"}}},
	}}
	installed := Installed{"nginx": {Name: "nginx", Version: "1.22.1-9", Status: "ii "}}
	if s := Drift(l, installed); s[0].State != StateOK {
		t.Errorf("epoch 0 vs none: %s", s[0])
	}
}

func TestState_String(t *testing.T) {
	for s, want := range map[State]string{StateOK: "ok", StateMissing: "missing", StateDrift: "drift", 0: "State(0)"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
