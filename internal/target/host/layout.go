package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/trio-stack/trio/internal/render"
)

// StateDirName is the state directory trio keeps beside trio.yaml.
const StateDirName = ".trio"

// Layout is where one stack's state lives on the host.
type Layout struct {
	State string // the root: .trio beside trio.yaml, or --state
	Conf  string // rendered configs, one versioned directory per instance
	Run   string // pid files, sockets, the agent's socket and snapshot
	Data  string // database directories: removed only by down --volumes
	Logs  string
	Tmp   string
	Bin   string // the trio binary the agent runs from
	// Secrets is a private directory on tmpfs holding credentials; they
	// never touch the disk and vanish at reboot.
	Secrets string
}

// NewLayout places a stack's state under dir.
func NewLayout(dir string) (Layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Layout{}, err
	}
	sum := sha256.Sum256([]byte(abs))
	id := hex.EncodeToString(sum[:4])
	l := Layout{
		State: abs,
		Conf:  filepath.Join(abs, "conf"),
		Run:   filepath.Join(abs, "run"),
		Data:  filepath.Join(abs, "data"),
		Logs:  filepath.Join(abs, "logs"),
		Tmp:   filepath.Join(abs, "tmp"),
		Bin:   filepath.Join(abs, "bin"),
	}
	l.Secrets = secretsDir(id, l.Run)
	// Unix socket paths are limited to 107 bytes; a deep checkout would
	// otherwise fail with a baffling bind error.
	if n := len(filepath.Join(l.Run, "db-0", "mysqld.sock")); n > 100 {
		return Layout{}, fmt.Errorf("the state directory %s is too deep for unix sockets (%d bytes, the limit is about 100); pass a shorter --state DIR", abs, n)
	}
	return l, nil
}

// secretsDir picks a private tmpfs directory for credentials: /run/trio
// for root, the user's runtime directory otherwise, /dev/shm as a last
// tmpfs; only when there is none, the run directory on disk.
func secretsDir(id, run string) string {
	var candidates []string
	if os.Geteuid() == 0 {
		candidates = append(candidates, "/run/trio")
	} else if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		candidates = append(candidates, filepath.Join(x, "trio"))
	}
	candidates = append(candidates, "/dev/shm")
	for _, c := range candidates {
		parent := c
		if _, err := os.Stat(c); err != nil {
			parent = filepath.Dir(c)
		}
		if isTmpfs(parent) {
			if c == "/dev/shm" {
				return filepath.Join(c, "trio-"+strconv.Itoa(os.Geteuid())+"-"+id)
			}
			return filepath.Join(c, id)
		}
	}
	return filepath.Join(run, "secrets")
}

func isTmpfs(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC
}

// Users are the accounts the programs run as.
type Users struct {
	Root bool // trio runs as root and the programs drop privileges
	Web  *user.User
	DB   *user.User
}

// LookupUsers finds www-data and mysql when running as root; otherwise
// everything runs as the invoking user.
func LookupUsers() (Users, error) {
	if os.Geteuid() != 0 {
		return Users{}, nil
	}
	u := Users{Root: true}
	var err error
	if u.Web, err = user.Lookup("www-data"); err != nil {
		return u, fmt.Errorf("user www-data: %w; it comes with Debian's base system (adduser --system www-data)", err)
	}
	// mysql is created by the mariadb-server package; before the packages
	// are installed it may be missing, which Env tolerates.
	u.DB, _ = user.Lookup("mysql")
	return u, nil
}

func (u Users) webName() string {
	if u.Web == nil {
		return ""
	}
	return u.Web.Username
}

func (u Users) lbName() string {
	if !u.Root {
		return ""
	}
	return "haproxy"
}

func (u Users) dbName() string {
	if !u.Root {
		return ""
	}
	return "mysql"
}

// Env is what the renderers need to know about this host.
func (l Layout) Env(u Users) render.Env {
	return render.DebianEnv(render.Env{
		Run: l.Run, Data: l.Data, Logs: l.Logs, Tmp: l.Tmp, Secrets: l.Secrets,
		Releases: filepath.Join(l.State, "releases"),
		WebUser:  u.webName(), DBUser: u.dbName(), LBUser: u.lbName(),
	})
}

// ids returns the uid and gid of a user, or -1s when trio does not switch
// users.
func ids(u *user.User) (int, int) {
	if u == nil {
		return -1, -1
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

// mkdir creates dir with mode and, as root, hands it to owner.
func mkdir(dir string, mode os.FileMode, owner *user.User) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	if uid, gid := ids(owner); uid >= 0 {
		return os.Chown(dir, uid, gid)
	}
	return nil
}

// prepare creates the state directories with their modes. The run and
// data directories can be crossed but not listed by the service users, who
// only need to reach their own sockets and data.
func (l Layout) prepare(u Users) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{l.State, 0o755}, {l.Conf, 0o755}, {l.Run, 0o711}, {l.Data, 0o711},
		{l.Logs, 0o755}, {l.Tmp, 0o711}, {l.Bin, 0o755},
	} {
		if err := mkdir(d.path, d.mode, nil); err != nil {
			return fmt.Errorf("prepare %s: %w", d.path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(l.Secrets), 0o755); err != nil {
		return fmt.Errorf("prepare %s: %w", l.Secrets, err)
	}
	// Its name is predictable in a shared /dev/shm: it must be a real
	// directory of ours, not something another user put there first.
	if err := os.Mkdir(l.Secrets, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("prepare %s: %w", l.Secrets, err)
	}
	fi, err := os.Lstat(l.Secrets)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not a directory of this user's; remove it, it is not trio's", l.Secrets)
	}
	// The app's workers read their credentials, so the directory belongs
	// to their group; no one else may look inside.
	var group *user.User
	if u.Root {
		group = &user.User{Uid: "0", Gid: u.Web.Gid}
	}
	return mkdir(l.Secrets, 0o750, group)
}

// instanceDirs creates the directories an instance writes to at run time.
func (l Layout) instanceDirs(name string, tier string, u Users) error {
	switch tier {
	case "db":
		for _, d := range []string{filepath.Join(l.Run, name), filepath.Join(l.Tmp, name)} {
			if err := mkdir(d, 0o750, u.DB); err != nil {
				return err
			}
		}
	case "web":
		// nginx creates its temp paths below this and hands them to its
		// worker user itself.
		return mkdir(filepath.Join(l.Tmp, name), 0o755, nil)
	}
	return nil
}
