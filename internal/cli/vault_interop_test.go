package cli

// Interoperability of the vault and hash-password verbs with the real tools
// from Debian's packages: ansible-vault and ansible (ansible-core), mkpasswd
// (whois) and perl's crypt, which calls the system's crypt(3). trio runs
// in-process through Main. A missing tool skips the test locally and fails
// it in CI (CI=true), so CI never passes without having checked.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/secrets/secretstest"
)

// trio runs trio through Main and fails the test if it fails.
func trio(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	code, stdout, stderr := mainWithStdin(t, stdinFrom(t, stdin), args...)
	if code != 0 {
		t.Fatalf("trio %q: exit %d\n%s", args, code, stderr)
	}
	return stdout
}

// interopVaultText has several lines, UTF-8 and no final newline.
const interopVaultText = "db_password: s3cret\napp_key: \"ключ: 🔑\"\n# comment\nlast: no newline"

func TestVaultInterop_AnsibleEncryptTrioView(t *testing.T) {
	cleanVaultEnv(t)
	ansibleVault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword+"\n"), 0o600)
	for _, tt := range []struct{ label, flag string }{
		{"", "--vault-password-file=" + pw},
		{"prod", "--vault-id=prod@" + pw},
	} {
		t.Run("label="+tt.label, func(t *testing.T) {
			file := secretstest.WriteFile(t, dir, "a"+tt.label+".yml", []byte(interopVaultText), 0o600)
			ansibleVault(nil, "encrypt", tt.flag, file)
			if got := trio(t, "", "vault", "view", "--vault-password-file", pw, file); got != interopVaultText {
				t.Errorf("trio vault view = %q, want %q", got, interopVaultText)
			}
			trio(t, "", "vault", "decrypt", "--vault-password-file", pw, file)
			if got, _ := os.ReadFile(file); string(got) != interopVaultText {
				t.Errorf("trio vault decrypt wrote %q, want %q", got, interopVaultText)
			}
		})
	}
}

func TestVaultInterop_TrioCreateAndEncryptAnsibleView(t *testing.T) {
	cleanVaultEnv(t)
	ansibleVault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword+"\n"), 0o600)
	t.Setenv("EDITOR", secretstest.WriteFile(t, dir, "ed.sh",
		[]byte("#!/bin/sh\nprintf 'db_password: s3cret\\n' > \"$1\"\n"), 0o755))

	t.Run("create", func(t *testing.T) {
		for _, label := range []string{"", "prod"} {
			file := filepath.Join(dir, "created"+label+".vault")
			args := []string{"vault", "create", "--vault-password-file", pw, file}
			flag := "--vault-password-file=" + pw
			if label != "" {
				args = append(args, "--vault-id", label)
				flag = "--vault-id=" + label + "@" + pw
			}
			trio(t, "", args...)
			if got := ansibleVault(nil, "decrypt", flag, "--output=-", file); string(got) != "db_password: s3cret\n" {
				t.Errorf("label %q: ansible-vault decrypt = %q", label, got)
			}
		}
	})
	t.Run("encrypt", func(t *testing.T) {
		file := secretstest.WriteFile(t, dir, "enc.yml", []byte(interopVaultText), 0o600)
		trio(t, "", "vault", "encrypt", "--vault-password-file", pw, "--vault-id", "prod", file)
		if got := ansibleVault(nil, "decrypt", "--vault-id=prod@"+pw, "--output=-", file); string(got) != interopVaultText {
			t.Errorf("ansible-vault decrypt = %q, want %q", got, interopVaultText)
		}
		// view prints through ansible's display, which adds a newline.
		if got := ansibleVault(nil, "view", "--vault-password-file="+pw, file); string(got) != interopVaultText+"\n" {
			t.Errorf("ansible-vault view = %q, want %q", got, interopVaultText)
		}
	})
}

func TestVaultInterop_EditKeepsAnsibleReading(t *testing.T) {
	cleanVaultEnv(t)
	ansibleVault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword+"\n"), 0o600)
	t.Setenv("EDITOR", secretstest.WriteFile(t, dir, "ed.sh", []byte("#!/bin/sh\necho 'added: yes' >> \"$1\"\n"), 0o755))
	file := secretstest.WriteFile(t, dir, "s.yml", []byte("db_password: s3cret\n"), 0o600)
	ansibleVault(nil, "encrypt", "--vault-id=prod@"+pw, file)

	trio(t, "", "vault", "edit", "--vault-password-file", pw, file)
	data, _ := os.ReadFile(file)
	if !bytes.HasPrefix(data, []byte("$ANSIBLE_VAULT;1.2;AES256;prod\n")) {
		t.Errorf("edit lost the label: %q", firstLineOf(data))
	}
	if got := ansibleVault(nil, "decrypt", "--vault-id=prod@"+pw, "--output=-", file); string(got) != "db_password: s3cret\nadded: yes\n" {
		t.Errorf("ansible-vault decrypt after trio vault edit = %q", got)
	}
}

func TestVaultInterop_Rekey(t *testing.T) {
	cleanVaultEnv(t)
	ansibleVault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	oldPW := secretstest.WriteFile(t, dir, "old", []byte(vaultTestPassword+"\n"), 0o600)
	newPW := secretstest.WriteFile(t, dir, "new", []byte("a new password\n"), 0o600)
	a := secretstest.WriteFile(t, dir, "a.yml", []byte(interopVaultText), 0o600)
	b := secretstest.WriteFile(t, dir, "b.yml", []byte("x: 1\n"), 0o600)
	ansibleVault(nil, "encrypt", "--vault-password-file="+oldPW, a)
	ansibleVault(nil, "encrypt", "--vault-id=prod@"+oldPW, b)

	trio(t, "", "vault", "rekey", "--vault-password-file", oldPW, "--new-vault-password-file", newPW, a, b)
	if got := ansibleVault(nil, "decrypt", "--vault-password-file="+newPW, "--output=-", a); string(got) != interopVaultText {
		t.Errorf("ansible-vault decrypt a with the new password = %q", got)
	}
	if got := ansibleVault(nil, "decrypt", "--vault-id=prod@"+newPW, "--output=-", b); string(got) != "x: 1\n" {
		t.Errorf("ansible-vault decrypt b with the new password = %q", got)
	}

	trio(t, "", "vault", "rekey", "--vault-password-file", newPW, "--new-vault-id", "stage@"+oldPW, a)
	if got := ansibleVault(nil, "decrypt", "--vault-id=stage@"+oldPW, "--output=-", a); string(got) != interopVaultText {
		t.Errorf("ansible-vault decrypt after --new-vault-id = %q", got)
	}
	if data, _ := os.ReadFile(a); !bytes.HasPrefix(data, []byte("$ANSIBLE_VAULT;1.2;AES256;stage\n")) {
		t.Errorf("header after --new-vault-id stage: %q", firstLineOf(data))
	}
}

func TestVaultInterop_EncryptString(t *testing.T) {
	cleanVaultEnv(t)
	ansibleVault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	ansible := secretstest.Tool(t, "ansible", "ansible-core")
	dir := t.TempDir()
	pw := secretstest.WriteFile(t, dir, "pw", []byte(vaultTestPassword+"\n"), 0o600)
	snippet := trio(t, "s3 cret: ü\n", "vault", "encrypt-string", "--vault-password-file", pw, "--name", "db_password")

	// The block under `name: !vault |`, de-indented, is a vault file.
	var block strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(snippet, "\n"), "\n") {
		if i == 0 {
			if line != "db_password: !vault |" {
				t.Fatalf("first line %q, want db_password: !vault |", line)
			}
			continue
		}
		block.WriteString(strings.TrimPrefix(line, strings.Repeat(" ", 10)) + "\n")
	}
	file := secretstest.WriteFile(t, dir, "value.vault", []byte(block.String()), 0o600)
	if got := ansibleVault(nil, "decrypt", "--vault-password-file="+pw, "--output=-", file); string(got) != "s3 cret: ü" {
		t.Errorf("ansible-vault decrypt of the block = %q, want %q", got, "s3 cret: ü")
	}

	// Ansible reads the snippet as a variable.
	vars := secretstest.WriteFile(t, dir, "vars.yml", []byte("plain: p\n"+snippet), 0o600)
	out := ansible(nil, "localhost", "-c", "local", "-i", "localhost,", "-m", "debug",
		"-a", "var=db_password", "-e", "@"+vars, "--vault-password-file="+pw)
	_, js, ok := bytes.Cut(out, []byte("=> "))
	var result map[string]any
	if !ok || json.Unmarshal(js, &result) != nil || result["db_password"] != "s3 cret: ü" {
		t.Errorf("ansible read %s, want db_password = %q", out, "s3 cret: ü")
	}
}

func TestHashPasswordInterop_Mkpasswd(t *testing.T) {
	mkpasswd := secretstest.Tool(t, "mkpasswd", "whois")
	for _, c := range []struct {
		password, salt string
		rounds         int
	}{
		{"s3cret", "saltsalt", 0},
		{"s3cret", "saltsaltsalt1234", 5000},
		{"Hello world!", "saltstring", 10000},
		{"pässwörd € with spaces", "Unicode./09AZaz", 1000},
		{strings.Repeat("long password ", 20), "ABCDEFGHIJKLMNOP", 77777},
	} {
		args := []string{"hash-password", "--salt", c.salt}
		margs := []string{"-m", "sha-512", "-S", c.salt}
		if c.rounds != 0 {
			args = append(args, "--rounds", strconv.Itoa(c.rounds))
			margs = append(margs, "-R", strconv.Itoa(c.rounds))
		}
		want := string(mkpasswd(nil, append(margs, c.password)...))
		if got := trio(t, c.password+"\n", args...); got != want {
			t.Errorf("trio %q =\n%s\nmkpasswd %q =\n%s", args, got, margs, want)
		}
		// and trio accepts what mkpasswd made
		if got := trio(t, c.password+"\n", "hash-password", "--verify", strings.TrimSpace(want)); got != "match\n" {
			t.Errorf("trio hash-password --verify %s = %q, want match", want, got)
		}
	}
}

func TestHashPasswordInterop_CryptVerifies(t *testing.T) {
	perl := secretstest.Tool(t, "perl", "perl-base")
	for _, rounds := range []string{"", "3000"} {
		args := []string{"hash-password"}
		if rounds != "" {
			args = append(args, "--rounds", rounds)
		}
		hash := strings.TrimSpace(trio(t, "from trio\n", args...))
		// crypt(password, stored hash) == stored hash is how crypt(3) verifies.
		if got := string(perl(nil, "-e", `print crypt($ARGV[0], $ARGV[1])`, "from trio", hash)); got != hash {
			t.Errorf("crypt(3) does not verify %q: got %q", hash, got)
		}
	}
}

func firstLineOf(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}
