package host

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// blockedDirs lists the directories above paths that a service user
// (neither owner nor root) cannot cross: a checkout under /root, whose
// mode is 0700, keeps www-data from the code and mysql from its data.
// Only meaningful when trio runs as root and the programs drop to users.
func blockedDirs(paths ...string) []string {
	var out []string
	for _, p := range paths {
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			fi, err := os.Stat(dir)
			if err == nil && fi.Mode().Perm()&0o001 == 0 && !slices.Contains(out, dir) {
				// The stack's own directories have the modes trio gave them.
				out = append(out, dir)
			}
			if dir == "/" || dir == "." {
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// grant adds search permission for others on dirs, and nothing else:
// names inside stay unlistable and file modes are untouched.
func grant(dirs []string) error {
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("grant access to %s: %w", d, err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
			return fmt.Errorf("grant access to %s: %w", d, err)
		}
	}
	return nil
}
