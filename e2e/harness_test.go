// Package e2e runs the trio binary against real nginx, PHP-FPM and MariaDB
// from Debian's packages, on free loopback ports in temporary directories.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trioBin is the binary under test, built once by TestMain.
var trioBin string

// required are the programs the stack runs; in CI a missing one fails.
var required = []string{"/usr/sbin/nginx", "/usr/sbin/php-fpm8.2", "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb"}

func TestMain(m *testing.M) {
	var missing []string
	for _, p := range required {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("e2e: missing %s; install nginx php8.2-fpm php8.2-mysql mariadb-server mariadb-client (the README's test command does)", strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: "+msg)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP: "+msg)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "trio-e2e-bin-")
	if err != nil {
		panic(err)
	}
	trioBin = filepath.Join(dir, "trio")
	build := exec.Command("go", "build", "-o", trioBin, "../cmd/trio")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: build trio:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Stack is one guestbook stack under test.
type Stack struct {
	t       testing.TB
	Dir     string
	WebPort int
	DBPort  int
}

// newStack copies the guestbook example into a temp dir with free ports.
// The directories are opened up (0755) because the services run as
// www-data and mysql, and t.TempDir makes them 0700.
func newStack(t testing.TB) *Stack {
	t.Helper()
	root := t.TempDir()
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	dir := filepath.Join(root, "guestbook")
	copyTree(t, "../examples/guestbook", dir)
	s := &Stack{t: t, Dir: dir, WebPort: freePort(t), DBPort: freePort(t)}
	s.EditYAML(func(y string) string {
		y = strings.Replace(y, "listen: 127.0.0.1:8080", fmt.Sprintf("listen: 127.0.0.1:%d", s.WebPort), 1)
		return strings.Replace(y, "  schema: schema.sql", fmt.Sprintf("  schema: schema.sql\n  port: %d", s.DBPort), 1)
	})
	t.Cleanup(func() {
		// Leave nothing running, whatever the test did.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, trioBin, "down", "-C", s.Dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("cleanup: trio down: %v\n%s", err, out)
		}
		if t.Failed() {
			for _, f := range []string{"agent.log", "db-0.log", "app-0.log", "web-0.log"} {
				b, _ := os.ReadFile(filepath.Join(s.Dir, ".trio", "logs", f))
				t.Logf("--- %s\n%s", f, tail(string(b), 30))
			}
		}
	})
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel == ".trio" || rel == "trio.lock" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// handedOut remembers the ports given to tests, so two tiers never get the
// same one.
var handedOut = map[int]bool{}

// freePort picks a free port below Linux's ephemeral range (32768 and up),
// where no outgoing connection can take it between the pick and the bind.
func freePort(t testing.TB) int {
	t.Helper()
	for tries := 0; tries < 1000; tries++ {
		port := 10000 + mathrand.IntN(22000)
		if handedOut[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		handedOut[port] = true
		return port
	}
	t.Fatal("no free port below 32768")
	return 0
}

// EditYAML rewrites trio.yaml.
func (s *Stack) EditYAML(fn func(string) string) {
	s.t.Helper()
	p := filepath.Join(s.Dir, "trio.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(fn(string(b))), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// Result is one trio run.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// Trio runs the binary in the stack's directory.
func (s *Stack) Trio(args ...string) Result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, trioBin, args...)
	cmd.Dir = s.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("run trio %v: %v", args, err)
	}
	return r
}

// MustTrio runs trio and fails the test unless it succeeds.
func (s *Stack) MustTrio(args ...string) Result {
	s.t.Helper()
	r := s.Trio(args...)
	if r.Code != 0 {
		s.t.Fatalf("trio %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// URL is the stack's address for a path.
func (s *Stack) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", s.WebPort, path)
}

var client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Get fetches a path and returns status, headers and body.
func (s *Stack) Get(path string) (int, http.Header, string) {
	s.t.Helper()
	resp, err := client.Get(s.URL(path))
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// AddEntry posts a guestbook entry through nginx and PHP.
func (s *Stack) AddEntry(name, message string) {
	s.t.Helper()
	resp, err := client.PostForm(s.URL("/api/entries"), url.Values{"name": {name}, "message": {message}})
	if err != nil {
		s.t.Fatalf("add entry: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("add entry: %d %s", resp.StatusCode, b)
	}
}

// Entries lists the messages the app returns.
func (s *Stack) Entries() []string {
	s.t.Helper()
	code, _, body := s.Get("/api/entries")
	if code != http.StatusOK {
		s.t.Fatalf("list entries: %d %s", code, body)
	}
	var list []struct{ Message string }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		s.t.Fatalf("list entries: %v in %s", err, body)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Message)
	}
	return out
}

// Status is `trio status -o json`.
type Status struct {
	Healthy   bool
	Health    string
	Agent     string
	Instances []struct {
		Name     string
		State    string
		Healthy  bool
		PID      int
		Restarts int
	}
}

func (s *Stack) Status() Status {
	s.t.Helper()
	r := s.MustTrio("status", "-o", "json")
	var st Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		s.t.Fatalf("status: %v in %s", err, r.Stdout)
	}
	return st
}

// PID returns the pid the agent reports for an instance.
func (s *Stack) PID(name string) int {
	s.t.Helper()
	for _, i := range s.Status().Instances {
		if i.Name == name {
			return i.PID
		}
	}
	s.t.Fatalf("no instance %s in status", name)
	return 0
}

// WaitHealthy polls status until the app answers 200 and every instance
// runs, or fails after timeout.
func (s *Stack) WaitHealthy(timeout time.Duration) Status {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := s.Status()
		ok := st.Healthy
		for _, i := range st.Instances {
			ok = ok && i.State == "running" && i.Healthy
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("stack not healthy after %s: %+v", timeout, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func mustMatch(t testing.TB, what, pattern, s string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(s) {
		t.Fatalf("%s does not match %q:\n%s", what, pattern, s)
	}
}
