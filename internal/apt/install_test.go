package apt

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// streamReply is what a scripted apt-get run prints: status lines for fd 3,
// its output, and its exit status.
type streamReply struct {
	status, output string
	exit           int
}

// scriptedStreamer answers successive apt-get runs with replies, in
// order, and records the command lines it was asked to run.
func scriptedStreamer(t testing.TB, replies ...streamReply) (Streamer, *[]string) {
	t.Helper()
	var calls []string
	return func(ctx context.Context, env []string, status func(string), name string, args ...string) ([]byte, error) {
		cmd := commandLine(name, args)
		calls = append(calls, cmd)
		if !slices.Equal(env, installEnv) {
			t.Errorf("%s: env = %q, want %q", cmd, env, installEnv)
		}
		if len(calls) > len(replies) {
			t.Errorf("unexpected run %d: %s", len(calls), cmd)
			return nil, errors.New("unexpected")
		}
		r := replies[len(calls)-1]
		for line := range strings.Lines(r.status) {
			status(strings.TrimSuffix(line, "\n"))
		}
		if r.exit != 0 {
			return []byte(r.output), &ExitError{Command: cmd, Code: r.exit}
		}
		return []byte(r.output), nil
	}, &calls
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// installPkgs is what a fresh host needs: two packages from the lock.
var installPkgs = []PkgVersion{
	{Name: "nginx", Version: "1.22.1-9+deb12u11", Arch: "amd64"},
	{Name: "php8.2-fpm", Version: "8.2.36-1~deb12u1", Arch: "amd64"},
}

const wantInstallCmd = "apt-get -o APT::Status-Fd=3 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y --no-install-recommends nginx=1.22.1-9+deb12u11 php8.2-fpm=8.2.36-1~deb12u1"

func TestInstall_ReportsProgressFromStatusFd(t *testing.T) {
	stream, calls := scriptedStreamer(t, streamReply{
		status: readTestdata(t, "status/download.status") + readTestdata(t, "status/install.status"),
		output: readTestdata(t, "status/install.out"),
	})
	a := replayApt(t, "testdata/cmd")
	a.Stream = stream
	var got []Progress
	if err := a.Install(context.Background(), installPkgs, func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*calls, []string{wantInstallCmd}) {
		t.Errorf("ran %q\nwant %q", *calls, wantInstallCmd)
	}
	if len(got) != 14 {
		t.Fatalf("got %d progress reports, want 14 (7 download, 7 install):\n%v", len(got), got)
	}
	if got[6] != (Progress{Phase: PhaseDownload, Percent: 100, Message: "Retrieving file 1 of 1"}) {
		t.Errorf("last download report = %+v", got[6])
	}
	if got[8] != (Progress{Phase: PhaseInstall, Percent: 20, Package: "haproxy", Message: "Unpacking haproxy (amd64)"}) {
		t.Errorf("first unpack report = %+v", got[8])
	}
	if last := got[len(got)-1]; last.Message != "Installed haproxy (amd64)" {
		t.Errorf("last report = %+v", last)
	}
}

func TestInstall_NotRootPrintsTheCommand(t *testing.T) {
	stream, calls := scriptedStreamer(t)
	a := replayApt(t, "testdata/cmd")
	a.Stream, a.Euid = stream, func() int { return 1000 }
	err := a.Install(context.Background(), installPkgs, nil)
	if !errors.Is(err, ErrNotRoot) {
		t.Fatalf("err = %v, want ErrNotRoot", err)
	}
	want := "install nginx, php8.2-fpm: not running as root; run as root:\n  sudo apt-get install -y --no-install-recommends nginx=1.22.1-9+deb12u11 php8.2-fpm=8.2.36-1~deb12u1"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if len(*calls) != 0 {
		t.Errorf("ran %q without root", *calls)
	}
}

func TestInstall_NothingToDo(t *testing.T) {
	a := &Apt{Euid: func() int { return 1000 }}
	if err := a.Install(context.Background(), nil, nil); err != nil {
		t.Fatalf("Install(nothing) as non-root = %v, want nil", err)
	}
}

func TestInstall_EmptyListsRunsUpdateFirst(t *testing.T) {
	stream, calls := scriptedStreamer(t,
		streamReply{status: readTestdata(t, "status/update.status"), output: readTestdata(t, "status/update.out")},
		streamReply{status: readTestdata(t, "status/install.status"), output: readTestdata(t, "status/install.out")},
	)
	a := replayApt(t, "testdata/emptylists")
	a.Stream = stream
	var phases []Phase
	var first Progress
	err := a.Install(context.Background(), installPkgs, func(p Progress) {
		if len(phases) == 0 {
			first = p
		}
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apt-get -o APT::Status-Fd=3 update", wantInstallCmd}
	if !slices.Equal(*calls, want) {
		t.Errorf("ran %q\nwant %q", *calls, want)
	}
	if first != (Progress{Phase: PhaseUpdate, Message: "apt-get update"}) {
		t.Errorf("first report = %+v, want the apt-get update announcement", first)
	}
	if !slices.Equal(phases, []Phase{PhaseUpdate, PhaseInstall}) {
		t.Errorf("phases = %v, want [update install]", phases)
	}
}

func TestInstall_VersionNotFoundUpdatesOnceAndRetries(t *testing.T) {
	notFound := streamReply{output: readTestdata(t, "status/version-not-found.out"), exit: 100}
	stream, calls := scriptedStreamer(t,
		notFound,
		streamReply{output: readTestdata(t, "status/update.out")},
		streamReply{output: readTestdata(t, "status/install.out")},
	)
	a := replayApt(t, "testdata/cmd")
	a.Stream = stream
	if err := a.Install(context.Background(), installPkgs, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{wantInstallCmd, "apt-get -o APT::Status-Fd=3 update", wantInstallCmd}
	if !slices.Equal(*calls, want) {
		t.Errorf("ran %q\nwant %q", *calls, want)
	}
}

func TestInstall_VersionGoneAfterUpdateSaysRunTrioLock(t *testing.T) {
	notFound := streamReply{output: readTestdata(t, "status/version-not-found.out"), exit: 100}
	stream, calls := scriptedStreamer(t, notFound, streamReply{}, notFound)
	a := replayApt(t, "testdata/cmd")
	a.Stream = stream
	err := a.Install(context.Background(), installPkgs, nil)
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CommandError", err)
	}
	if len(*calls) != 3 {
		t.Errorf("ran %d commands, want install, update, install", len(*calls))
	}
	for _, want := range []string{
		"install nginx, php8.2-fpm: apt-get exited with status 100\napt said:\n",
		"\n  E: Version '9.9' for 'nginx' was not found\n",
		"no longer in the Debian archive",
		"run `trio lock`",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%s\ndoes not contain %q", err, want)
		}
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 100 {
		t.Errorf("errors.As(*ExitError) = %v", ee)
	}
}

func TestInstall_FailureShowsLastTwentyLines(t *testing.T) {
	var out strings.Builder
	for i := range 50 {
		out.WriteString("line " + string(rune('A'+i%26)) + "\n")
	}
	out.WriteString("E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n")
	stream, _ := scriptedStreamer(t, streamReply{output: out.String(), exit: 100})
	a := replayApt(t, "testdata/cmd")
	a.Stream = stream
	err := a.Install(context.Background(), installPkgs, nil)
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CommandError", err)
	}
	if len(ce.Output) != outputTail || !strings.Contains(ce.Output[outputTail-1], "Could not get lock") {
		t.Errorf("Output = %q, want the last %d lines", ce.Output, outputTail)
	}
	if !strings.Contains(ce.Hint, "another apt or dpkg is running") {
		t.Errorf("Hint = %q", ce.Hint)
	}
}

func TestInstall_PolicyRcDenialIsNotAFailure(t *testing.T) {
	// What a Docker-style /usr/sbin/policy-rc.d (exit 101) makes the
	// maintainer scripts print; invoke-rc.d exits 0 and so does apt-get.
	out := readTestdata(t, "status/install.out") +
		"Setting up nginx (1.22.1-9+deb12u11) ...\ninvoke-rc.d: policy-rc.d denied execution of start.\n"
	stream, _ := scriptedStreamer(t, streamReply{status: readTestdata(t, "status/install.status"), output: out})
	a := replayApt(t, "testdata/cmd")
	a.Stream = stream
	if err := a.Install(context.Background(), installPkgs, nil); err != nil {
		t.Fatalf("Install = %v, want success", err)
	}
}

func TestInstallHint_RecordedFailures(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"status/held-broken.out", "sibling packages"},
		{"status/version-not-found.out", "see apt's output"}, // before update: no verdict yet
	}
	for _, tt := range tests {
		if got := installHint(readTestdata(t, tt.file), false); !strings.Contains(got, tt.want) {
			t.Errorf("%s: hint = %q, want it to contain %q", tt.file, got, tt.want)
		}
	}
	if !staleLists(readTestdata(t, "status/version-not-found.out")) {
		t.Error("version-not-found.out not recognised as stale lists")
	}
	if staleLists(readTestdata(t, "status/held-broken.out")) {
		t.Error("held-broken.out taken for stale lists")
	}
}

func TestInstallCommand_ForPlan(t *testing.T) {
	want := "apt-get install -y --no-install-recommends nginx=1.22.1-9+deb12u11 php8.2-fpm=8.2.36-1~deb12u1"
	if got := InstallCommand(installPkgs); got != want {
		t.Errorf("InstallCommand = %q\nwant %q", got, want)
	}
	got := InstallCommand([]PkgVersion{{Name: "mariadb-server", Version: "1:10.11.19-0+deb12u1"}, {Name: "odd", Version: "1.0 x"}})
	if want := "apt-get install -y --no-install-recommends mariadb-server=1:10.11.19-0+deb12u1 'odd=1.0 x'"; got != want {
		t.Errorf("InstallCommand = %q\nwant %q", got, want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"nginx=1.22.1-9+deb12u11":     "nginx=1.22.1-9+deb12u11",
		"php8.2-fpm=8.2.36-1~deb12u1": "php8.2-fpm=8.2.36-1~deb12u1",
		"pkg=~1":                      "'pkg=~1'", // bash would expand ~ after =
		"it's":                        `'it'\''s'`,
		"":                            "''",
		"a;rm -f":                     "'a;rm -f'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
