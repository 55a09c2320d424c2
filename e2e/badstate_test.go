package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBadState_PortInUse: a port held by another program stops up before
// anything starts, naming the program and the key to change.
func TestBadState_PortInUse(t *testing.T) {
	s := newStack(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.WebPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := s.Trio("up")
	if r.Code == 0 {
		t.Fatal("up succeeded with web.listen's port taken")
	}
	mustMatch(t, "up error", fmt.Sprintf(`web-0 cannot start: 127.0.0.1:%d is in use by pid %d \(.*\)\. Stop that program, or give this stack another port with web.listen \(trio.yaml:5:11\)`, s.WebPort, os.Getpid()), r.Stderr)
	if _, err := os.Stat(filepath.Join(s.Dir, ".trio", "data")); err == nil {
		t.Error("a refused up created the data directory")
	}
}

// TestBadState_ConcurrentUpAndInterruptedInit: a second up while one runs
// is refused; an up killed while initialising the database leaves nothing
// that stops the next one, which discards the half-made database.
func TestBadState_ConcurrentUpAndInterruptedInit(t *testing.T) {
	s := newStack(t)
	first := exec.Command(trioBin, "up")
	first.Dir = s.Dir
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = first.Stdout
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "applying schema.sql") {
			break
		}
	}
	r := s.Trio("up")
	if r.Code == 0 {
		t.Fatal("a second up ran while the first held the stack")
	}
	mustMatch(t, "second up", fmt.Sprintf(`another trio command is changing this stack \(pid %d: trio up\); wait for it to finish`, first.Process.Pid), r.Stderr)

	// Kill the first mid-initialisation.
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if _, err := os.Stat(filepath.Join(s.Dir, ".trio", "data", "db-0")); err == nil {
		t.Fatal("an interrupted init left a data directory that looks complete")
	}
	r = s.MustTrio("up")
	mustMatch(t, "up after the interrupted one", `init db-0: a start that was interrupted while initialising left .*db-0.init, which holds no app data yet; it is discarded and the database initialised again`, r.Stdout)
	s.AddEntry("Cy", "after the crash")
	if got := s.Entries(); len(got) != 1 {
		t.Fatalf("entries: %q", got)
	}
}

// TestBadState_DataDirFromAnotherVersion: a data directory made by another
// MariaDB series is refused with what to do, and left as it was.
func TestBadState_DataDirFromAnotherVersion(t *testing.T) {
	s := newStack(t)
	s.MustTrio("up")
	s.AddEntry("Di", "kept")
	s.MustTrio("down")
	marker := filepath.Join(s.Dir, ".trio", "data", "db-0", "mysql_upgrade_info")
	orig, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	before := treeSum(t, filepath.Join(s.Dir, ".trio", "data"))

	for _, tc := range []struct{ madeBy, want string }{
		{"10.6.12-MariaDB", `made by MariaDB 10.6.12-MariaDB, and versions.mariadb is "10.11"; take a backup of it, then run .trio up --upgrade-db.`},
		{"11.4.2-MariaDB", `made by MariaDB 11.4.2-MariaDB, newer than versions.mariadb "10.11" \(trio.yaml:3:\d+\); MariaDB cannot go back a version`},
	} {
		os.WriteFile(marker, []byte(tc.madeBy), 0o644)
		r := s.Trio("up")
		if r.Code == 0 {
			t.Fatalf("up accepted a data directory from %s", tc.madeBy)
		}
		mustMatch(t, "up error", tc.want, r.Stderr)
		if st := s.Status(); st.Instances[0].PID != 0 {
			t.Errorf("db-0 started despite the refusal: %+v", st.Instances[0])
		}
	}
	os.WriteFile(marker, orig, 0o644)
	if after := treeSum(t, filepath.Join(s.Dir, ".trio", "data")); after != before {
		t.Error("the refused ups changed the data directory")
	}
	s.MustTrio("up")
	if got := s.Entries(); len(got) != 1 || got[0] != "kept" {
		t.Fatalf("entries: %q", got)
	}
}

// TestBadState_StaleSnapshot: a snapshot naming pids that now belong to
// other processes is not trusted; those processes are left alone and the
// stack is started fresh.
func TestBadState_StaleSnapshot(t *testing.T) {
	s := newStack(t)
	s.MustTrio("up")
	s.MustTrio("down")
	// A process that has one of the old pids' place now.
	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()

	snap := filepath.Join(s.Dir, ".trio", "run", "agent.json")
	// down removed the snapshot; write the one an agent killed mid-flight
	// would have left, every pid now the sleeper's.
	up := s.MustTrio("up")
	_ = up
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range s.Status().Instances {
		syscall.Kill(i.PID, syscall.SIGKILL)
		waitGone(t, i.PID)
	}
	syscall.Kill(agentPID(t, s), syscall.SIGKILL)
	var doc map[string]any
	json.Unmarshal(b, &doc)
	for _, svc := range doc["services"].([]any) {
		svc.(map[string]any)["pid"] = sleeper.Process.Pid
	}
	b, _ = json.Marshal(doc)
	time.Sleep(100 * time.Millisecond)
	if err := os.WriteFile(snap, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.MustTrio("up")
	mustMatch(t, "up", `start db-0: not running`, r.Stdout)
	if !alive(sleeper.Process.Pid) {
		t.Fatal("trio killed a process that merely reused a pid from its snapshot")
	}
	for _, i := range s.WaitHealthy(10 * time.Second).Instances {
		if i.PID == sleeper.Process.Pid {
			t.Fatalf("%s adopted the unrelated pid %d", i.Name, i.PID)
		}
	}
}

// TestBadState_CrashLoopIsReported: an app that cannot start is reported
// as crash-looping with its log, and apply fails; fixing it recovers.
func TestBadState_CrashLoopIsReported(t *testing.T) {
	s := newStack(t)
	s.MustTrio("up")
	conf := filepath.Join(s.Dir, ".trio", "conf", "app-0", "php-fpm.conf")
	takeOver(t, conf, func(c string) string {
		// Valid for php-fpm -t, fatal at start: the socket's directory
		// does not exist.
		return strings.Replace(c, "listen = ", "listen = /nonexistent/dir/x.sock\n;listen = ", 1)
	})
	r := s.Trio("apply")
	if r.Code == 0 {
		t.Fatalf("apply of a config that cannot start succeeded:\n%s", r.Stdout)
	}
	mustMatch(t, "apply error", `app-0 .*(while starting|during reload)`, r.Stderr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.MustTrio("status")
		if strings.Contains(st.Stdout, "crash-loop") {
			mustMatch(t, "status", `app-0 is crash-looping; its log ends:\n`, st.Stdout)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no crash-loop reported:\n%s", st.Stdout)
		}
		time.Sleep(500 * time.Millisecond)
	}
	takeOver(t, conf, func(c string) string {
		return strings.Replace(c, "listen = /nonexistent/dir/x.sock\n;listen = ", "listen = ", 1)
	})
	s.MustTrio("apply")
	s.WaitHealthy(30 * time.Second)
}

// treeSum digests every file below dir, to tell whether anything changed.
func treeSum(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
