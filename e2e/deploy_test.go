package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load drives GET path with a few clients until stop is called, counting
// every request that did not answer 200.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErr   string
	bodies     map[string]int // how often each marker was seen
	cancel     context.CancelFunc
	done       sync.WaitGroup
}

func startLoad(t testing.TB, url string, clients int, markers ...string) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, bodies: map[string]int{}}
	for i := 0; i < clients; i++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := c.Do(req)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.fail(fmt.Sprintf("%d %.200s", resp.StatusCode, body))
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				for _, m := range markers {
					if strings.Contains(string(body), m) {
						l.bodies[m]++
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if l.firstErr == "" {
		l.firstErr = msg
	}
	l.mu.Unlock()
}

func (l *load) stop() {
	l.cancel()
	l.done.Wait()
}

// check stops the load and fails the test if any request failed.
func (l *load) check(t testing.TB, what string) {
	t.Helper()
	l.stop()
	if l.ok.Load() == 0 {
		t.Fatalf("%s: no request succeeded", what)
	}
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%s: %d of %d requests failed; the first: %s", what, n, n+l.ok.Load(), l.firstErr)
	}
	t.Logf("%s: %d requests, none failed", what, l.ok.Load())
}

// TestDeploy_UnderLoad: a code change rolls out with no failed request; a
// release whose health check fails is never promoted; rollback returns.
func TestDeploy_UnderLoad(t *testing.T) {
	s := newStack(t)
	s.MustTrio("up")
	views := filepath.Join(s.Dir, "src", "views.php")
	edit := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(views)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("views.php has no %q", from)
		}
		os.WriteFile(views, []byte(strings.Replace(string(b), from, to, 1)), 0o644)
	}

	t.Run("new code rolls out and no request fails", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 6, "Sign the guestbook", "Sign our guestbook")
		time.Sleep(300 * time.Millisecond)
		edit("Sign the guestbook", "Sign our guestbook")
		r := s.MustTrio("apply")
		mustMatch(t, "apply", `deploy app-0: release [0-9a-f]{12} \(app code changed\)`, r.Stdout)
		time.Sleep(300 * time.Millisecond)
		l.check(t, "deploy")
		if l.bodies["Sign our guestbook"] == 0 {
			t.Error("the new code never served")
		}
		if _, _, body := s.Get("/"); !strings.Contains(body, "Sign our guestbook") {
			t.Error("the page still shows the old code")
		}
	})

	t.Run("a release that fails its health check is not promoted", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 4)
		// A parse error in the health path's code: the check pool answers 500.
		os.WriteFile(filepath.Join(s.Dir, "src", "broken.php"), []byte("<?php this is not php;\n"), 0o644)
		edit("declare(strict_types=1);", "declare(strict_types=1);\nrequire __DIR__ . '/broken.php';")
		r := s.Trio("apply")
		if r.Code == 0 {
			t.Fatalf("apply promoted a broken release:\n%s", r.Stdout)
		}
		mustMatch(t, "apply", `release [0-9a-f]{12} failed its health check \(/health answered 500: .*\); nothing was switched, the running release keeps serving`, r.Stderr)
		l.check(t, "broken release")
		if _, _, body := s.Get("/"); !strings.Contains(body, "Sign our guestbook") {
			t.Error("the running release stopped serving")
		}
		// Mend it again for the next step.
		edit("declare(strict_types=1);\nrequire __DIR__ . '/broken.php';", "declare(strict_types=1);")
		os.Remove(filepath.Join(s.Dir, "src", "broken.php"))
	})

	t.Run("rollback returns to the previous release under load", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 4)
		r := s.MustTrio("rollback")
		mustMatch(t, "rollback", `deploy app-0: release [0-9a-f]{12} \(rollback from [0-9a-f]{12}\)`, r.Stdout)
		l.check(t, "rollback")
		if _, _, body := s.Get("/"); !strings.Contains(body, "Sign the guestbook") {
			t.Error("rollback did not bring the old page back")
		}
		r = s.MustTrio("plan")
		mustMatch(t, "plan after rollback", `note: release [0-9a-f]{12} was rolled back; it stays out until app.root changes again\nno changes`, r.Stdout)
	})
}
