package haproxy_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
)

// TestProcess_RefusedReload: a reload with a config HAProxy refuses starts
// no new worker (so the agent sees it failed) and the old one serves on.
func TestProcess_RefusedReload(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	good, err := os.ReadFile(lb.Config)
	if err != nil {
		t.Fatal(err)
	}
	write(t, lb.Config, append(good, "    no-such-keyword\n"...), 0o644)
	lb.waitReloadable()
	before := workers(t, lb.Master)
	if err := syscall.Kill(lb.Master, haproxy.MasterWorker("", "").ReloadSignal); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	after := workers(t, lb.Master)
	for pid := range after {
		if !before[pid] {
			t.Errorf("a refused config started worker %d", pid)
		}
	}
	if len(after) == 0 {
		t.Error("the old worker is gone")
	}
	if code, _, _ := get(t, clientFrom("", false), lb.URL+"/"); code != 200 {
		t.Errorf("after a refused reload: %d", code)
	}
	write(t, lb.Config, good, 0o644)
	lb.reload()
	if code, _, _ := get(t, clientFrom("", false), lb.URL+"/"); code != 200 {
		t.Errorf("after the config was mended: %d", code)
	}
}

// TestProcess_BackToBackReloads: reloads one right after the other all
// take, provided each waits until the master is reloadable again; a
// signal sent while it re-executes itself would be lost.
func TestProcess_BackToBackReloads(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	for range 10 {
		lb.reload()
	}
	lb.waitReloadable()
	if code, _, _ := get(t, clientFrom("", false), lb.URL+"/"); code != 200 {
		t.Errorf("after 10 reloads: %d", code)
	}
}

var (
	wrkSocketErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx       = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkRequests     = regexp.MustCompile(`(\d+) requests in`)
)

// TestLB_ReloadUnderLoad reloads HAProxy 20 times under keep-alive load:
// each reload starts new workers (what the agent watches for), and no
// request fails: the listeners pass to the new workers, and the old ones
// close each keep-alive connection after a response, never under a
// request.
func TestLB_ReloadUnderLoad(t *testing.T) {
	wrk := requireProgram(t, "wrk")
	lb := startLB(t, lbOptions{YAML: twoWebs})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, "-t2", "-c16", "-d5s", lb.URL+"/")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	for range 20 {
		if err := lb.Client.SaveServerState(ctx, lb.Env.LBStateFile(0)); err != nil {
			t.Fatal(err)
		}
		lb.reload()
		time.Sleep(150 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Logf("wrk under 20 reloads:\n%s", report)
	m := wrkRequests.FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no request count in wrk's report")
	}
	if n, _ := strconv.Atoi(m[1]); n < 1000 {
		t.Errorf("only %d requests in 5s", n)
	}
	if m := wrkNon2xx.FindStringSubmatch(report); m != nil {
		t.Errorf("%s responses were not 2xx or 3xx", m[1])
	}
	if m := wrkSocketErrors.FindStringSubmatch(report); m != nil {
		t.Errorf("socket errors during reloads: %s", m[0])
	}
}
