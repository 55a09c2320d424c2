package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/stack"
)

// The app's code runs from releases: copies of app.root named by a hash
// of their content, under .trio/releases/. Links choose what runs:
//
//	releases/app-N    the release app instance N runs (its PHP-FPM chdir)
//	releases/current  the release nginx serves static files from
//
// A deploy makes the new release, checks it on a private PHP-FPM pool,
// then moves each app instance to it in turn, and finally the static
// files; `trio rollback` does the same towards the previous release.

// history is what releases/history.json keeps.
type history struct {
	// Deployed lists release ids in the order they went live, oldest first.
	Deployed []string `json:"deployed"`
	// RolledBack is the release `trio rollback` left; apply does not bring
	// it back until the code changes again.
	RolledBack string `json:"rolled_back,omitempty"`
	// Stat maps a cheap signature of app.root (names, sizes, times) to the
	// content hash it had, so an unchanged tree is not read again.
	Stat map[string]string `json:"stat"`
}

func (h *Host) releasesDir() string { return filepath.Join(h.layout.State, "releases") }

func (h *Host) readHistory() (*history, error) {
	b, err := os.ReadFile(filepath.Join(h.releasesDir(), "history.json"))
	hist := &history{Stat: map[string]string{}}
	if errors.Is(err, fs.ErrNotExist) {
		return hist, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, hist); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(h.releasesDir(), "history.json"), err)
	}
	if hist.Stat == nil {
		hist.Stat = map[string]string{}
	}
	return hist, nil
}

func (h *Host) writeHistory(hist *history) error {
	b, err := json.MarshalIndent(hist, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(h.releasesDir(), "history.json"), b, 0o644)
}

// skipInRelease are names under app.root that are never part of a release.
var skipInRelease = map[string]bool{StateDirName: true, ".git": true, "trio.lock": true}

// notCode lists what under app.root describes or keeps the stack rather
// than makes up the app (trio.yaml, the vault, the backups): a change
// there is no deploy.
func (h *Host) notCode(st *stack.Stack) map[string]bool {
	out := map[string]bool{}
	root := st.Path(st.App.Root)
	for _, p := range []string{st.File, st.Path(st.Secrets.Vault), st.Path(st.DB.Backup.Dir), h.layout.State, h.layout.Secrets} {
		if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
			out[rel] = true
		}
	}
	return out
}

type srcFile struct {
	rel  string
	mode fs.FileMode
	size int64
	mod  time.Time
}

// appFiles walks app.root (not following symlinks to directories).
func appFiles(root string, skip map[string]bool) ([]srcFile, error) {
	var out []srcFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "." && (skipInRelease[d.Name()] || skip[rel]) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !(d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, srcFile{rel: rel, mode: fi.Mode(), size: fi.Size(), mod: fi.ModTime()})
		return nil
	})
	return out, err
}

// releaseID names the content of app.root: a hash of every file's path,
// mode and bytes. Reading the tree is skipped when a cheap signature of
// it (names, sizes, modification times) was seen before.
func (h *Host) releaseID(st *stack.Stack, hist *history) (string, error) {
	root := st.Path(st.App.Root)
	files, err := appFiles(root, h.notCode(st))
	if err != nil {
		return "", fmt.Errorf("read app.root %s: %w", root, err)
	}
	sig := sha256.New()
	for _, f := range files {
		fmt.Fprintf(sig, "%s\x00%o\x00%d\x00%d\n", f.rel, f.mode, f.size, f.mod.UnixNano())
	}
	statSig := hex.EncodeToString(sig.Sum(nil))
	if id, ok := hist.Stat[statSig]; ok {
		return id, nil
	}
	content := sha256.New()
	for _, f := range files {
		fmt.Fprintf(content, "%s\x00%o\x00", f.rel, f.mode.Perm()|f.mode.Type())
		if f.mode&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(filepath.Join(root, f.rel))
			content.Write([]byte(target))
		} else if err := hashFile(content, filepath.Join(root, f.rel)); err != nil {
			return "", err
		}
		content.Write([]byte{0})
	}
	id := hex.EncodeToString(content.Sum(nil))[:12]
	hist.Stat = map[string]string{statSig: id} // only the latest is worth keeping
	return id, nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// buildRelease copies app.root into releases/<id>, once.
func (h *Host) buildRelease(st *stack.Stack, id string) (string, error) {
	dir := filepath.Join(h.releasesDir(), id)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(h.releasesDir(), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(h.releasesDir(), ".build-"+id+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	root := st.Path(st.App.Root)
	files, err := appFiles(root, h.notCode(st))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		dst := filepath.Join(tmp, f.rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return "", err
		}
		if f.mode&fs.ModeSymlink != 0 {
			target, err := os.Readlink(filepath.Join(root, f.rel))
			if err != nil {
				return "", err
			}
			if err := os.Symlink(target, dst); err != nil {
				return "", err
			}
			continue
		}
		if err := copyRegular(filepath.Join(root, f.rel), dst, f.mode.Perm()&0o750|0o440); err != nil {
			return "", err
		}
	}
	// The code is for the app's workers and nginx (the web user's group)
	// to read, whatever the checkout's modes, and for no one else.
	if err := os.Chmod(tmp, 0o750); err != nil {
		return "", err
	}
	if h.users.Root {
		_, gid := ids(h.users.Web)
		if err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if err := os.Chmod(p, 0o750); err != nil {
					return err
				}
			}
			return os.Lchown(p, 0, gid)
		}); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("make release %s: %w", id, err)
	}
	return dir, fsutil.SyncDir(h.releasesDir())
}

func copyRegular(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// releaseOf returns the release a link points at, "" if none.
func (h *Host) releaseOf(link string) string {
	target, err := os.Readlink(filepath.Join(h.releasesDir(), link))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

// pointRelease switches a link to a release in one rename.
func (h *Host) pointRelease(link, id string) error {
	return fsutil.SymlinkAtomic(id, filepath.Join(h.releasesDir(), link))
}

// pruneReleases removes releases beyond the newest keep that no link uses.
func (h *Host) pruneReleases(hist *history, keep int) {
	inUse := map[string]bool{}
	links, _ := filepath.Glob(filepath.Join(h.releasesDir(), "*"))
	for _, l := range links {
		if fi, err := os.Lstat(l); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			inUse[h.releaseOf(filepath.Base(l))] = true
		}
	}
	if len(hist.Deployed) > keep {
		hist.Deployed = hist.Deployed[len(hist.Deployed)-keep:]
	}
	for _, d := range links {
		id := filepath.Base(d)
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || inUse[id] || slices.Contains(hist.Deployed, id) {
			continue
		}
		if strings.HasPrefix(id, ".build-") || len(id) == 12 {
			os.RemoveAll(d)
		}
	}
}

// recordDeployed notes that id went live.
func (hist *history) recordDeployed(id string) {
	hist.Deployed = slices.DeleteFunc(hist.Deployed, func(s string) bool { return s == id })
	hist.Deployed = append(hist.Deployed, id)
}

// previous returns the release before the live one, for rollback.
func (hist *history) previous(live string) (string, error) {
	i := slices.Index(hist.Deployed, live)
	if i <= 0 {
		return "", errors.New("there is no earlier release to roll back to")
	}
	return hist.Deployed[i-1], nil
}
