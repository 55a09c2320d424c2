package secrets

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/secrets/secretstest"
	"golang.org/x/sys/unix"
)

// env is a fake environment for PasswordSource.Getenv.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestReadPassword_Sources(t *testing.T) {
	dir := t.TempDir()
	file := secretstest.WriteFile(t, dir, "pw.txt", []byte("  from-file \n\n"), 0o600)
	other := secretstest.WriteFile(t, dir, "other.txt", []byte("from-env\n"), 0o600)
	ansible := secretstest.WriteFile(t, dir, "ansible.txt", []byte("from-ansible-env"), 0o600)
	script := secretstest.WriteFile(t, dir, "pw.sh", []byte("#!/bin/sh\nprintf '%s\\r\\n' ' from-script'\n"), 0o700)
	client := secretstest.WriteFile(t, dir, "vault-client.sh", []byte("#!/bin/sh\necho \"$1=$2\"\n"), 0o700)
	tests := []struct {
		name string
		src  PasswordSource
		want string
	}{
		{"file, surrounding whitespace stripped as ansible does", PasswordSource{File: file}, "from-file"},
		{"file wins over env", PasswordSource{File: file, Getenv: env(map[string]string{EnvPasswordFile: other})}, "from-file"},
		{"trio env", PasswordSource{Getenv: env(map[string]string{EnvPasswordFile: other, EnvAnsiblePasswordFile: ansible})}, "from-env"},
		{"ansible env as fallback", PasswordSource{Getenv: env(map[string]string{EnvAnsiblePasswordFile: ansible})}, "from-ansible-env"},
		{"script output, only line breaks stripped", PasswordSource{File: script}, " from-script"},
		{"client script gets the label", PasswordSource{File: client, Label: "prod"}, "--vault-id=prod"},
		{"client script gets default without a label", PasswordSource{File: client}, "--vault-id=default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src.Getenv == nil {
				tt.src.Getenv = env(nil)
			}
			got, err := ReadPassword(context.Background(), tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("ReadPassword = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadPassword_RelativeScriptPath(t *testing.T) {
	dir := t.TempDir()
	secretstest.WriteFile(t, dir, "pw", []byte("#!/bin/sh\necho relative\n"), 0o700)
	t.Chdir(dir)
	got, err := ReadPassword(context.Background(), PasswordSource{File: "pw", Getenv: env(nil)})
	if err != nil || string(got) != "relative" {
		t.Errorf("ReadPassword = %q, %v; want the script in the current directory, not one on $PATH", got, err)
	}
}

func TestReadPassword_Errors(t *testing.T) {
	dir := t.TempDir()
	vault := mustEncrypt(t, []byte("pw"), []byte("x"), "")
	tests := []struct {
		name string
		src  PasswordSource
		want error
	}{
		{"nothing configured", PasswordSource{}, ErrNoPassword},
		{"empty file", PasswordSource{File: secretstest.WriteFile(t, dir, "empty", []byte(" \n"), 0o600)}, ErrEmptyPassword},
		{"missing file", PasswordSource{File: filepath.Join(dir, "missing")}, fs.ErrNotExist},
		{"missing file from env", PasswordSource{Getenv: env(map[string]string{EnvPasswordFile: filepath.Join(dir, "missing")})}, fs.ErrNotExist},
		{"script fails", PasswordSource{File: secretstest.WriteFile(t, dir, "fail.sh", []byte("#!/bin/sh\necho boom >&2\nexit 1\n"), 0o700)}, ErrPasswordScript},
		{"script prints nothing", PasswordSource{File: secretstest.WriteFile(t, dir, "quiet.sh", []byte("#!/bin/sh\necho\n"), 0o700)}, ErrEmptyPassword},
		{"client has no such id", PasswordSource{File: secretstest.WriteFile(t, dir, "k-client", []byte("#!/bin/sh\necho no id >&2\nexit 2\n"), 0o700)}, ErrPasswordScript},
		{"encrypted password file", PasswordSource{File: secretstest.WriteFile(t, dir, "enc", vault, 0o600)}, nil},
		{"prompt without a terminal", PasswordSource{Prompt: true, TTY: secretstest.WriteFile(t, dir, "notatty", nil, 0o600)}, ErrNoPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src.Getenv == nil {
				tt.src.Getenv = env(nil)
			}
			got, err := ReadPassword(context.Background(), tt.src)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("ReadPassword = %q, %v; want error %v", got, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "read vault password") {
				t.Errorf("error %q does not start with the operation", err)
			}
		})
	}
}

func TestReadPassword_ScriptErrorShowsStderr(t *testing.T) {
	dir := t.TempDir()
	script := secretstest.WriteFile(t, dir, "k-client.py", []byte("#!/bin/sh\necho \"no secret for $2\" >&2\nexit 2\n"), 0o700)
	_, err := ReadPassword(context.Background(), PasswordSource{File: script, Label: "prod", Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "no secret for prod") || !strings.Contains(err.Error(), `vault id "prod"`) {
		t.Errorf("error = %v, want the script's stderr and the vault id", err)
	}
}

func TestReadPassword_Prompt(t *testing.T) {
	ptmx, tty := secretstest.OpenPTY(t)
	out := bufio.NewReader(ptmx)
	done := make(chan error, 1)
	var got []byte
	go func() {
		var err error
		got, err = ReadPassword(context.Background(), PasswordSource{Prompt: true, Confirm: true, TTY: tty, Getenv: env(nil)})
		done <- err
	}()
	secretstest.ReadUntil(t, out, "New vault password: ")
	ptmx.WriteString("typed secret\n")
	seen := secretstest.ReadUntil(t, out, "Confirm new vault password: ")
	if strings.Contains(seen, "typed secret") {
		t.Errorf("the password was echoed: %q", seen)
	}
	ptmx.WriteString("typed secret\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(got) != "typed secret" {
		t.Errorf("ReadPassword = %q, want %q", got, "typed secret")
	}
}

func TestReadPassword_PromptMismatch(t *testing.T) {
	ptmx, tty := secretstest.OpenPTY(t)
	out := bufio.NewReader(ptmx)
	done := make(chan error, 1)
	go func() {
		_, err := ReadPassword(context.Background(), PasswordSource{Prompt: true, Confirm: true, TTY: tty, Getenv: env(nil)})
		done <- err
	}()
	secretstest.ReadUntil(t, out, "New vault password: ")
	ptmx.WriteString("one\n")
	secretstest.ReadUntil(t, out, "Confirm new vault password: ")
	ptmx.WriteString("two\n")
	if err := <-done; !errors.Is(err, ErrPasswordMismatch) {
		t.Errorf("ReadPassword error = %v, want ErrPasswordMismatch", err)
	}
}

// TestReadPassword_PromptCancel checks that a cancelled prompt returns and
// turns the terminal's echo back on.
func TestReadPassword_PromptCancel(t *testing.T) {
	ptmx, tty := secretstest.OpenPTY(t)
	out := bufio.NewReader(ptmx)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := ReadPassword(ctx, PasswordSource{Prompt: true, TTY: tty, Getenv: env(nil)})
		done <- err
	}()
	secretstest.ReadUntil(t, out, "Vault password: ")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Errorf("ReadPassword error = %v, want ErrInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadPassword did not return after cancel")
	}
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	termios, err := getTermios(f)
	if err != nil {
		t.Fatal(err)
	}
	if termios.Lflag&unix.ECHO == 0 {
		t.Error("echo is still off after the prompt was cancelled")
	}
}
