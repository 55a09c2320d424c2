package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEnsure_WaitsUntilReady(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0", "HELPER_DELAY=400ms")

	start := time.Now()
	st := ensure(t, a.client, spec)
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("Ensure returned after %s, before the program listened (400ms)", took)
	}
	if err := spec.Ready.Probe(context.Background()); err != nil {
		t.Errorf("ready check fails after Ensure: %v", err)
	}
	if st.State != "running" || !st.Healthy || st.PID <= 0 || st.Adopted || !st.Want || st.Restarts != 0 {
		t.Errorf("status = %+v, want running, healthy, wanted, with a pid", st)
	}
	if st.SpecHash != spec.Hash() || st.Tier != "web" {
		t.Errorf("status = %+v, want spec hash %s, tier web", st, spec.Hash())
	}
	if since := time.Since(st.Since); since < 0 || since > 10*time.Second {
		t.Errorf("since = %s, want about now", st.Since)
	}
	if log := readFile(t, spec.Log); !strings.Contains(log, "listening on") {
		t.Errorf("the program's output is not in its log %s:\n%s", spec.Log, log)
	}
}

func TestEnsure_ExitAtOnceShowsLogTail(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := shSpec(dir, "app-0", `echo "php-fpm: ERROR: unable to bind listening socket" >&2; exit 3`)
	spec.Ready = Check{Network: "unix", Address: filepath.Join(dir, "never.sock")}

	_, err := a.client.Ensure(context.Background(), spec)
	if err == nil {
		t.Fatal("Ensure of a program that exits at once succeeded")
	}
	if !strings.Contains(err.Error(), "exited with status 3") {
		t.Errorf("err = %v, want how the program ended", err)
	}
	if !strings.Contains(err.Error(), "unable to bind listening socket") {
		t.Errorf("err = %v, want the tail of the log", err)
	}
}

// TestEnsure_ExitAtOnceShowsLogTail_Repeated shows the race above: a program
// that exits within milliseconds is sometimes reported without its log.
func TestEnsure_ExitAtOnceShowsLogTail_Repeated(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	missing := 0
	for i := range 10 {
		spec := shSpec(dir, fmt.Sprintf("app-%d", i), `echo "marker-line" >&2; exit 3`)
		spec.Ready = Check{Network: "unix", Address: filepath.Join(dir, "never.sock")}
		_, err := a.client.Ensure(context.Background(), spec)
		if err == nil {
			t.Fatal("Ensure succeeded")
		}
		if !strings.Contains(err.Error(), "marker-line") {
			missing++
		}
		if err := a.client.Remove(context.Background(), spec.Name); err != nil {
			t.Fatal(err)
		}
	}
	if missing > 0 {
		t.Errorf("%d of 10 start failures came without the log tail", missing)
	}
}

func TestEnsure_SameSpecKeepsProcess(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	first := ensure(t, a.client, spec)
	again := ensure(t, a.client, spec)
	if again.PID != first.PID || again.Restarts != 0 {
		t.Errorf("same spec: pid %d → %d, restarts %d; want the process kept", first.PID, again.PID, again.Restarts)
	}
}

func TestEnsure_SpecChangeRestarts(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	first := ensure(t, a.client, spec)

	spec.Env = append(spec.Env, "CONFIG_GENERATION=2")
	second := ensure(t, a.client, spec)
	if second.PID == first.PID {
		t.Fatalf("changed spec kept pid %d", first.PID)
	}
	if !gone(first.PID) {
		t.Errorf("old process %d still runs next to %d", first.PID, second.PID)
	}
	if second.SpecHash != spec.Hash() || second.State != "running" || second.Restarts != 0 {
		t.Errorf("status = %+v, want running the new spec, no restarts counted", second)
	}
	if log := readFile(t, spec.Log); !strings.Contains(log, fmt.Sprintf("web-0[%d]: stopping on quit", first.PID)) {
		t.Errorf("old process was not stopped with its stop signal:\n%s", log)
	}
}

// TestEnsure_SpecChangeStopsOldProcessItsWay: the old process is stopped as
// the spec it was started with says, not as the new one does.
func TestEnsure_SpecChangeStopsOldProcessItsWay(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0", "HELPER_IGNORE=TERM")
	first := ensure(t, a.client, spec)

	spec.StopSignal, spec.StopTimeout = "TERM", Duration(time.Second)
	ensure(t, a.client, spec)
	if log := readFile(t, spec.Log); !strings.Contains(log, fmt.Sprintf("web-0[%d]: stopping on quit", first.PID)) {
		t.Errorf("old process was not stopped with its own stop signal (QUIT):\n%s", log)
	}
}

func TestService_CrashRestartsWithBackoff(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	first := ensure(t, a.client, spec)

	killed := time.Now()
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var states []string
	var st ServiceStatus
	waitFor(t, 10*time.Second, "a restart", func() bool {
		st = statusOf(t, a.client, "web-0")
		if len(states) == 0 || states[len(states)-1] != st.State {
			states = append(states, st.State)
		}
		return st.PID != first.PID && st.PID != 0 && spec.Ready.Probe(context.Background()) == nil
	})
	if !slices.Contains(states, "restarting") {
		t.Errorf("states seen %q, want restarting among them", states)
	}
	if st.Restarts != 1 || st.LastExit != "killed by signal killed" {
		t.Errorf("restarts %d, last exit %q; want 1, killed by signal killed", st.Restarts, st.LastExit)
	}
	if wait := st.Since.Sub(killed); wait < firstBackoff-20*time.Millisecond {
		t.Errorf("restarted %s after the crash, want at least the first backoff %s", wait, firstBackoff)
	}
	if st.LogTail != "" {
		t.Errorf("log tail shown for a single crash: %q", st.LogTail)
	}
}

func TestService_CrashLoop(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	// It lives long enough for Ensure to see it start, then fails.
	spec := shSpec(dir, "db-0", `echo "mariadbd: cannot open datadir ($$)"; sleep 0.2; exit 1`)
	ensure(t, a.client, spec)

	var states []string
	var st ServiceStatus
	waitFor(t, 15*time.Second, "crash-loop", func() bool {
		st = statusOf(t, a.client, "db-0")
		if len(states) == 0 || states[len(states)-1] != st.State {
			states = append(states, st.State)
		}
		return st.State == "crash-loop"
	})
	loopAt := time.Now()
	if i := slices.Index(states, "restarting"); i < 0 || i > slices.Index(states, "crash-loop") {
		t.Errorf("states seen %q, want restarting before crash-loop", states)
	}
	if st.Restarts != crashLoopAfter {
		t.Errorf("restarts = %d at crash-loop, want %d", st.Restarts, crashLoopAfter)
	}
	if !strings.Contains(st.LogTail, "mariadbd: cannot open datadir") {
		t.Errorf("crash-loop status has log tail %q, want the program's output", st.LogTail)
	}
	if st.LastExit != "exited with status 1" || !st.Want {
		t.Errorf("last exit %q, want %v; want exited with status 1, still wanted", st.LastExit, st.Want)
	}

	// Still retried, but slowly: the sixth start comes after a backoff of
	// 250ms<<4 = 4s.
	waitFor(t, 10*time.Second, "another restart", func() bool {
		st = statusOf(t, a.client, "db-0")
		return st.Restarts > crashLoopAfter || st.PID != 0
	})
	if wait := time.Since(loopAt); wait < 3*time.Second {
		t.Errorf("crash-looping service restarted after %s, want a long backoff", wait)
	}
}

func TestStop_SendsStopSignal(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	spec.StopTimeout = Duration(20 * time.Second)
	st := ensure(t, a.client, spec)
	worker := workerPID(t, spec)

	start := time.Now()
	if err := a.client.Stop(context.Background(), "web-0"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %s for a program that exits on QUIT", took)
	}
	if !gone(st.PID) || !gone(worker) {
		t.Errorf("after Stop: master gone %t, worker gone %t", gone(st.PID), gone(worker))
	}
	if log := readFile(t, spec.Log); !strings.Contains(log, "stopping on quit") {
		t.Errorf("the program did not get QUIT:\n%s", log)
	}
	after := statusOf(t, a.client, "web-0")
	if after.State != "stopped" || after.PID != 0 || after.Want || after.Restarts != 0 {
		t.Errorf("status after Stop = %+v, want stopped, not wanted, no restart", after)
	}
	// It stays down.
	time.Sleep(2 * firstBackoff)
	if after := statusOf(t, a.client, "web-0"); after.PID != 0 {
		t.Errorf("a stopped service was started again: %+v", after)
	}
}

func TestStop_KillsGroupAfterTimeout(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	childFile := filepath.Join(dir, "child.pid")
	// Both the shell and its child ignore TERM, as a wedged program would.
	spec := shSpec(dir, "app-0", `trap "" TERM; sleep 300 & echo $! > `+childFile+`; wait`)
	spec.StopTimeout = Duration(500 * time.Millisecond)
	st := ensure(t, a.client, spec)
	killOnCleanup(t, st.PID)
	var child int
	waitFor(t, 5*time.Second, "the child's pid", func() bool {
		_, err := fmt.Sscan(readFile(t, childFile), &child)
		return err == nil
	})
	killOnCleanup(t, child)

	start := time.Now()
	if err := a.client.Stop(context.Background(), "app-0"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("Stop took %s, want the stop timeout (500ms) and then a kill", took)
	}
	if !gone(st.PID) {
		t.Errorf("the leader %d survived Stop", st.PID)
	}
	waitGone(t, child, "the child that ignored TERM")
	if after := statusOf(t, a.client, "app-0"); after.State != "stopped" || after.LastExit != "killed by signal killed" {
		t.Errorf("status after Stop = %+v", after)
	}
}

// TestService_KillsOrphanedGroupOnCrash is nginx's case: its master killed
// with SIGKILL leaves workers that hold the port; they must be gone before
// the new master starts.
func TestService_KillsOrphanedGroupOnCrash(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	first := ensure(t, a.client, spec)
	worker := workerPID(t, spec)
	killOnCleanup(t, worker)

	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a restart", func() bool {
		st := statusOf(t, a.client, "web-0")
		return st.PID != first.PID && st.PID != 0 && spec.Ready.Probe(context.Background()) == nil
	})
	if !gone(worker) {
		t.Errorf("the orphaned worker %d of the killed master survived", worker)
	}
	// The new master checks the old worker when it starts.
	log := readFile(t, spec.Log)
	if want := fmt.Sprintf("previous worker %d gone", worker); !strings.Contains(log, want) {
		t.Errorf("log does not say %q:\n%s", want, log)
	}
}

func TestReload_WaitsForNewWorkers(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0", "HELPER_RELOAD_DELAY=400ms")
	st := ensure(t, a.client, spec)
	oldWorker := workerPID(t, spec)

	start := time.Now()
	if err := a.client.Reload(context.Background(), "web-0"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("Reload returned after %s, before the new worker started (400ms)", took)
	}
	kids := children(st.PID)
	delete(kids, oldWorker)
	if len(kids) == 0 {
		t.Errorf("after Reload the children of %d are %v; want a new worker (old one %d)", st.PID, kids, oldWorker)
	}
	after := statusOf(t, a.client, "web-0")
	if after.PID != st.PID || after.State != "running" || after.Restarts != 0 {
		t.Errorf("status after Reload = %+v, want the same master %d, running", after, st.PID)
	}
	if log := readFile(t, spec.Log); !strings.Contains(log, "reloaded") {
		t.Errorf("log does not show the reload:\n%s", log)
	}
}

// TestReload_TimesOutWithoutNewWorkers: a program that ignores the signal
// (nginx refusing a broken config) makes the reload fail clearly. The
// agent's own limit is a fixed 30 s, so the test gives a shorter context.
func TestReload_TimesOutWithoutNewWorkers(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0", "HELPER_IGNORE=HUP")
	st := ensure(t, a.client, spec)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := a.op("web-0", func(s *service) error { return s.reload(ctx) })
	if err == nil {
		t.Fatal("a reload that started no workers succeeded")
	}
	if took := time.Since(start); took < time.Second || took > 5*time.Second {
		t.Errorf("reload failed after %s, want after the 1s context", took)
	}
	for _, want := range []string{"web-0 did not start new workers after HUP", "the reload may have been refused", spec.Log, "listening on"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
	if after := statusOf(t, a.client, "web-0"); after.PID != st.PID || after.State != "running" {
		t.Errorf("a refused reload changed the service: %+v", after)
	}
}

func TestReload_WithoutSignalRestarts(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "app-0")
	spec.ReloadSignal = ""
	first := ensure(t, a.client, spec)
	if err := a.client.Reload(context.Background(), "app-0"); err != nil {
		t.Fatal(err)
	}
	after := statusOf(t, a.client, "app-0")
	if after.PID == first.PID || !gone(first.PID) || after.State != "running" || after.Restarts != 0 {
		t.Errorf("reload by restart: pid %d → %+v", first.PID, after)
	}
}

func TestReload_NotRunning(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	ensure(t, a.client, spec)
	if err := a.client.Stop(context.Background(), "web-0"); err != nil {
		t.Fatal(err)
	}
	err := a.client.Reload(context.Background(), "web-0")
	if err == nil || !strings.Contains(err.Error(), "web-0 is not running; start it with `trio up`") {
		t.Errorf("reload of a stopped service: %v", err)
	}
}

func TestClient_RestartRemoveUnknown(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	a := startAgent(t, dir)
	spec := listenSpec(t, dir, "web-0")
	first := ensure(t, a.client, spec)
	ctx := context.Background()

	if err := a.client.Restart(ctx, "web-0"); err != nil {
		t.Fatal(err)
	}
	st := statusOf(t, a.client, "web-0")
	if st.PID == first.PID || !gone(first.PID) || st.Restarts != 0 || st.State != "running" {
		t.Errorf("after Restart: pid %d → %+v", first.PID, st)
	}

	if err := a.client.Remove(ctx, "web-0"); err != nil {
		t.Fatal(err)
	}
	if !gone(st.PID) {
		t.Errorf("Remove left pid %d running", st.PID)
	}
	all, err := a.client.Status(ctx)
	if err != nil || len(all.Services) != 0 {
		t.Errorf("status after Remove = %+v, %v; want no services", all, err)
	}
	for name, call := range map[string]func() error{
		"reload":  func() error { return a.client.Reload(ctx, "web-0") },
		"restart": func() error { return a.client.Restart(ctx, "web-0") },
		"stop":    func() error { return a.client.Stop(ctx, "web-0") },
		"remove":  func() error { return a.client.Remove(ctx, "web-0") },
	} {
		if err := call(); !errors.Is(err, ErrUnknown) {
			t.Errorf("%s of a removed service: %v, want ErrUnknown", name, err)
		}
	}
}
