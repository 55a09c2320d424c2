package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/fsutil"
)

// Config files live in versioned directories, conf/web-0.<hash>/, never
// edited in place. Two symlinks per instance point into them:
//
//	conf/web-0          what the program reads (it was started with this path)
//	conf/web-0.running  what the running program was last started or reloaded with
//
// Switching the first is one atomic rename, for all of an instance's files
// at once; the second is moved only once the program has taken the change,
// so a plan made after an interrupted apply still sees what is really live.

// confSet is an instance's files by name.
type confSet map[string][]byte

func (c confSet) digests() map[string]string {
	out := make(map[string]string, len(c))
	for name, data := range c {
		sum := sha256.Sum256(data)
		out[name] = hex.EncodeToString(sum[:])
	}
	return out
}

// version names the set by its content.
func (c confSet) version() string {
	h := sha256.New()
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(c[n]))
		h.Write(c[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// confDir is the versioned directory of a set.
func (h *Host) confDir(inst string, c confSet) string {
	return filepath.Join(h.layout.Conf, inst+"."+c.version())
}

// materialize writes the set into its versioned directory, once: the
// directory appears complete or not at all.
func (h *Host) materialize(inst string, c confSet) (string, error) {
	dir := h.confDir(inst, c)
	if _, err := os.Stat(dir); err == nil {
		disk, err := readSet(dir)
		if err == nil && maps.Equal(disk.digests(), c.digests()) {
			return dir, nil
		}
		// Edited in place since it was written: write it afresh.
		old := dir + ".edited-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := os.Rename(dir, old); err != nil {
			return "", fmt.Errorf("write config of %s: %w", inst, err)
		}
		defer os.RemoveAll(old)
	}
	tmp, err := os.MkdirTemp(h.layout.Conf, "."+inst+".tmp-")
	if err != nil {
		return "", fmt.Errorf("write config of %s: %w", inst, err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range c {
		if err := fsutil.WriteFileAtomic(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", err
		}
	}
	digests, err := json.Marshal(c.digests())
	if err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(tmp, digestsFile), digests, 0o644); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("write config of %s: %w", inst, err)
	}
	return dir, nil
}

// point makes the instance's config path lead to dir.
func (h *Host) point(inst, dir string) error {
	return fsutil.SymlinkAtomic(filepath.Base(dir), filepath.Join(h.layout.Conf, inst))
}

// markRunning records that the program now runs with dir.
func (h *Host) markRunning(inst, dir string) error {
	return fsutil.SymlinkAtomic(filepath.Base(dir), filepath.Join(h.layout.Conf, inst+".running"))
}

// current returns where the instance's config path leads, "" if nowhere.
func (h *Host) current(inst string) string {
	target, err := os.Readlink(filepath.Join(h.layout.Conf, inst))
	if err != nil {
		return ""
	}
	return filepath.Join(h.layout.Conf, target)
}

// digestsFile records, in each version directory, what trio wrote there:
// the program loaded exactly that, even if someone edits a file in place
// later.
const digestsFile = ".digests"

// runningSet reads the files of the version the running program was given:
// their content on disk now, and the digests of what trio wrote.
func (h *Host) runningSet(inst string) (disk confSet, written map[string]string, err error) {
	dir := filepath.Join(h.layout.Conf, inst+".running")
	disk, err = readSet(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read config of %s: %w", inst, err)
	}
	written = disk.digests()
	if b, err := os.ReadFile(filepath.Join(dir, digestsFile)); err == nil {
		_ = json.Unmarshal(b, &written)
	}
	return disk, written, nil
}

// prune removes an instance's config versions that neither link uses.
func (h *Host) prune(inst string) {
	keep := map[string]bool{}
	for _, link := range []string{inst, inst + ".running"} {
		if t, err := os.Readlink(filepath.Join(h.layout.Conf, link)); err == nil {
			keep[t] = true
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(h.layout.Conf, inst+".*"))
	for _, d := range dirs {
		base := filepath.Base(d)
		if keep[base] || base == inst+".running" {
			continue
		}
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			os.RemoveAll(d)
		}
	}
}

// readSet reads the config files in dir (not the bookkeeping dotfiles).
func readSet(dir string) (confSet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := confSet{}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}
