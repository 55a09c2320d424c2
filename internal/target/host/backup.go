package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/db"
	"github.com/trio-stack/trio/internal/db/cluster"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

var _ target.Database = (*Host)(nil)

// ErrStackDown means a database command needs the stack running.
var ErrStackDown = errors.New("the stack is not running; start it with `trio up`")

// running returns what the agent says, or ErrStackDown.
func (h *Host) running(ctx context.Context) (agent.Status, error) {
	st, err := h.agent.Ping(ctx)
	if errors.Is(err, agent.ErrNoAgent) {
		return st, ErrStackDown
	}
	return st, err
}

// DBStatus reports the database: the whole topology with replicas, the
// lone node's positions without.
func (h *Host) DBStatus(ctx context.Context, st *stack.Stack) (cluster.Topology, error) {
	status, err := h.running(ctx)
	if err != nil {
		return cluster.Topology{}, err
	}
	if st.DB.Replicas > 0 {
		return h.agent.DBStatus(ctx)
	}
	primary := h.primaryOf(st, status)
	n := cluster.NodeState{Name: primary.String(), Addr: h.node(st, primary.Index).Addr(), Role: cluster.RolePrimary}
	conn, err := db.Admin(h.env.DBSocket(primary.Index))
	if err != nil {
		return cluster.Topology{}, err
	}
	defer conn.Close()
	s, err := repl.Status(ctx, conn)
	if err != nil {
		n.Role, n.Error = cluster.RoleDown, err.Error()
	} else {
		n.Reachable, n.ServerID, n.ReadOnly = true, s.ServerID, s.ReadOnly
		n.BinlogPos, n.CurrentPos, n.SlavePos = s.BinlogPos, s.CurrentPos, s.SlavePos
	}
	return cluster.Topology{Primary: n.Name, Nodes: []cluster.NodeState{n}}, nil
}

// DBAction runs a switchover or a forced failover through the agent.
func (h *Host) DBAction(ctx context.Context, st *stack.Stack, action, to string) (cluster.Topology, error) {
	if st.DB.Replicas == 0 {
		return cluster.Topology{}, fmt.Errorf("%s needs replicas; set db.replicas in trio.yaml (%s) and run trio apply", action, st.Pos("db.replicas"))
	}
	if _, err := h.running(ctx); err != nil {
		return cluster.Topology{}, err
	}
	t, err := h.agent.DBAction(ctx, action, to)
	if err != nil {
		return t, err
	}
	return t, h.writeTopology(topology{Primary: t.Primary, PromotedAt: t.PromotedAt})
}

// backupSource picks the node to copy: a replica that keeps up, so the
// primary does not carry the load, else the primary.
func (h *Host) backupSource(ctx context.Context, st *stack.Stack) (repl.Node, error) {
	status, err := h.running(ctx)
	if err != nil {
		return repl.Node{}, err
	}
	primary := h.primaryOf(st, status)
	if st.DB.Replicas > 0 {
		if t, err := h.agent.DBStatus(ctx); err == nil {
			for _, n := range t.Nodes {
				if n.Role == cluster.RoleReplica && n.Reachable && n.Replication != nil && n.Replication.SQLThread {
					inst, err := stack.ParseInstance(n.Name)
					if err == nil {
						return h.node(st, inst.Index), nil
					}
				}
			}
		}
	}
	return h.node(st, primary.Index), nil
}

// Backup copies the database into a new directory below db.backup.dir
// (or dir) with a manifest: when, from which GTID position, checksums.
func (h *Host) Backup(ctx context.Context, st *stack.Stack, opts target.BackupOptions, report target.Reporter) (repl.Manifest, string, error) {
	node, err := h.backupSource(ctx, st)
	if err != nil {
		return repl.Manifest{}, "", err
	}
	method := repl.Physical
	if opts.Logical || (opts.Method == "" && st.DB.Backup.Method == "logical") || opts.Method == "logical" {
		method = repl.Logical
	}
	root := opts.Dir
	if root == "" {
		root = st.Path(st.DB.Backup.Dir)
	}
	dir := filepath.Join(root, time.Now().UTC().Format("20060102T150405Z")+"-"+method.String())
	if err := os.MkdirAll(root, 0o700); err != nil {
		return repl.Manifest{}, "", err
	}
	m, err := repl.Backup(ctx, node, dir, repl.BackupOptions{
		Method:   method,
		Progress: func(s string) { report.Emit(target.Event{Phase: target.PhaseProgress, Message: s}) },
	})
	if err != nil {
		return m, "", err
	}
	if opts.Keep > 0 {
		pruneBackups(root, opts.Keep)
	}
	return m, dir, nil
}

// pruneBackups keeps the newest keep backups (directories with a
// manifest), and removes what an interrupted backup left a day ago.
func pruneBackups(root string, keep int) {
	entries, _ := os.ReadDir(root)
	var dirs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, e.Name(), repl.ManifestName)); err == nil {
			dirs = append(dirs, e.Name())
		} else if fi, err := e.Info(); err == nil && e.IsDir() && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(dirs) // names start with the time
	for len(dirs) > keep {
		os.RemoveAll(filepath.Join(root, dirs[0]))
		dirs = dirs[1:]
	}
}

// restoredMarker, inside a restored data directory, holds the GTID position
// of the backup until the node is opened for writes.
const restoredMarker = "trio-restored-position"

// Restore puts a backup in place of the database. A physical backup goes
// into a stopped stack: the current data directory is moved aside (never
// deleted) and replicas are re-seeded at the next `trio up`. A logical one
// is loaded into the running primary. With verify, the backup is restored
// into a scratch server instead and checked, and nothing else is touched.
func (h *Host) Restore(ctx context.Context, st *stack.Stack, dir string, opts target.RestoreOptions, report target.Reporter) (target.RestoreResult, error) {
	progress := func(s string) { report.Emit(target.Event{Phase: target.PhaseProgress, Message: s}) }
	m, err := repl.Verify(dir)
	if err != nil {
		return target.RestoreResult{}, err
	}
	res := target.RestoreResult{Manifest: m}
	if opts.Verify {
		res.Tables, err = h.verifyBackup(ctx, st, dir, m, progress)
		return res, err
	}
	// Whether MariaDB runs: the agent says so, or its snapshot does when
	// no agent answers (its processes outlive it).
	status, _, err := h.observeAgent(ctx)
	if err != nil {
		return res, err
	}
	up := slices.ContainsFunc(status.Services, func(s agent.ServiceStatus) bool { return s.Tier == "db" && s.PID > 0 })
	if m.Method == repl.Logical {
		if !up {
			return res, fmt.Errorf("a logical backup is loaded into the running database: start the stack with `trio up` first")
		}
		primary := h.primaryOf(st, status)
		progress("loading the dump into " + primary.String())
		_, err := repl.LoadDump(ctx, dir, h.node(st, primary.Index), repl.Credentials{})
		return res, err
	}
	if up {
		return res, fmt.Errorf("a physical restore replaces the data directory: stop the stack first with `trio down` (the data is kept until the restore moves it aside)")
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for i := 0; i < st.Replicas(stack.TierDB); i++ {
		data := h.env.DataDir(i)
		if _, err := os.Stat(data); err == nil {
			aside := data + ".before-restore-" + stamp
			progress("moving " + filepath.Base(data) + " aside to " + filepath.Base(aside))
			if err := os.Rename(data, aside); err != nil {
				return res, err
			}
			res.MovedAside = append(res.MovedAside, aside)
		}
	}
	primary := stack.Instance{Tier: stack.TierDB, Index: 0}
	progress("restoring into " + primary.String())
	if _, err := repl.Restore(ctx, dir, h.env.DataDir(0)); err != nil {
		// Put everything back as it was.
		os.RemoveAll(h.env.DataDir(0))
		for i, aside := range res.MovedAside {
			if rerr := os.Rename(aside, strings.TrimSuffix(aside, ".before-restore-"+stamp)); rerr != nil {
				return res, fmt.Errorf("%w; moving %s back failed too (%v): move it back by hand", err, res.MovedAside[i], rerr)
			}
		}
		return res, fmt.Errorf("%w; the data directories are back as they were", err)
	}
	if h.users.Root {
		uid, gid := ids(h.users.DB)
		if err := chownTree(h.env.DataDir(0), uid, gid); err != nil {
			return res, err
		}
	}
	if err := os.WriteFile(filepath.Join(h.env.DataDir(0), restoredMarker), []byte(m.GTID.String()), 0o600); err != nil {
		return res, err
	}
	return res, h.writeTopology(topology{Primary: primary.String(), PromotedAt: m.GTID})
}

// verifyBackup restores into a scratch directory, starts a private server
// on it with networking off, and checksums every table of the app.
func (h *Host) verifyBackup(ctx context.Context, st *stack.Stack, dir string, m repl.Manifest, progress func(string)) (map[string]int64, error) {
	scratch, err := os.MkdirTemp(h.layout.Tmp, "verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if err := os.Chmod(scratch, 0o755); err != nil {
		return nil, err
	}
	data := filepath.Join(scratch, "data")
	conf := filepath.Join(h.layout.Conf, "db-0", "my.cnf")
	if m.Method == repl.Physical {
		progress("restoring into a scratch directory")
		if _, err := repl.Restore(ctx, dir, data); err != nil {
			return nil, err
		}
	} else {
		progress("making a scratch server for the dump")
		args := []string{"--defaults-file=" + conf, "--datadir=" + data, "--skip-test-db"}
		if h.users.Root {
			args = append(args, "--user=mysql", "--auth-root-authentication-method=socket", "--auth-root-socket-user=root")
		}
		if out, err := exec.CommandContext(ctx, h.programs.Install, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mariadb-install-db: %v:\n%s", err, indent(programErrors(string(out))))
		}
	}
	if h.users.Root {
		uid, gid := ids(h.users.DB)
		if err := chownTree(scratch, uid, gid); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(scratch, "mysqld.sock")
	srv, err := startPrivateServer(h.programs.MariaDB, conf, data, sock, filepath.Join(scratch, "mysqld.pid"), filepath.Join(h.layout.Logs, "db-verify.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := srv.waitReady(ctx, 2*time.Minute); err != nil {
		return nil, err
	}
	if m.Method == repl.Logical {
		progress("loading the dump")
		if _, err := repl.LoadDump(ctx, dir, repl.Node{Name: "verify", Socket: sock}, repl.Credentials{}); err != nil {
			return nil, err
		}
	}
	conn, err := db.Admin(sock)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	progress("checksumming the tables of " + st.DB.Database)
	return repl.TableChecksums(ctx, conn, st.DB.Database)
}

// primaryLogin is how the mariadb client programs reach the running
// primary as the administrator.
func (h *Host) primaryLogin(ctx context.Context, st *stack.Stack) ([]string, error) {
	status, err := h.running(ctx)
	if err != nil {
		return nil, err
	}
	u, err := db.AdminUser()
	if err != nil {
		return nil, err
	}
	primary := h.primaryOf(st, status)
	return []string{"--socket=" + h.env.DBSocket(primary.Index), "--user=" + u}, nil
}

// Shell runs the mariadb client on the primary, as the administrator.
func (h *Host) Shell(ctx context.Context, st *stack.Stack, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	login, err := h.primaryLogin(ctx, st)
	if err != nil {
		return err
	}
	argv := append(append(login, st.DB.Database), args...)
	// Not tied to ctx: Ctrl-C belongs to the client (it cancels a query).
	cmd := exec.Command("mariadb", argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}

// Dump writes a logical dump of the app's database to w.
func (h *Host) Dump(ctx context.Context, st *stack.Stack, w io.Writer) error {
	login, err := h.primaryLogin(ctx, st)
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "mariadb-dump", append(login,
		"--single-transaction", "--routines", "--triggers", "--events", "--databases", st.DB.Database)...)
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mariadb-dump: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
