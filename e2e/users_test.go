package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsers_AccountsFromTheVault: the users section makes a system account
// with a sha512-crypt hash of a vault secret and SSH keys; a second apply
// changes nothing; the plaintext is nowhere.
func TestUsers_AccountsFromTheVault(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making system accounts needs root")
	}
	s, pwFile := vaultStack(t)
	name := fmt.Sprintf("trioe2e%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("userdel", "--remove", name).Run() })
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq6mUhxkxw4bRjY3vYbqK2Cz4g2WmV0ESe0QnRZmJcd deploy@laptop"
	s.EditYAML(func(y string) string {
		return y + fmt.Sprintf("users:\n  %s:\n    password: {secret: api_token}\n    ssh_keys: [%q]\n    groups: [www-data]\n", name, key)
	})
	r := s.MustTrio("up", "--vault-password-file", pwFile)
	mustMatch(t, "up", fmt.Sprintf(`user %s: create, 1 SSH key\(s\)`, name), r.Stdout)

	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	var hash string
	for _, l := range strings.Split(string(shadow), "\n") {
		if f := strings.Split(l, ":"); f[0] == name && len(f) > 1 {
			hash = f[1]
		}
	}
	if !strings.HasPrefix(hash, "$6$") {
		t.Fatalf("shadow hash of %s is %q, want sha512-crypt", name, hash)
	}
	// glibc's crypt, through perl, agrees the hash is of the vault value.
	out, err := exec.Command("perl", "-e", `print crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? "ok" : "mismatch"`, apiToken, hash).Output()
	if err != nil || string(out) != "ok" {
		t.Fatalf("crypt(3) does not verify the hash: %s %v", out, err)
	}
	keys, err := os.ReadFile(filepath.Join("/home", name, ".ssh", "authorized_keys"))
	if err != nil || !strings.Contains(string(keys), key) {
		t.Fatalf("authorized_keys: %v\n%s", err, keys)
	}
	if fi, _ := os.Stat(filepath.Join("/home", name, ".ssh", "authorized_keys")); fi.Mode().Perm() != 0o600 {
		t.Errorf("authorized_keys mode %o", fi.Mode().Perm())
	}
	groups, _ := exec.Command("id", "-nG", name).Output()
	if !strings.Contains(string(groups), "www-data") {
		t.Errorf("%s is in %s, want www-data too", name, groups)
	}
	if r := s.MustTrio("plan", "--vault-password-file", pwFile); strings.TrimSpace(r.Stdout) != "no changes" {
		t.Fatalf("plan after creating the account:\n%s", r.Stdout)
	}
	if hits := grepTree(t, filepath.Join(s.Dir, ".trio"), apiToken); len(hits) > 0 {
		t.Errorf("the password is in %v", hits)
	}
}
