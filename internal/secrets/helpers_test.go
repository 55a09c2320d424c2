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

// requireTool returns the path of a program the test runs. A missing program
// skips the test locally but fails it in CI, so CI never passes without
// having checked.
func requireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " not found; install it with: apt-get install -y " + pkg
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s", msg)
	}
	t.Skip(msg)
	return ""
}

// writeFile writes data to name in dir with perm and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask may have cut bits
		t.Fatal(err)
	}
	return path
}

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
