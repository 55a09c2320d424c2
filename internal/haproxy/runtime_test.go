package haproxy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
)

func TestClient_SetServerState(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	ctx := context.Background()
	c := clientFrom("", false)
	for _, tc := range []struct {
		state haproxy.AdminState
		want  haproxy.Status
	}{{haproxy.Drain, haproxy.StatusDrain}, {haproxy.Maint, haproxy.StatusMaint}} {
		if err := lb.Client.SetServerState(ctx, haproxy.Backend, "web-1", tc.state); err != nil {
			t.Fatal(err)
		}
		if s := lb.server("web-1"); s.Status != tc.want {
			t.Errorf("after %s web-1 is %s (%q), want %s", tc.state, s.Status, s.Detail, tc.want)
		}
		before := lb.Webs[1].Hits()
		for range 6 {
			if code, body, _ := get(t, c, lb.URL+"/"); code != 200 || strings.TrimSpace(body) != "web-0" {
				t.Errorf("with web-1 %s: %d from %q", tc.state, code, strings.TrimSpace(body))
			}
		}
		if lb.Webs[1].Hits() != before {
			t.Errorf("web-1 got requests while %s", tc.state)
		}
	}
	if err := lb.Client.SetServerState(ctx, haproxy.Backend, "web-1", haproxy.Ready); err != nil {
		t.Fatal(err)
	}
	lb.waitServers(haproxy.StatusUp, 2*time.Second)
	seen := map[string]bool{}
	for range 4 {
		_, body, _ := get(t, c, lb.URL+"/")
		seen[strings.TrimSpace(body)] = true
	}
	if !seen["web-1"] {
		t.Errorf("web-1 got no requests once ready again: %v", seen)
	}
	err := lb.Client.SetServerState(ctx, haproxy.Backend, "web-9", haproxy.Drain)
	if !errors.Is(err, haproxy.ErrRefused) || !strings.Contains(err.Error(), "No such server") {
		t.Errorf("draining a server that does not exist: %v", err)
	}
	if err := lb.Client.SetServerState(ctx, haproxy.Backend, "web-1", "off"); err == nil {
		t.Error("an unknown state was accepted")
	}
}

// TestClient_SaveServerState: a drain survives a reload when the state is
// saved just before it, and is forgotten when it is not.
func TestClient_SaveServerState(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	ctx := context.Background()
	if err := lb.Client.SetServerState(ctx, haproxy.Backend, "web-1", haproxy.Drain); err != nil {
		t.Fatal(err)
	}
	if err := lb.Client.SaveServerState(ctx, lb.Env.LBStateFile(0)); err != nil {
		t.Fatal(err)
	}
	lb.reload()
	if s := lb.server("web-1"); s.Status != haproxy.StatusDrain {
		t.Errorf("after a reload with the state saved, web-1 is %s (%q), want DRAIN", s.Status, s.Detail)
	}
	if err := os.Remove(lb.Env.LBStateFile(0)); err != nil {
		t.Fatal(err)
	}
	lb.reload()
	if s := lb.server("web-1"); s.Status != haproxy.StatusUp {
		t.Errorf("after a reload without a saved state, web-1 is %s, want UP", s.Status)
	}
}

func TestClient_NotRunning(t *testing.T) {
	c := haproxy.NewClient(filepath.Join(t.TempDir(), "lb-0.sock"))
	if _, err := c.ServerStates(context.Background()); !errors.Is(err, haproxy.ErrNotRunning) {
		t.Errorf("no socket: %v, want ErrNotRunning", err)
	}
}
