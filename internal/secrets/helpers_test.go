package secrets

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// testPassword is the password of the vaults under testdata/.
const testPassword = "trio-test-password"

// testdataPlaintext is the plaintext of testdata/ansible-*.vault.
const testdataPlaintext = "# made by ansible-vault 2.14 for trio tests\ndb_password: s3cret\napp_key: \"base64:AAAA==\"\n"

// readTestdata returns a file under testdata/.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// run runs a program with stdin and returns its stdout, failing the test
// with its stderr if it fails.
func run(t testing.TB, stdin []byte, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// mustEncrypt encrypts plaintext or fails the test.
func mustEncrypt(t testing.TB, plaintext, password []byte, label string) []byte {
	t.Helper()
	data, err := Encrypt(plaintext, password, label)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustParse parses a vault or fails the test.
func mustParse(t testing.TB, data []byte) *Vault {
	t.Helper()
	v, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
