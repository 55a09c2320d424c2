package secrets

// Interoperability with the real tools, from Debian's packages:
// ansible-vault and ansible (ansible-core), mkpasswd (whois) and perl's
// crypt, which calls the system's crypt(3). Missing tools skip locally and
// fail in CI (see secretstest.RequireTool).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/secrets/secretstest"
)

// ansiblePython returns the interpreter ansible-vault runs under, from its
// #! line, to call ansible's own library.
func ansiblePython(t testing.TB) string {
	t.Helper()
	path := secretstest.RequireTool(t, "ansible-vault", "ansible-core")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		t.Fatalf("%s has no #! line", path)
	}
	return fields[len(fields)-1]
}

// interopPlaintext exercises several lines, UTF-8 and a missing final newline.
const interopPlaintext = "db_password: s3cret\napp_key: \"ключ: 🔑\"\n# comment\nlast: no newline"

func TestInterop_AnsibleEncryptGoDecrypt(t *testing.T) {
	vault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	pwFile := secretstest.WriteFile(t, dir, "pw", []byte(testPassword+"\n"), 0o600)
	for _, tt := range []struct{ label, flag string }{
		{"", "--vault-password-file=" + pwFile},
		{"prod", "--vault-id=prod@" + pwFile},
	} {
		t.Run("label="+tt.label, func(t *testing.T) {
			file := secretstest.WriteFile(t, dir, "v"+tt.label+".yml", []byte(interopPlaintext), 0o600)
			vault(nil, "encrypt", tt.flag, file)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, label, err := Decrypt(data, []byte(testPassword))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != interopPlaintext || label != tt.label {
				t.Errorf("Decrypt = %q, %q; want %q, %q", got, label, interopPlaintext, tt.label)
			}
		})
	}
}

func TestInterop_GoEncryptAnsibleDecrypt(t *testing.T) {
	vault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	pwFile := secretstest.WriteFile(t, dir, "pw", []byte(testPassword+"\n"), 0o600)
	for _, tt := range []struct{ label, flag string }{
		{"", "--vault-password-file=" + pwFile},
		{"prod", "--vault-id=prod@" + pwFile},
	} {
		t.Run("label="+tt.label, func(t *testing.T) {
			data := mustEncrypt(t, []byte(interopPlaintext), []byte(testPassword), tt.label)
			file := secretstest.WriteFile(t, dir, "go"+tt.label+".vault", data, 0o600)
			// view prints through ansible's display, which ends the text
			// with a newline; decrypt below is compared byte for byte.
			if got := vault(nil, "view", tt.flag, file); string(got) != interopPlaintext+"\n" {
				t.Errorf("ansible-vault view = %q, want %q", got, interopPlaintext)
			}
			if got := vault(nil, "decrypt", tt.flag, "--output=-", file); string(got) != interopPlaintext {
				t.Errorf("ansible-vault decrypt = %q, want %q", got, interopPlaintext)
			}
		})
	}
}

// TestInterop_SameBytesAsAnsible compares a whole vault file with what
// ansible's own VaultAES256 writes for the same salt.
func TestInterop_SameBytesAsAnsible(t *testing.T) {
	python := ansiblePython(t)
	salt := "trio fixed salt for this test 32"
	for _, label := range []string{"", "prod"} {
		script := `import sys
from ansible.parsing.vault import VaultAES256, VaultSecret, format_vaulttext_envelope
body = VaultAES256.encrypt(sys.stdin.buffer.read(), VaultSecret(sys.argv[1].encode()), salt=sys.argv[2].encode())
sys.stdout.buffer.write(format_vaulttext_envelope(body, 'AES256', vault_id=sys.argv[3] or None))`
		want := run(t, []byte(interopPlaintext), nil, python, "-c", script, testPassword, salt, label)
		v := &Vault{Version: version11, salt: []byte(salt)}
		if label != "" {
			v.Version, v.Label = version12, label
		}
		if err := v.seal([]byte(interopPlaintext), []byte(testPassword)); err != nil {
			t.Fatal(err)
		}
		if got := v.encode(); !bytes.Equal(got, want) {
			t.Errorf("label %q: Go wrote\n%s\nansible wrote\n%s", label, got, want)
		}
	}
}

func TestInterop_EncryptString(t *testing.T) {
	vault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	adhoc := secretstest.Tool(t, "ansible", "ansible-core")
	dir := t.TempDir()
	pwFile := secretstest.WriteFile(t, dir, "pw", []byte(testPassword+"\n"), 0o600)

	t.Run("ansible to Go", func(t *testing.T) {
		snippet := vault(nil, "encrypt_string", "--vault-password-file="+pwFile, "--name=db_password", "s3 cret")
		in, err := DecryptString(snippet, []byte(testPassword))
		if err != nil {
			t.Fatal(err)
		}
		if in.Name != "db_password" || string(in.Value) != "s3 cret" {
			t.Errorf("DecryptString = %+v, want db_password = \"s3 cret\"", in)
		}
		doc := append([]byte("plain: p\n"), snippet...)
		got, err := ParseSecrets(doc, []byte(testPassword))
		if err != nil || got["db_password"] != "s3 cret" || got["plain"] != "p" {
			t.Errorf("ParseSecrets = %v, %v", got, err)
		}
	})
	t.Run("Go to ansible", func(t *testing.T) {
		snippet, err := EncryptString([]byte("s3 cret"), []byte(testPassword), "db_password", "")
		if err != nil {
			t.Fatal(err)
		}
		vars := secretstest.WriteFile(t, dir, "vars.yml", []byte(snippet+"\n"), 0o600)
		out := adhoc(nil, "localhost", "-c", "local", "-i", "localhost,", "-m", "debug",
			"-a", "var=db_password", "-e", "@"+vars, "--vault-password-file="+pwFile)
		_, js, ok := bytes.Cut(out, []byte("=> "))
		var result map[string]string
		if !ok || json.Unmarshal(js, &result) != nil || result["db_password"] != "s3 cret" {
			t.Errorf("ansible read %s, want db_password = \"s3 cret\"", out)
		}
	})
}

// TestInterop_PasswordSources checks that ReadPassword reads password files
// and scripts as ansible does: same file, same password.
func TestInterop_PasswordSources(t *testing.T) {
	vault := secretstest.Tool(t, "ansible-vault", "ansible-core")
	dir := t.TempDir()
	sources := []struct {
		name, label string
		script      []byte
		perm        os.FileMode
	}{
		{"padded.txt", "", []byte(" \t" + testPassword + "  \n\n"), 0o600},
		{"pw.sh", "", []byte("#!/bin/sh\nprintf '%s\\r\\n' '" + testPassword + "'\n"), 0o700},
		{"keyring-client.sh", "prod", []byte("#!/bin/sh\n[ \"$1 $2\" = '--vault-id prod' ] || exit 2\necho '" + testPassword + "'\n"), 0o700},
	}
	for _, s := range sources {
		t.Run(s.name, func(t *testing.T) {
			src := secretstest.WriteFile(t, dir, s.name, s.script, s.perm)
			flag := "--vault-password-file=" + src
			if s.label != "" {
				flag = "--vault-id=" + s.label + "@" + src
			}
			file := secretstest.WriteFile(t, dir, s.name+".vault", []byte("x: 1\n"), 0o600)
			vault(nil, "encrypt", flag, file)
			pw, err := ReadPassword(context.Background(), PasswordSource{File: src, Label: s.label, Getenv: env(nil)})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := Decrypt(data, pw); err != nil || string(got) != "x: 1\n" {
				t.Errorf("Decrypt with the password Go read = %q, %v", got, err)
			}
		})
	}
}

// crypt cases compared against mkpasswd and perl: the spec's vectors plus
// passwords with odd lengths, non-ASCII bytes and the longest salt.
var cryptCases = []struct {
	password, salt string
	rounds         int
}{
	{"Hello world!", "saltstring", 0},
	{"Hello world!", "saltstringsaltstring", 10000},
	{"This is just a test", "toolongsaltstring", 5000},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.", "anotherlongsaltstring", 1400},
	{"we have a short salt string but not a short password", "short", 77777},
	{"a short string", "asaltof16chars..", 123456},
	{"x", "abcdefgh", 1000},
	{"", "emptypassword", 0},
	{"pässwörd €", "Unicode./09AZaz", 0},
	{strings.Repeat("long password ", 20), "ABCDEFGHIJKLMNOP", 2048},
	{"trio", "1234567890123456", 5000},
}

func TestInterop_MkpasswdSameHash(t *testing.T) {
	mkpasswd := secretstest.RequireTool(t, "mkpasswd", "whois")
	for _, c := range cryptCases {
		if len(c.salt) < 8 || c.password == "" {
			continue // mkpasswd wants 8-16 salt characters and a password
		}
		args := []string{"-m", "sha-512", "-S", c.salt[:min(len(c.salt), 16)]}
		if c.rounds != 0 {
			args = append(args, "-R", strconv.Itoa(c.rounds))
		}
		want := strings.TrimSpace(string(run(t, nil, nil, mkpasswd, append(args, c.password)...)))
		got, err := HashSHA512Crypt([]byte(c.password), c.salt, c.rounds)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("HashSHA512Crypt(%q, %q, %d) =\n%s\nmkpasswd says\n%s", c.password, c.salt, c.rounds, got, want)
		}
	}
}

func TestInterop_PerlCryptSameHash(t *testing.T) {
	perl := secretstest.RequireTool(t, "perl", "perl-base")
	const script = `print crypt($ARGV[0], $ARGV[1]) // "undef"`
	for _, c := range cryptCases {
		setting := "$6$" + c.salt
		if c.rounds != 0 {
			setting = "$6$rounds=" + strconv.Itoa(c.rounds) + "$" + c.salt
		}
		want := string(run(t, nil, nil, perl, "-e", script, c.password, setting))
		got, err := HashSHA512Crypt([]byte(c.password), c.salt, c.rounds)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("HashSHA512Crypt(%q, %q, %d) =\n%s\ncrypt(3) says\n%s", c.password, c.salt, c.rounds, got, want)
		}
	}
}

func TestInterop_HashesVerifyBothWays(t *testing.T) {
	mkpasswd := secretstest.RequireTool(t, "mkpasswd", "whois")
	perl := secretstest.RequireTool(t, "perl", "perl-base")
	for _, args := range [][]string{{"-m", "sha-512"}, {"-m", "sha-512", "-R", "7000"}} {
		hash := strings.TrimSpace(string(run(t, nil, nil, mkpasswd, append(args, "from mkpasswd")...)))
		if !VerifySHA512Crypt(hash, []byte("from mkpasswd")) {
			t.Errorf("VerifySHA512Crypt(%q) = false for the mkpasswd password", hash)
		}
		if VerifySHA512Crypt(hash, []byte("from mkpasswd!")) {
			t.Errorf("VerifySHA512Crypt(%q) = true for a wrong password", hash)
		}
	}
	for _, rounds := range []int{0, 3000} {
		hash, err := NewSHA512Crypt([]byte("from Go"), rounds)
		if err != nil {
			t.Fatal(err)
		}
		// crypt(password, stored hash) == stored hash is how crypt(3) verifies.
		got := string(run(t, nil, nil, perl, "-e", `print crypt($ARGV[0], $ARGV[1])`, "from Go", hash))
		if got != hash {
			t.Errorf("crypt(3) does not verify %q: got %q", hash, got)
		}
	}
}
