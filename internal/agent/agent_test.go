package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAgent_AdoptsProcessesAfterRestart: an agent that ends leaves its
// processes running; the next agent on the same run directory adopts them
// and restarts them when they die.
//
// The first agent runs in a process of its own, as `trio agent` does: an
// agent in this test binary would keep waiting on its children after Run
// returned, and restart them too.
func TestAgent_AdoptsProcessesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	first := startHelperAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	st := ensure(t, NewClient(dir), spec)
	killOnCleanup(t, st.PID)
	worker := workerPID(t, spec)
	killOnCleanup(t, worker)

	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the first agent to end", func() bool { return gone(first.Process.Pid) })
	if gone(st.PID) {
		t.Fatalf("the process %d ended with its agent", st.PID)
	}
	if _, err := NewClient(dir).Ping(context.Background()); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Ping with no agent: %v, want ErrNoAgent", err)
	}
	off, err := Offline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(off.Services) != 1 || off.Services[0].State != "running" || off.Services[0].PID != st.PID || !off.Services[0].Healthy || off.Version != "helper" {
		t.Errorf("Offline = %+v, want web-0 running as %d, healthy", off, st.PID)
	}

	// The agent answers while it restores its snapshot.
	a := startAgent(t, dir)
	adopted := waitStatus(t, a.client, "web-0", "adopted", func(s ServiceStatus) bool { return s.PID != 0 && s.Healthy })
	if adopted.PID != st.PID || !adopted.Adopted || adopted.State != "running" || !adopted.Healthy || !adopted.Want {
		t.Fatalf("after agent restart: %+v, want pid %d adopted, running, healthy", adopted, st.PID)
	}
	if d := adopted.Since.Sub(st.Since); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("adopted since %s, started %s: want the process's real start", adopted.Since, st.Since)
	}
	// Ensure with the same spec keeps the adopted process.
	if again := ensure(t, a.client, spec); again.PID != st.PID {
		t.Errorf("Ensure of the adopted service replaced pid %d with %d", st.PID, again.PID)
	}

	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var after ServiceStatus
	waitFor(t, 10*time.Second, "the adopted process to be restarted", func() bool {
		after = statusOf(t, a.client, "web-0")
		return after.PID != st.PID && after.PID != 0 && spec.Ready.Probe(context.Background()) == nil
	})
	if after.Adopted || after.Restarts != 1 || !strings.Contains(after.LastExit, "started by an earlier agent") {
		t.Errorf("after the adopted process died: %+v", after)
	}
	if !gone(worker) {
		t.Errorf("the adopted process's worker %d survived it", worker)
	}
}

// TestAgent_DoesNotAdoptReusedPID: a pid in the snapshot whose start time
// differs belongs to another process now; the agent leaves that process
// alone and starts the service afresh.
func TestAgent_DoesNotAdoptReusedPID(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	first := startHelperAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	st := ensure(t, NewClient(dir), spec)
	killOnCleanup(t, st.PID)
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the first agent to end", func() bool { return gone(first.Process.Pid) })

	// Pretend the pid was reused: same number, another start time.
	path := filepath.Join(dir, snapshotName)
	var snap map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &snap); err != nil {
		t.Fatal(err)
	}
	entry := snap["services"].([]any)[0].(map[string]any)
	if int(entry["pid"].(float64)) != st.PID {
		t.Fatalf("snapshot entry %v, want pid %d", entry, st.PID)
	}
	entry["start"] = entry["start"].(float64) + 1
	b, _ := json.Marshal(snap)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if off, err := Offline(dir); err != nil || off.Services[0].State != "stopped" || off.Services[0].PID != 0 {
		t.Errorf("Offline with a reused pid = %+v, %v; want stopped", off, err)
	}

	a := startAgent(t, dir)
	fresh := waitStatus(t, a.client, "web-0", "restored", func(s ServiceStatus) bool { return s.PID != 0 && s.Healthy })
	if fresh.PID == st.PID || fresh.PID == 0 || fresh.Adopted || fresh.State != "running" {
		t.Errorf("after agent restart: %+v, want a fresh process, not %d", fresh, st.PID)
	}
	if gone(st.PID) {
		t.Errorf("the agent killed pid %d, which it could not prove was its own", st.PID)
	}
}

func TestOffline_ReportsAliveAndDead(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	if st, err := Offline(dir); err != nil || len(st.Services) != 0 {
		t.Errorf("Offline without a snapshot = %+v, %v", st, err)
	}

	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	info, err := readProc(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}

	snap := snapshot{Version: "v9", Services: []snapshotEntry{
		{Spec: shSpec(dir, "db-0", "x"), Want: true, PID: live.Process.Pid, Start: info.Start},
		{Spec: shSpec(dir, "app-0", "x"), Want: true, PID: dead.Process.Pid, Start: 12345},
		{Spec: shSpec(dir, "web-0", "x"), Want: false},
		{Spec: listenSpec(t, dir, "web-1"), Want: true, PID: live.Process.Pid, Start: info.Start},
	}}
	b, _ := json.Marshal(snap)
	if err := os.WriteFile(filepath.Join(dir, snapshotName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Offline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "v9" || len(st.Services) != 4 {
		t.Fatalf("Offline = %+v", st)
	}
	for i, want := range []struct {
		name, state string
		pid         int
		healthy     bool
		want        bool
	}{
		{"db-0", "running", live.Process.Pid, true, true},
		{"app-0", "stopped", 0, false, true},
		{"web-0", "stopped", 0, false, false},
		{"web-1", "running", live.Process.Pid, false, true}, // its socket does not answer
	} {
		got := st.Services[i]
		if got.Name != want.name || got.State != want.state || got.PID != want.pid || got.Healthy != want.healthy || got.Want != want.want {
			t.Errorf("service %d = %+v, want %+v", i, got, want)
		}
		if got.SpecHash != snap.Services[i].Spec.Hash() {
			t.Errorf("%s spec hash %s, want %s", got.Name, got.SpecHash, snap.Services[i].Spec.Hash())
		}
	}
	if since := time.Since(st.Services[0].Since); since < 0 || since > time.Minute {
		t.Errorf("db-0 since %s, want its start a moment ago", st.Services[0].Since)
	}

	if err := os.WriteFile(filepath.Join(dir, snapshotName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Offline(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, snapshotName)) {
		t.Errorf("Offline of a broken snapshot: %v, want an error naming it", err)
	}
}

func TestAgent_SocketIsPrivate(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	startAgent(t, dir)
	fi, err := os.Stat(filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %s, want a socket with mode 0600", fi.Mode())
	}
}

func TestAgent_SecondAgentFails(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	startAgent(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := New(dir, "test", testLog(t)).Run(ctx)
	if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), filepath.Join(dir, lockName)) {
		t.Errorf("second agent: %v, want ErrRunning naming the lock", err)
	}
	// The first one still answers.
	if _, err := NewClient(dir).Ping(context.Background()); err != nil {
		t.Errorf("first agent after the second one failed: %v", err)
	}
}

func TestClient_NoAgent(t *testing.T) {
	t.Parallel()
	_, err := NewClient(shortDir(t)).Ping(context.Background())
	if !errors.Is(err, ErrNoAgent) {
		t.Errorf("Ping of an empty run dir: %v, want ErrNoAgent", err)
	}
}

// threeTiers starts db-0, app-0 and web-0 in start order; each appends its
// name to dir/order when told to stop.
func threeTiers(t testing.TB, a *runningAgent, dir string) []ServiceStatus {
	t.Helper()
	var out []ServiceStatus
	for _, name := range []string{"db-0", "app-0", "web-0"} {
		out = append(out, ensure(t, a.client, listenSpec(t, dir, name, "HELPER_ORDER="+filepath.Join(dir, "order"))))
	}
	return out
}

func TestShutdown_StopStopsEverythingInReverse(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	started := threeTiers(t, a, dir)

	if err := a.client.Shutdown(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if err := a.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "order")); got != "web-0\napp-0\ndb-0\n" {
		t.Errorf("stop order:\n%s\nwant web-0, app-0, db-0", got)
	}
	for _, st := range started {
		if !gone(st.PID) {
			t.Errorf("%s (pid %d) still runs after Shutdown(stop=true)", st.Name, st.PID)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, SocketName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, snapshotName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("snapshot left behind after Shutdown(stop=true): %v", err)
	}
}

func TestShutdown_LeaveKeepsProcesses(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	started := threeTiers(t, a, dir)

	if err := a.client.Shutdown(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := a.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	for _, st := range started {
		if gone(st.PID) {
			t.Errorf("%s (pid %d) ended with Shutdown(stop=false)", st.Name, st.PID)
		}
	}
	if got := readFile(t, filepath.Join(dir, "order")); got != "" {
		t.Errorf("services were told to stop: %q", got)
	}
	if _, err := a.client.Ping(context.Background()); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Ping after Shutdown: %v, want ErrNoAgent", err)
	}
	off, err := Offline(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range started {
		if got := off.Services[i]; got.Name != st.Name || got.PID != st.PID || got.State != "running" {
			t.Errorf("snapshot entry %d = %+v, want %s running as %d", i, got, st.Name, st.PID)
		}
	}
}

func TestEnsure_StartFailures(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	ctx := context.Background()

	spec := shSpec(dir, "app-0", "true")
	spec.Path = filepath.Join(dir, "no-such-program")
	if _, err := a.client.Ensure(ctx, spec); err == nil || !strings.Contains(err.Error(), "start app-0: ") {
		t.Errorf("Ensure of a missing program: %v", err)
	}
	spec = shSpec(dir, "web-0", "sleep 60")
	spec.Log = filepath.Join(dir, "no-such-dir", "web-0.log")
	if _, err := a.client.Ensure(ctx, spec); err == nil || !strings.Contains(err.Error(), "open log of web-0: ") {
		t.Errorf("Ensure with an unwritable log: %v", err)
	}
}

// TestAPI_SpecNameMustMatchPath talks HTTP to the socket directly, as only
// a client other than Client can send a spec to the wrong path.
func TestAPI_SpecNameMustMatchPath(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	b, _ := json.Marshal(shSpec(dir, "app-0", "sleep 60"))
	req, _ := http.NewRequest(http.MethodPut, "http://agent/v1/services/web-0", bytes.NewReader(b))
	resp, err := a.client.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if st, _ := a.client.Status(context.Background()); len(st.Services) != 0 {
		t.Errorf("a refused spec was added: %+v", st.Services)
	}
	if !strings.Contains(e.Error, "app-0") {
		t.Errorf("error %q does not say what is wrong", e.Error)
	}
}

// TestAgent_RunEndReleasesProcesses: once Run has returned without
// stopping the services, this Agent no longer acts on them; otherwise an
// agent embedded in a longer-lived process (or a test) restarts processes
// that a new agent has adopted and overwrites its snapshot.
func TestAgent_RunEndReleasesProcesses(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	st := ensure(t, a.client, spec)
	a.cancel()
	if err := a.wait(t); err != nil {
		t.Fatal(err)
	}
	if gone(st.PID) {
		t.Fatalf("pid %d ended with Run", st.PID)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(firstBackoff + 500*time.Millisecond)
	s := a.list()[0].status()
	if s.PID != 0 {
		t.Errorf("an agent whose Run ended restarted web-0 as pid %d", s.PID)
	}
}
