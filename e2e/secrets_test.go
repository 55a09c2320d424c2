package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	dbPassword   = "Plaintext-DB-Password-4711"
	apiToken     = "Plaintext-API-Token-0815"
	rootPassword = "Plaintext-Root-Password-42"
)

// needTool fails in CI, and skips elsewhere, when a tool is missing.
func needTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found; apt-get install -y %s", tool, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// vaultStack is the guestbook with its credentials in an ansible-vault
// file made by the real ansible-vault.
func vaultStack(t *testing.T) (*Stack, string) {
	t.Helper()
	needTool(t, "ansible-vault", "ansible-core")
	s := newStack(t)
	pwFile := filepath.Join(s.Dir, "..", "vault-pass")
	if err := os.WriteFile(pwFile, []byte("the vault password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vault := filepath.Join(s.Dir, "secrets.vault")
	plain := fmt.Sprintf("db_password: %s\nroot_password: %s\napi_token: %s\n", dbPassword, rootPassword, apiToken)
	if err := os.WriteFile(vault, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ansible-vault", "encrypt", "--vault-password-file", pwFile, vault).CombinedOutput(); err != nil {
		t.Fatalf("ansible-vault encrypt: %v\n%s", err, out)
	}
	s.EditYAML(func(y string) string {
		y = strings.Replace(y, "  password: guestbook-dev-password", "  password: {secret: db_password}\n  root_password: {secret: root_password}", 1)
		y = strings.Replace(y, "env: {APP_ENV: production}", "env: {APP_ENV: production, API_TOKEN: {secret: api_token}}", 1)
		return y + "secrets: {vault: secrets.vault}\n"
	})
	return s, pwFile
}

func TestSecrets_VaultEndToEnd(t *testing.T) {
	s, pwFile := vaultStack(t)

	t.Run("plan needs no vault password; up says which it needs", func(t *testing.T) {
		r := s.MustTrio("plan")
		mustMatch(t, "plan", `note: credentials not compared: no vault password for .*secrets.vault: pass --vault-password-file FILE`, r.Stdout)
		r = s.Trio("up")
		if r.Code == 0 {
			t.Fatal("up without the vault password succeeded")
		}
		mustMatch(t, "up", `init db-0 needs credentials, and there is no vault password for .*secrets.vault`, r.Stderr)
		if _, err := os.Stat(filepath.Join(s.Dir, ".trio", "data")); err == nil {
			t.Error("the refused up created the database")
		}
	})

	t.Run("a wrong vault password is refused and changes nothing", func(t *testing.T) {
		bad := filepath.Join(s.Dir, "..", "bad-pass")
		os.WriteFile(bad, []byte("not it\n"), 0o600)
		r := s.Trio("up", "--vault-password-file", bad)
		if r.Code == 0 {
			t.Fatal("up with a wrong vault password succeeded")
		}
		mustMatch(t, "up", `wrong vault password, or the file was modified after it was encrypted`, r.Stderr)
	})

	s.MustTrio("up", "--vault-password-file", pwFile)
	s.AddEntry("Eve", "with a vault")

	t.Run("no plaintext credential on disk, in a command line or in a log", func(t *testing.T) {
		for _, secret := range []string{dbPassword, apiToken, rootPassword} {
			if hits := grepTree(t, filepath.Join(s.Dir, ".trio"), secret); len(hits) > 0 {
				t.Errorf("%s found under .trio: %v", secret, hits)
			}
			if hits := grepCmdlines(secret); len(hits) > 0 {
				t.Errorf("%s found in process command lines: %v", secret, hits)
			}
		}
		// Should a program ever log a credential, trio logs masks it.
		log := filepath.Join(s.Dir, ".trio", "logs", "app-0.log")
		orig, _ := os.ReadFile(log)
		os.WriteFile(log, append(append([]byte{}, orig...), "leak: "+dbPassword+" and "+apiToken+"\n"...), 0o640)
		r := s.MustTrio("logs", "app", "-n", "1000")
		os.WriteFile(log, orig, 0o640)
		if strings.Contains(r.Stdout, dbPassword) || strings.Contains(r.Stdout, apiToken) {
			t.Error("trio logs shows a credential")
		}
		mustMatch(t, "logs", `app-0 \| leak: \[redacted\] and \[redacted\]`, r.Stdout)
	})

	t.Run("the app gets its credentials from a private tmpfs file", func(t *testing.T) {
		if code, _, body := s.Get("/health"); code != 200 {
			t.Fatalf("health: %d %s", code, body)
		}
		dirs, _ := filepath.Glob("/dev/shm/trio-*")
		run, _ := filepath.Glob("/run/trio/*")
		found := false
		for _, d := range append(dirs, run...) {
			b, err := os.ReadFile(filepath.Join(d, "db_password"))
			if err != nil || string(b) != dbPassword {
				continue
			}
			found = true
			fi, _ := os.Stat(d)
			if fi.Mode().Perm() != 0o750 {
				t.Errorf("%s has mode %o, want 0750", d, fi.Mode().Perm())
			}
			fi, _ = os.Stat(filepath.Join(d, "db_password"))
			if fi.Mode().Perm() != 0o440 {
				t.Errorf("db_password has mode %o, want 0440", fi.Mode().Perm())
			}
		}
		if !found {
			t.Fatal("no private credentials directory holds the database password")
		}
	})

	t.Run("rotating the database password under load fails no request", func(t *testing.T) {
		wrk := needTool(t, "wrk", "wrk")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out bytes.Buffer
		load := exec.CommandContext(ctx, wrk, "-t2", "-c8", "-d60s", s.URL("/"))
		load.Stdout = &out
		load.Cancel = func() error { return load.Process.Signal(syscall.SIGINT) }
		if err := load.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		before, _ := os.ReadFile(filepath.Join(s.Dir, "secrets.vault"))
		r := s.MustTrio("secrets", "rotate", "db_password", "--vault-password-file", pwFile)
		mustMatch(t, "rotate", `(?s)password db-0: accept the old and the new password.*reload app-0: credentials changed.*password db-0: accept only the new password`, r.Stdout)
		time.Sleep(time.Second)
		cancel()
		load.Wait()
		mustMatch(t, "wrk", `requests in`, out.String())
		if strings.Contains(out.String(), "Non-2xx") || strings.Contains(out.String(), "Socket errors") {
			t.Fatalf("requests failed during the rotation:\n%s", out.String())
		}
		after, _ := os.ReadFile(filepath.Join(s.Dir, "secrets.vault"))
		if bytes.Equal(before, after) {
			t.Fatal("the vault did not change")
		}
		view, err := exec.Command("ansible-vault", "view", "--vault-password-file", pwFile, filepath.Join(s.Dir, "secrets.vault")).CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-vault cannot open the rotated vault: %v\n%s", err, view)
		}
		if strings.Contains(string(view), dbPassword) || !strings.Contains(string(view), apiToken) {
			t.Fatalf("rotated vault holds the old value or lost another:\n%s", view)
		}
		if got := s.Entries(); len(got) != 1 {
			t.Fatalf("entries after rotation: %q", got)
		}
		if r := s.MustTrio("plan", "--vault-password-file", pwFile); strings.TrimSpace(r.Stdout) != "no changes" {
			t.Fatalf("plan after rotation:\n%s", r.Stdout)
		}
	})
}

func TestSecrets_StrictRefusesPlainPasswords(t *testing.T) {
	s := newStack(t)
	r := s.Trio("plan")
	mustMatch(t, "plan", `warning: plain password in trio.yaml: db.password \(trio.yaml:\d+:\d+\)`, r.Stderr)
	r = s.Trio("up", "--strict")
	if r.Code == 0 {
		t.Fatal("up --strict accepted a plain password")
	}
	mustMatch(t, "up --strict", `plain password in trio.yaml: db.password .* \(refused by --strict\)`, r.Stderr)
}

// grepTree lists the files below dir that contain s.
func grepTree(t testing.TB, dir, s string) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// grepCmdlines lists the processes whose command line contains s.
func grepCmdlines(s string) []string {
	var hits []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := fmt.Sprintf("/proc/%d/cmdline", os.Getpid())
	for _, p := range paths {
		if p == self {
			continue
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			hits = append(hits, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return hits
}
