package apt

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// A recording is one command run on a real Debian 12 machine and what it
// printed. On disk it is a txtar archive with the sections cmd, exit,
// stdout and stderr (see TestRecord_Commands).
type recording struct {
	cmd            string
	exit           int
	stdout, stderr []byte
}

// loadRecordings reads every recording in dirs, keyed by command line.
// Later dirs override earlier ones, so a scenario directory only needs the
// commands whose output differs.
func loadRecordings(t testing.TB, dirs ...string) map[string]recording {
	t.Helper()
	recs := map[string]recording{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no recordings in %s; run go test -run TestRecord -record on a Debian 12 machine", dir)
		}
		for _, f := range files {
			a, err := txtar.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var r recording
			for _, sec := range a.Files {
				switch sec.Name {
				case "cmd":
					r.cmd = strings.TrimSpace(string(sec.Data))
				case "exit":
					if r.exit, err = strconv.Atoi(strings.TrimSpace(string(sec.Data))); err != nil {
						t.Fatalf("%s: exit: %v", f, err)
					}
				case "stdout":
					r.stdout = sec.Data
				case "stderr":
					r.stderr = sec.Data
				}
			}
			if r.cmd == "" {
				t.Fatalf("%s: no cmd section", f)
			}
			recs[r.cmd] = r
		}
	}
	return recs
}

// replayRunner is a Runner that answers from recordings and fails the test
// on any command it has no recording for.
func replayRunner(t testing.TB, recs map[string]recording) Runner {
	t.Helper()
	return func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		cmd := commandLine(name, args)
		r, ok := recs[cmd]
		if !ok {
			known := make([]string, 0, len(recs))
			for k := range recs {
				known = append(known, "  "+k)
			}
			slices.Sort(known)
			t.Errorf("no recording for %q; have:\n%s", cmd, strings.Join(known, "\n"))
			return nil, nil, fmt.Errorf("no recording for %q", cmd)
		}
		var err error
		if r.exit != 0 {
			err = &ExitError{Command: cmd, Code: r.exit, Stderr: r.stderr}
		}
		return r.stdout, r.stderr, err
	}
}

// replayApt returns an Apt that answers short commands from the
// recordings in dirs, runs as root, finds programs in /usr/sbin, and fails
// the test if anything tries to run apt-get.
func replayApt(t testing.TB, dirs ...string) *Apt {
	t.Helper()
	return &Apt{
		Run: replayRunner(t, loadRecordings(t, dirs...)),
		Stream: func(ctx context.Context, env []string, status func(string), name string, args ...string) ([]byte, error) {
			t.Errorf("unexpected %s", commandLine(name, args))
			return nil, errors.New("unexpected command")
		},
		Euid:     func() int { return 0 },
		LookPath: func(file string) (string, error) { return "/usr/sbin/" + file, nil },
	}
}

// recordingName is a file name for cmd: its first words, readable, and a
// hash of the whole line so long argument lists do not collide.
func recordingName(cmd string) string {
	words := strings.Fields(cmd)
	if len(words) > 3 {
		words = words[:3]
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.Join(words, "_"))
	h := fnv.New32a()
	h.Write([]byte(cmd))
	return fmt.Sprintf("%s-%08x.txtar", strings.Trim(name, "_"), h.Sum32())
}

// writeRecording stores r in dir.
func writeRecording(t testing.TB, dir, note string, r recording) {
	t.Helper()
	a := &txtar.Archive{
		Comment: []byte(note + "\n"),
		Files: []txtar.File{
			{Name: "cmd", Data: []byte(r.cmd + "\n")},
			{Name: "exit", Data: []byte(strconv.Itoa(r.exit) + "\n")},
			{Name: "stdout", Data: r.stdout},
			{Name: "stderr", Data: r.stderr},
		},
	}
	if err := os.WriteFile(filepath.Join(dir, recordingName(r.cmd)), txtar.Format(a), 0o644); err != nil {
		t.Fatal(err)
	}
}
