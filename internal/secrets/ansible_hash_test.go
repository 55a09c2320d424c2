package secrets

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/secrets/secretstest"
)

// ansiblePasswordHash runs Ansible's own password_hash filter.
func ansiblePasswordHash(t *testing.T, expr string) string {
	t.Helper()
	secretstest.RequireTool(t, "ansible", "ansible-core")
	cmd := exec.Command("ansible", "localhost", "-o", "-m", "debug", "-a", "msg={{ "+expr+" }}")
	cmd.Env = append(os.Environ(), "ANSIBLE_LOCALHOST_WARNING=false", "ANSIBLE_DEPRECATION_WARNINGS=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "=> ")
	if !ok {
		t.Fatalf("unexpected ansible output: %s", out)
	}
	var res struct{ Msg string }
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatalf("ansible output: %v: %s", err, js)
	}
	return res.Msg
}

// TestSHA512Crypt_MatchesAnsiblePasswordHash: trio's hashes are the ones
// Ansible's password_hash('sha512') makes, with and without rounds, and
// Ansible's random-salt hashes verify in trio.
func TestSHA512Crypt_MatchesAnsiblePasswordHash(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		salt   string
		rounds int
	}{
		{"'hunter2' | password_hash('sha512', 'saltsaltsalt1234')", "saltsaltsalt1234", 0},
		{"'hunter2' | password_hash('sha512', 'saltsaltsalt1234', rounds=10000)", "saltsaltsalt1234", 10000},
		{"'pässwörd with spaces' | password_hash('sha512', 'abc./XYZ')", "abc./XYZ", 0},
	} {
		want := ansiblePasswordHash(t, tc.expr)
		pw := strings.Split(tc.expr, "'")[1]
		got, err := HashSHA512Crypt([]byte(pw), tc.salt, tc.rounds)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s:\n trio    %s\n ansible %s", tc.expr, got, want)
		}
	}
	random := ansiblePasswordHash(t, "'hunter2' | password_hash('sha512')")
	if !VerifySHA512Crypt(random, []byte("hunter2")) || VerifySHA512Crypt(random, []byte("hunter3")) {
		t.Errorf("Ansible's random-salt hash %s does not verify as it should", random)
	}
}
