package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trio-stack/trio/internal/secrets"
	"github.com/trio-stack/trio/internal/secrets/secretstest"
)

// vaultTestPassword is the password of the vaults these tests write.
const vaultTestPassword = "trio-test-password"

// mainWithStdin runs trio through Main with stdin as standard input (nil
// for an empty one) and returns the exit code and both outputs. It swaps
// os.Stdin, so tests that use it must not run in parallel.
func mainWithStdin(t testing.TB, stdin *os.File, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		f, err := os.Open(secretstest.WriteFile(t, t.TempDir(), "empty-stdin", nil, 0o600))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stdin = f
	}
	saved := os.Stdin
	os.Stdin = stdin
	defer func() { os.Stdin = saved }()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// stdinFrom returns an open file holding data, to pass as standard input.
func stdinFrom(t testing.TB, data string) *os.File {
	t.Helper()
	f, err := os.Open(secretstest.WriteFile(t, t.TempDir(), "stdin", []byte(data), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// cleanVaultEnv keeps the developer's own vault and editor settings out of a test.
func cleanVaultEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{secrets.EnvPasswordFile, secrets.EnvAnsiblePasswordFile, "VISUAL", "EDITOR"} {
		t.Setenv(k, "")
	}
}

// openTestPTY returns the controlling side of a new pseudo-terminal and its
// terminal side, opened as a program's standard input would be.
func openTestPTY(t testing.TB) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, path := secretstest.OpenPTY(t)
	tty, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// mainResult is what Main returned in a goroutine.
type mainResult struct {
	code           int
	stdout, stderr string
}

// mainOnTerminal starts trio with tty as standard input, for a test that
// types at its prompts, and returns a function that waits for it to end.
func mainOnTerminal(t testing.TB, tty *os.File, args ...string) (wait func() mainResult) {
	t.Helper()
	done := make(chan mainResult, 1)
	saved := os.Stdin
	os.Stdin = tty
	go func() {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, &out, &errOut)
		done <- mainResult{code, out.String(), errOut.String()}
	}()
	return func() mainResult {
		t.Helper()
		// Restored here, after Main has returned, not in its goroutine.
		defer func() { os.Stdin = saved }()
		select {
		case r := <-done:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("trio did not finish")
			return mainResult{}
		}
	}
}

func TestVault_ExitCodes(t *testing.T) {
	cleanVaultEnv(t)
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword+"\n"), 0o600)
	wrong := secretstest.WriteFile(t, dir, "wrong", []byte("wrong\n"), 0o600)
	data, err := secrets.Encrypt([]byte("x: 1\n"), []byte(vaultTestPassword), "")
	if err != nil {
		t.Fatal(err)
	}
	vault := secretstest.WriteFile(t, dir, "s.vault", data, 0o600)
	plain := secretstest.WriteFile(t, dir, "plain.yml", []byte("x: 1\n"), 0o600)

	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"view", []string{"vault", "view", "--vault-password-file", pw, vault}, ExitOK},
		{"wrong password", []string{"vault", "view", "--vault-password-file", wrong, vault}, ExitError},
		{"not a vault", []string{"vault", "view", "--vault-password-file", pw, plain}, ExitError},
		{"missing file", []string{"vault", "view", "--vault-password-file", pw, filepath.Join(dir, "nope")}, ExitError},
		{"already encrypted", []string{"vault", "encrypt", "--vault-password-file", pw, vault}, ExitError},
		{"no password source", []string{"vault", "view", vault}, ExitError},
		{"create existing", []string{"vault", "create", "--vault-password-file", pw, vault}, ExitError},
		{"unknown subcommand", []string{"vault", "bogus"}, ExitUsage},
		{"unknown flag", []string{"vault", "view", "--password", "x", vault}, ExitUsage},
		{"no file", []string{"vault", "view"}, ExitUsage},
		{"two files for create", []string{"vault", "create", "a", "b"}, ExitUsage},
		{"output with two files", []string{"vault", "decrypt", "--output", "-", vault, vault}, ExitUsage},
		{"bad label", []string{"vault", "encrypt", "--vault-id", "a b", plain}, ExitUsage},
		{"two password sources", []string{"vault", "view", "--vault-id", "x@" + pw, "--vault-password-file", pw, vault}, ExitUsage},
		{"hash with an argument", []string{"hash-password", "s3cret"}, ExitUsage},
		{"hash with bad rounds", []string{"hash-password", "--rounds", "10"}, ExitUsage},
		{"hash with bad salt", []string{"hash-password", "--salt", "a:b"}, ExitUsage},
		{"hash of nothing", []string{"hash-password"}, ExitError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := mainWithStdin(t, nil, tt.args...)
			if code != tt.want {
				t.Errorf("trio %q exit %d, want %d; stderr:\n%s", tt.args, code, tt.want, stderr)
			}
		})
	}
	if got, _ := os.ReadFile(vault); !bytes.Equal(got, data) {
		t.Error("a failed command changed the vault")
	}
}

func TestHashPassword_VerifyExitCodes(t *testing.T) {
	hash, err := secrets.HashSHA512Crypt([]byte("s3cret"), "saltsalt", 0)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := mainWithStdin(t, stdinFrom(t, "s3cret\n"), "hash-password", "--verify", hash)
	if code != ExitOK || stdout != "match\n" {
		t.Errorf("right password: exit %d, stdout %q; want 0, match", code, stdout)
	}
	code, stdout, _ = mainWithStdin(t, stdinFrom(t, "s3cret!\n"), "hash-password", "--verify", hash)
	if code != ExitError || stdout != "no match\n" {
		t.Errorf("wrong password: exit %d, stdout %q; want 1, no match", code, stdout)
	}
}

func TestVaultEncryptString_Decrypts(t *testing.T) {
	cleanVaultEnv(t)
	pw := secretstest.WriteFile(t, t.TempDir(), "pw", []byte(vaultTestPassword), 0o600)
	for _, tt := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"stdin drops one line break", "s3 cret\n", "s3 cret", []string{"--name", "db_password"}},
		{"stdin drops CRLF", "s3cret\r\n", "s3cret", []string{"--name", "db_password"}},
		{"stdin keeps inner lines", "line 1\nline 2\n\n", "line 1\nline 2\n", []string{"--name", "cert", "-"}},
		{"argument", "", "från argv", []string{"--name", "x", "--vault-id", "prod", "från argv"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"vault", "encrypt-string", "--vault-password-file", pw}, tt.args...)
			code, stdout, stderr := mainWithStdin(t, stdinFrom(t, tt.stdin), args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			in, err := secrets.DecryptString([]byte(stdout), []byte(vaultTestPassword))
			if err != nil {
				t.Fatalf("DecryptString(%q): %v", stdout, err)
			}
			if string(in.Value) != tt.want || in.Name != tt.args[1] {
				t.Errorf("decrypted %q = %q, want %q = %q", in.Name, in.Value, tt.args[1], tt.want)
			}
			if slices.Contains(tt.args, "--vault-id") && in.Label != "prod" {
				t.Errorf("label %q, want prod", in.Label)
			}
		})
	}
}

func TestVaultEncrypt_KeepsModeAndSymlink(t *testing.T) {
	cleanVaultEnv(t)
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword), 0o600)
	target := secretstest.WriteFile(t, dir, "real.yml", []byte("x: 1\n"), 0o640)
	link := filepath.Join(dir, "link.yml")
	if err := os.Symlink("real.yml", link); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := mainWithStdin(t, nil, "vault", "encrypt", "--vault-password-file", pw, link); code != 0 {
		t.Fatalf("encrypt: exit %d: %s", code, stderr)
	}
	if dest, err := os.Readlink(link); err != nil || dest != "real.yml" {
		t.Errorf("link now %q, %v; want it still pointing at real.yml", dest, err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(target)
	if got, _, err := secrets.Decrypt(data, []byte(vaultTestPassword)); err != nil || string(got) != "x: 1\n" {
		t.Errorf("Decrypt = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestVaultPassword_OpenVault(t *testing.T) {
	cleanVaultEnv(t)
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword), 0o600)
	data, err := secrets.Encrypt([]byte("db_password: s3cret\n"), []byte(vaultTestPassword), "prod")
	if err != nil {
		t.Fatal(err)
	}
	path := secretstest.WriteFile(t, dir, "s.vault", data, 0o640)

	v := &vaultPassword{getenv: func(k string) string {
		if k == secrets.EnvPasswordFile {
			return pw
		}
		return ""
	}}
	got, err := v.openVault(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.plaintext) != "db_password: s3cret\n" || got.label != "prod" ||
		string(got.password) != vaultTestPassword || got.mode != 0o640 {
		t.Errorf("openVault = %+v", got)
	}

	wrong := &vaultPassword{file: secretstest.WriteFile(t, dir, "wrong", []byte("nope"), 0o600)}
	_, err = wrong.openVault(context.Background(), path)
	if !errors.Is(err, secrets.ErrDecrypt) || !strings.Contains(err.Error(), path) {
		t.Errorf("wrong password: %v; want ErrDecrypt naming %s", err, path)
	}
	_, err = v.openVault(context.Background(), filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestVaultFileErr_KeepsCause(t *testing.T) {
	for _, sentinel := range []error{
		secrets.ErrDecrypt, secrets.ErrCorrupt, secrets.ErrNotVault, secrets.ErrHeader,
		secrets.ErrVersion, secrets.ErrCipher, secrets.ErrAlreadyEncrypted, os.ErrNotExist,
	} {
		err := vaultFileErr("view", "s.vault", errors.Join(errors.New("decrypt vault"), sentinel))
		if !errors.Is(err, sentinel) {
			t.Errorf("%v does not wrap %v", err, sentinel)
		}
		if !strings.Contains(err.Error(), "s.vault") || !strings.HasPrefix(err.Error(), "vault view: ") {
			t.Errorf("%q does not name the verb and the file", err)
		}
	}
}

// TestVaultCreate_PromptsTwice types a new password twice at the prompt and
// opens the new vault with it.
func TestVaultCreate_PromptsTwice(t *testing.T) {
	cleanVaultEnv(t)
	dir := t.TempDir()
	t.Setenv("EDITOR", secretstest.WriteFile(t, dir, "ed.sh", []byte("#!/bin/sh\necho 'k: v' >> \"$1\"\n"), 0o755))
	ptmx, tty := openTestPTY(t)
	out := bufio.NewReader(ptmx)
	path := filepath.Join(dir, "new.vault")

	wait := mainOnTerminal(t, tty, "vault", "create", path)
	secretstest.ReadUntil(t, out, "New vault password: ")
	ptmx.WriteString("typed secret\n")
	seen := secretstest.ReadUntil(t, out, "Confirm new vault password: ")
	if strings.Contains(seen, "typed secret") {
		t.Errorf("the password was echoed: %q", seen)
	}
	ptmx.WriteString("typed secret\n")
	if r := wait(); r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := secrets.Decrypt(data, []byte("typed secret")); err != nil || !strings.Contains(string(got), "k: v") {
		t.Errorf("Decrypt with the typed password = %q, %v", got, err)
	}

	// Two different answers create nothing.
	other := filepath.Join(dir, "other.vault")
	wait = mainOnTerminal(t, tty, "vault", "create", other)
	secretstest.ReadUntil(t, out, "New vault password: ")
	ptmx.WriteString("one\n")
	secretstest.ReadUntil(t, out, "Confirm new vault password: ")
	ptmx.WriteString("two\n")
	r := wait()
	if r.code != ExitError || !strings.Contains(r.stderr, "passwords do not match") {
		t.Errorf("mismatch: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a vault was created after a password mismatch: %v", err)
	}
}

// TestVaultView_PromptsOnce checks that opening a vault asks once.
func TestVaultView_PromptsOnce(t *testing.T) {
	cleanVaultEnv(t)
	data, err := secrets.Encrypt([]byte("k: v\n"), []byte("typed secret"), "")
	if err != nil {
		t.Fatal(err)
	}
	path := secretstest.WriteFile(t, t.TempDir(), "s.vault", data, 0o600)
	ptmx, tty := openTestPTY(t)
	out := bufio.NewReader(ptmx)

	wait := mainOnTerminal(t, tty, "vault", "view", path)
	secretstest.ReadUntil(t, out, "Vault password: ")
	ptmx.WriteString("typed secret\n")
	r := wait()
	if r.code != 0 || r.stdout != "k: v\n" {
		t.Errorf("view: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestHashPassword_PromptsTwice types the password twice, unechoed.
func TestHashPassword_PromptsTwice(t *testing.T) {
	ptmx, tty := openTestPTY(t)
	out := bufio.NewReader(ptmx)

	wait := mainOnTerminal(t, tty, "hash-password", "--rounds", "1000")
	secretstest.ReadUntil(t, out, "Password: ")
	ptmx.WriteString("typed secret\n")
	seen := secretstest.ReadUntil(t, out, "Confirm password: ")
	if strings.Contains(seen, "typed secret") {
		t.Errorf("the password was echoed: %q", seen)
	}
	ptmx.WriteString("typed secret\n")
	r := wait()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	hash := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(hash, "$6$rounds=1000$") || !secrets.VerifySHA512Crypt(hash, []byte("typed secret")) {
		t.Errorf("hash %q does not verify the typed password", hash)
	}

	wait = mainOnTerminal(t, tty, "hash-password")
	secretstest.ReadUntil(t, out, "Password: ")
	ptmx.WriteString("one\n")
	secretstest.ReadUntil(t, out, "Confirm password: ")
	ptmx.WriteString("two\n")
	if r := wait(); r.code != ExitError || !strings.Contains(r.stderr, "the two passwords differ") || r.stdout != "" {
		t.Errorf("mismatch: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// --verify asks once.
	hash, _ = secrets.HashSHA512Crypt([]byte("typed secret"), "saltsalt", 0)
	wait = mainOnTerminal(t, tty, "hash-password", "--verify", hash)
	secretstest.ReadUntil(t, out, "Password: ")
	ptmx.WriteString("typed secret\n")
	if r := wait(); r.code != 0 || r.stdout != "match\n" {
		t.Errorf("verify: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
