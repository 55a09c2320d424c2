package host

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/secrets"
	"github.com/trio-stack/trio/internal/stack"
)

// userChange is what apply does for one account of the users section.
type userChange struct {
	name   string
	create bool
	hash   string // new crypt(3) hash to set; "" keeps the current one
	keys   []string
	setKey bool // rewrite authorized_keys
	shell  string
	groups []string
	cause  string
}

// keysMarker heads the authorized_keys files trio writes; without it the
// file is the user's own and left alone.
const keysMarker = "# " + "managed by trio (users section of trio.yaml); remove this line to manage the file yourself"

// observeUsers compares the users section with the host's accounts.
// Passwords are compared by verifying, never by reading them back.
func (h *Host) observeUsers(st *stack.Stack) ([]userChange, error) {
	if len(st.Users) == 0 {
		return nil, nil
	}
	shadow, err := readShadow()
	if err != nil && h.users.Root {
		return nil, err
	}
	var out []userChange
	for _, name := range sortedNames(st.Users) {
		u := st.Users[name]
		c := userChange{name: name, keys: u.SSHKeys, shell: cmp.Or(u.Shell, "/bin/bash"), groups: u.Groups}
		var causes []string
		existing, lookErr := user.Lookup(name)
		if lookErr != nil {
			c.create = true
			causes = append(causes, "create")
		}
		want, err := h.wantHash(u, shadow[name])
		if err != nil {
			return nil, fmt.Errorf("users.%s: %w", name, err)
		}
		if want != "" {
			c.hash = want
			if !c.create {
				causes = append(causes, "password changed")
			}
		}
		if len(u.SSHKeys) > 0 {
			home := filepath.Join("/home", name)
			if existing != nil {
				home = existing.HomeDir
			}
			cur, _ := os.ReadFile(filepath.Join(home, ".ssh", "authorized_keys"))
			switch {
			case len(cur) > 0 && !strings.HasPrefix(string(cur), keysMarker):
				// The user manages the file; trio does not touch it.
			case string(cur) != authorizedKeys(u.SSHKeys):
				c.setKey = true
				causes = append(causes, fmt.Sprintf("%d SSH key(s)", len(u.SSHKeys)))
			}
		}
		if existing != nil {
			if missing := missingGroups(existing, u.Groups); len(missing) > 0 {
				causes = append(causes, "add to "+strings.Join(missing, ", "))
			}
		}
		if len(causes) == 0 {
			continue
		}
		if !h.users.Root {
			return nil, fmt.Errorf("users.%s needs changes (%s), which need root; run trio as root", name, strings.Join(causes, ", "))
		}
		c.cause = strings.Join(causes, ", ")
		out = append(out, c)
	}
	return out, nil
}

// wantHash returns the hash to set, or "" when the account's current hash
// already matches trio.yaml.
func (h *Host) wantHash(u stack.User, current string) (string, error) {
	switch {
	case u.PasswordHash != "":
		if current == u.PasswordHash {
			return "", nil
		}
		return u.PasswordHash, nil
	case u.Password.IsSet():
		pw, err := h.resolve(u.Password)
		if err != nil {
			return "", err
		}
		if current != "" && secrets.VerifySHA512Crypt(current, []byte(pw)) {
			return "", nil
		}
		return secrets.NewSHA512Crypt([]byte(pw), 0)
	}
	return "", nil
}

func authorizedKeys(keys []string) string {
	var b strings.Builder
	b.WriteString(keysMarker + "\n")
	for _, k := range keys {
		b.WriteString(strings.TrimSpace(k) + "\n")
	}
	return b.String()
}

func missingGroups(u *user.User, want []string) []string {
	gids, _ := u.GroupIds()
	var have []string
	for _, gid := range gids {
		if g, err := user.LookupGroupId(gid); err == nil {
			have = append(have, g.Name)
		}
	}
	var out []string
	for _, g := range want {
		if !slices.Contains(have, g) {
			out = append(out, g)
		}
	}
	return out
}

// applyUser creates or updates one account. The hash goes to chpasswd on
// its standard input, so it never shows in a process list.
func applyUser(ctx context.Context, c userChange) error {
	if c.create {
		args := []string{"--create-home", "--shell", c.shell}
		if len(c.groups) > 0 {
			args = append(args, "--groups", strings.Join(c.groups, ","))
		}
		if out, err := exec.CommandContext(ctx, "useradd", append(args, c.name)...).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %v: %s", c.name, err, strings.TrimSpace(string(out)))
		}
	} else if len(c.groups) > 0 {
		if out, err := exec.CommandContext(ctx, "usermod", "--append", "--groups", strings.Join(c.groups, ","), c.name).CombinedOutput(); err != nil {
			return fmt.Errorf("usermod %s: %v: %s", c.name, err, strings.TrimSpace(string(out)))
		}
	}
	if c.hash != "" {
		cmd := exec.CommandContext(ctx, "chpasswd", "--encrypted")
		cmd.Stdin = strings.NewReader(c.name + ":" + c.hash + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("set the password of %s: %v: %s", c.name, err, strings.TrimSpace(string(out)))
		}
	}
	if c.setKey {
		u, err := user.Lookup(c.name)
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		dir := filepath.Join(u.HomeDir, ".ssh")
		// The account's owner controls its home: a symlink planted there
		// must not make root write keys, or hand over, somewhere else.
		for _, p := range []string{u.HomeDir, dir, filepath.Join(dir, "authorized_keys")} {
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				return fmt.Errorf("%s is a symlink; trio does not write an account's keys through one: replace it with a directory or file", p)
			}
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Lchown(dir, uid, gid); err != nil {
			return err
		}
		path := filepath.Join(dir, "authorized_keys")
		if err := fsutil.WriteFileAtomic(path, []byte(authorizedKeys(c.keys)), 0o600); err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	}
	return nil
}

// readShadow maps account names to their password hashes; only root can.
func readShadow() (map[string]string, error) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return map[string]string{}, err
		}
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 3)
		if len(fields) >= 2 {
			out[fields[0]] = fields[1]
		}
	}
	return out, sc.Err()
}

func sortedNames(m map[string]stack.User) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
