package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHost_Lifecycle walks one stack through a user's life: up, entries,
// crashes of each tier and of the agent, config changes and migrations,
// down and up again. The steps share a stack because a cold start
// initialises a database, which costs seconds.
func TestHost_Lifecycle(t *testing.T) {
	s := newStack(t)
	r := s.MustTrio("up")
	mustMatch(t, "up output", `init db-0: new data directory; then schema.sql; then 1 migration`, r.Stdout)
	mustMatch(t, "up output", `guestbook is up at http://127.0.0.1:\d+/ \(/health answered 200\)`, r.Stdout)

	t.Run("serves the app and static files", func(t *testing.T) {
		code, _, body := s.Get("/")
		if code != http.StatusOK || !strings.Contains(body, "<form") {
			t.Fatalf("GET / = %d:\n%s", code, body)
		}
		code, h, _ := s.Get("/static/app.css")
		if code != http.StatusOK || h.Get("Cache-Control") != "public, max-age=3600" || h.Get("ETag") == "" {
			t.Errorf("plain static file: %d, Cache-Control %q, ETag %q", code, h.Get("Cache-Control"), h.Get("ETag"))
		}
		code, h, _ = s.Get("/static/app.3f2a9c1b.css")
		if code != http.StatusOK || h.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("hashed static file: %d, Cache-Control %q", code, h.Get("Cache-Control"))
		}
		// PHP source and files outside the web root are never sent.
		for _, p := range []string{"/src/db.php", "/trio.yaml", "/index.php", "/.trio/run/agent.json"} {
			if code, _, body := s.Get(p); code == http.StatusOK && (strings.Contains(body, "<?php") || strings.Contains(body, "password")) {
				t.Errorf("GET %s leaked a source or config file", p)
			}
		}
	})

	t.Run("apply with nothing changed does nothing", func(t *testing.T) {
		r := s.MustTrio("apply")
		if strings.TrimSpace(r.Stdout) != "no changes" {
			t.Fatalf("apply after up:\n%s", r.Stdout)
		}
	})

	s.AddEntry("Ann", "first entry")
	s.AddEntry("Bob", "second entry")

	t.Run("each tier killed with SIGKILL comes back with the data", func(t *testing.T) {
		for _, name := range []string{"app-0", "web-0", "db-0"} {
			before := s.Status()
			pid := s.PID(name)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %s: %v", name, err)
			}
			st := s.WaitHealthy(30 * time.Second)
			for i, inst := range st.Instances {
				if inst.Name == name {
					if inst.PID == pid {
						t.Errorf("%s: same pid %d after SIGKILL", name, pid)
					}
					if inst.Restarts != before.Instances[i].Restarts+1 {
						t.Errorf("%s: restarts %d, want %d", name, inst.Restarts, before.Instances[i].Restarts+1)
					}
				}
			}
			if got := s.Entries(); !slices.Contains(got, "first entry") || !slices.Contains(got, "second entry") {
				t.Fatalf("after killing %s the entries are %q", name, got)
			}
		}
	})

	t.Run("a restarted agent adopts the running processes", func(t *testing.T) {
		pids := map[string]int{}
		for _, i := range s.Status().Instances {
			pids[i.Name] = i.PID
		}
		agentPID := agentPID(t, s)
		if err := syscall.Kill(agentPID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, agentPID)
		st := s.Status()
		if !strings.HasPrefix(st.Agent, "not running") {
			t.Fatalf("agent after SIGKILL: %s", st.Agent)
		}
		r := s.MustTrio("up")
		if !strings.Contains(r.Stdout, "start agent: not running") || strings.Contains(r.Stdout, "start db-0") {
			t.Fatalf("up after the agent died should only start the agent:\n%s", r.Stdout)
		}
		for _, i := range s.WaitHealthy(10 * time.Second).Instances {
			if pids[i.Name] != i.PID {
				t.Errorf("%s: pid %d became %d; the new agent restarted it instead of adopting it", i.Name, pids[i.Name], i.PID)
			}
		}
	})

	t.Run("an invalid nginx config is refused and the site keeps serving", func(t *testing.T) {
		master := s.PID("web-0")
		site := filepath.Join(s.Dir, ".trio", "conf", "web-0", "site.conf")
		takeOver(t, site, func(c string) string { return strings.Replace(c, "etag on;", "etag on;\n    no_such_directive 1;", 1) })
		r := s.Trio("apply")
		if r.Code == 0 {
			t.Fatalf("apply with a broken site.conf succeeded:\n%s", r.Stdout)
		}
		mustMatch(t, "apply error", `web-0: nginx refused the new config:\n.*unknown directive "no_such_directive" in .*/conf/web-0/site.conf:\d+`, r.Stderr)
		if code, _, _ := s.Get("/health"); code != http.StatusOK {
			t.Errorf("site answers %d after a refused config", code)
		}
		if got := s.PID("web-0"); got != master {
			t.Errorf("nginx master changed from %d to %d", master, got)
		}

		// A valid change is applied by a graceful reload: same master.
		takeOver(t, site, func(c string) string {
			c = strings.Replace(c, "\n    no_such_directive 1;", "", 1)
			return strings.Replace(c, `add_header Cache-Control "public, max-age=3600";`, `add_header Cache-Control "public, max-age=3600";`+"\n        add_header X-Taken-Over yes;", 1)
		})
		r = s.MustTrio("apply")
		mustMatch(t, "apply output", `reload web-0: site.conf changed`, r.Stdout)
		_, h, _ := s.Get("/static/app.css")
		if h.Get("X-Taken-Over") != "yes" {
			t.Errorf("the taken-over site.conf is not live: headers %v", h)
		}
		if got := s.PID("web-0"); got != master {
			t.Errorf("nginx master changed from %d to %d; a reload must keep it", master, got)
		}
		if r := s.MustTrio("apply"); !strings.Contains(r.Stdout, "no changes") {
			t.Errorf("apply after the reload:\n%s", r.Stdout)
		}
	})

	t.Run("trio.yaml changes: reload for nginx, restart for MariaDB", func(t *testing.T) {
		web, db := s.PID("web-0"), s.PID("db-0")
		s.EditYAML(func(y string) string {
			// site.conf was taken over above, so change what nginx.conf holds.
			y = strings.Replace(y, "  root: public\n", "  root: public\n  static: {gzip: false}\n", 1)
			return strings.Replace(y, "  migrations: migrations\n", "  migrations: migrations\n  settings: {max_connections: \"200\"}\n", 1)
		})
		r := s.MustTrio("plan")
		mustMatch(t, "plan", `(?s)restart db-0: my.cnf changed; the server reads it only at start\n.*reload web-0: nginx.conf changed`, r.Stdout)
		if r.Stdout != s.MustTrio("plan").Stdout {
			t.Error("two plans of the same state differ")
		}
		s.MustTrio("apply")
		if s.PID("web-0") != web {
			t.Error("nginx was restarted, not reloaded")
		}
		if s.PID("db-0") == db {
			t.Error("MariaDB kept its pid although my.cnf changed")
		}
		if got := s.Entries(); len(got) != 2 {
			t.Errorf("entries after the db restart: %q", got)
		}
	})

	t.Run("migrations run once, in order, and never again", func(t *testing.T) {
		mig := filepath.Join(s.Dir, "migrations", "002_add_index.sql")
		if err := os.WriteFile(mig, []byte("CREATE INDEX entries_name ON entries (name);\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := s.MustTrio("apply")
		mustMatch(t, "apply", `migrate db-0: 002_add_index.sql \(not applied yet\)`, r.Stdout)
		if r := s.MustTrio("plan"); strings.TrimSpace(r.Stdout) != "no changes" {
			t.Fatalf("plan after the migration:\n%s", r.Stdout)
		}
		// Editing an applied migration is refused, not re-run.
		os.WriteFile(mig, []byte("CREATE INDEX entries_msg ON entries (name, id);\n"), 0o644)
		r = s.Trio("plan")
		if r.Code == 0 {
			t.Fatal("plan accepted an applied migration that changed")
		}
		mustMatch(t, "plan error", `002_add_index.sql was applied on .* and has changed since; .*new migration`, r.Stderr)
		os.WriteFile(mig, []byte("CREATE INDEX entries_name ON entries (name);\n"), 0o644)
	})

	t.Run("down keeps the data and up brings it back", func(t *testing.T) {
		pids := s.Status().Instances
		r := s.MustTrio("down")
		mustMatch(t, "down", `guestbook is down; its data is kept`, r.Stdout)
		for _, i := range pids {
			waitGone(t, i.PID)
		}
		if code := s.Trio("status").Code; code != 0 {
			t.Errorf("status of a stopped stack exits %d", code)
		}
		r = s.MustTrio("up")
		if strings.Contains(r.Stdout, "init db-0") {
			t.Fatalf("up after down initialised the database again:\n%s", r.Stdout)
		}
		if got := s.Entries(); !slices.Contains(got, "first entry") || !slices.Contains(got, "second entry") {
			t.Fatalf("entries after down and up: %q", got)
		}
	})

	t.Run("down --volumes deletes the data", func(t *testing.T) {
		s.MustTrio("down", "--volumes")
		if _, err := os.Stat(filepath.Join(s.Dir, ".trio", "data", "db-0")); !os.IsNotExist(err) {
			t.Fatalf("data directory still there: %v", err)
		}
	})
}

// takeOver edits a generated config file in place and removes its marker
// line, as a user who takes the file over does.
func takeOver(t testing.TB, path string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 2)
	content := string(b)
	if strings.Contains(lines[0], "generated by trio") {
		content = lines[1]
	}
	if err := os.WriteFile(path, []byte(edit(content)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func agentPID(t testing.TB, s *Stack) int {
	t.Helper()
	st := s.Status()
	var pid int
	if _, err := fmt.Sscanf(st.Agent, "running (pid %d,", &pid); err != nil {
		t.Fatalf("agent: %q", st.Agent)
	}
	return pid
}

func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
