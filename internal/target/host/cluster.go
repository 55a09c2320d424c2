package host

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/db"
	"github.com/trio-stack/trio/internal/db/cluster"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/render"
	"github.com/trio-stack/trio/internal/secrets"
	"github.com/trio-stack/trio/internal/stack"
)

// A database with replicas is a cluster: every node starts read-only,
// trio opens the primary for writes (repl.Promote) and points the others
// at it, and the agent's failover controller takes over from there. Who is
// primary is the agent's to know; it is also kept in data/topology.json so
// that it survives `trio down` along with the data it describes.

// replUser is the account replicas log in to their primary with.
const replUser = "trio_repl"

// topology is what data/topology.json keeps.
type topology struct {
	Primary    string        `json:"primary"`
	PromotedAt repl.Position `json:"promoted_at,omitempty"`
}

func (h *Host) topologyFile() string { return filepath.Join(h.layout.Data, "topology.json") }

func (h *Host) readTopology() topology {
	var t topology
	if b, err := os.ReadFile(h.topologyFile()); err == nil {
		_ = json.Unmarshal(b, &t)
	}
	return t
}

func (h *Host) writeTopology(t topology) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.layout.Data, 0o711); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(h.topologyFile(), b, 0o600)
}

// primaryOf says which db instance is primary: the agent's word, else
// what the last agent or `trio down` recorded, else db-0.
func (h *Host) primaryOf(st *stack.Stack, status agent.Status) stack.Instance {
	inst, _ := h.checkedPrimary(st, status)
	return inst
}

// checkedPrimary is primaryOf, with an error when trio.yaml no longer has
// the node that is primary: lowering db.replicas below it would demote
// the one node that surely has every write.
func (h *Host) checkedPrimary(st *stack.Stack, status agent.Status) (stack.Instance, error) {
	first := stack.Instance{Tier: stack.TierDB, Index: 0}
	name := status.DBPrimary
	if name == "" {
		name = h.readTopology().Primary
	}
	inst, err := stack.ParseInstance(name)
	if err != nil || inst.Tier != stack.TierDB {
		return first, nil
	}
	if inst.Index >= st.Replicas(stack.TierDB) {
		return first, fmt.Errorf("%s is the database primary, and db.replicas: %d (%s) would remove it; first run `trio db switchover --to db-0`, then lower db.replicas", inst, st.DB.Replicas, st.Pos("db.replicas"))
	}
	return inst, nil
}

// replPassword is the replication account's password. MariaDB keeps it in
// plain text in each replica's master.info, inside the data directory;
// trio keeps it beside them (0600), where it is no more exposed.
func (h *Host) replPassword() (string, error) {
	path := h.replPasswordFile()
	b, err := os.ReadFile(path)
	if err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(raw)
	if err := os.MkdirAll(h.layout.Data, 0o711); err != nil {
		return "", err
	}
	return pw, fsutil.WriteFileAtomic(path, []byte(pw+"\n"), 0o600)
}

func (h *Host) replPasswordFile() string {
	return filepath.Join(h.layout.Data, "replication.password")
}

// node describes db instance i for the replication library.
func (h *Host) node(st *stack.Stack, i int) repl.Node {
	return repl.Node{
		Name:   stack.Instance{Tier: stack.TierDB, Index: i}.String(),
		Socket: h.env.DBSocket(i),
		Host:   "127.0.0.1",
		Port:   st.DBInstancePort(i),
	}
}

// clusterConfig is what the agent's failover controller is given.
func (h *Host) clusterConfig(st *stack.Stack, primary stack.Instance, promotedAt repl.Position) (cluster.Config, error) {
	// Made if missing; the controller reads it from the file.
	if _, err := h.replPassword(); err != nil {
		return cluster.Config{}, err
	}
	f := st.DB.Failover
	cfg := cluster.Config{
		Primary:          primary.String(),
		ReplUser:         replUser,
		ReplPasswordFile: h.replPasswordFile(),
		HAProxySocket:    h.env.LBSocket(0),
		WriteBackend:     render.DBWriteBackend,
		ReadBackend:      render.DBReadBackend,
		Heartbeat:        f.Heartbeat.Duration,
		FailAfter:        f.FailAfter.Duration,
		MinInterval:      f.MinInterval.Duration,
		MaxLag:           f.MaxLag.Duration,
		PromotedAt:       promotedAt,
	}
	for i := 0; i < st.Replicas(stack.TierDB); i++ {
		cfg.Nodes = append(cfg.Nodes, h.node(st, i))
	}
	return cfg, nil
}

// openPrimary makes a started primary writable and makes sure the
// replication account exists (replicas may have been added since).
func (h *Host) openPrimary(ctx context.Context, st *stack.Stack, inst stack.Instance, pl *payload) error {
	conn, err := db.Admin(h.env.DBSocket(inst.Index))
	if err != nil {
		return err
	}
	defer conn.Close()
	// The account first: once promoted, a commit waits for a replica's
	// acknowledgement, and a new cluster has no replica yet.
	pw, err := h.replPassword()
	if err != nil {
		return err
	}
	if err := repl.EnsureReplicationUser(ctx, conn, replUser, secrets.MySQLNativeHash([]byte(pw))); err != nil {
		return err
	}
	if err := h.applyRestored(ctx, conn, inst); err != nil {
		return err
	}
	pos, err := repl.Promote(ctx, conn, 30*time.Second)
	if err != nil {
		return fmt.Errorf("open %s for writes: %w", inst, err)
	}
	if len(pl.promotedAt) == 0 {
		pl.promotedAt = pos
	}
	return nil
}

// applyRestored makes a node restored from a backup number its next
// transactions after the backup's position, or GTIDs would repeat.
func (h *Host) applyRestored(ctx context.Context, conn *sql.DB, inst stack.Instance) error {
	marker := filepath.Join(h.env.DataDir(inst.Index), restoredMarker)
	b, err := os.ReadFile(marker)
	if err != nil {
		return nil
	}
	pos, err := repl.ParsePosition(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", marker, err)
	}
	// A binary log that came with the copy already numbers on from there.
	if s, err := repl.Status(ctx, conn); err == nil && !s.BinlogPos.Covers(pos) {
		if err := repl.SetPosition(ctx, conn, pos); err != nil {
			return err
		}
	}
	return os.Remove(marker)
}

// accountFile keeps a digest of the app account's password hash as the
// database has it, so that a plan made while the database is down still
// sees a password change coming.
func (h *Host) accountFile() string { return filepath.Join(h.layout.Data, "account.sum") }

func accountSum(hash string) string {
	sum := sha256.Sum256([]byte("trio account\x00" + hash))
	return hex.EncodeToString(sum[:])
}

func (h *Host) recordAccount(pl *payload) error {
	if pl.account.PasswordHash == "" {
		return nil
	}
	return fsutil.WriteFileAtomic(h.accountFile(), []byte(accountSum(pl.account.PasswordHash)+"\n"), 0o600)
}

// accountChanged reports whether trio.yaml's password differs from the one
// last given to the database.
func (h *Host) accountChanged(pl *payload) bool {
	b, err := os.ReadFile(h.accountFile())
	return err == nil && pl.account.PasswordHash != "" && strings.TrimSpace(string(b)) != accountSum(pl.account.PasswordHash)
}

// seedPositionFile holds, inside a freshly seeded data directory, the GTID
// position the copy is consistent with, until replication starts from it.
const seedPositionFile = "trio-seed-position"

// seedReplica makes a replica's data directory from the running primary.
func (h *Host) seedReplica(ctx context.Context, st *stack.Stack, inst stack.Instance, primary stack.Instance, staging string, progress func(string)) error {
	progress("copying " + primary.String() + " with mariadb-backup")
	pos, err := repl.Seed(ctx, repl.SeedOptions{
		Socket:    h.env.DBSocket(primary.Index),
		TargetDir: staging,
		Progress:  progress,
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(staging, seedPositionFile), []byte(pos.String()), 0o600); err != nil {
		return err
	}
	// mariadb-backup ran as root; the server runs as mysql.
	if h.users.Root {
		uid, gid := ids(h.users.DB)
		if err := chownTree(staging, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(staging, 0o700)
}

func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// followPrimary points a started replica at the primary: from the seed's
// position the first time, from where it was afterwards.
func (h *Host) followPrimary(ctx context.Context, st *stack.Stack, inst, primary stack.Instance) error {
	pw, err := h.replPassword()
	if err != nil {
		return err
	}
	conn, err := db.Admin(h.env.DBSocket(inst.Index))
	if err != nil {
		return err
	}
	defer conn.Close()
	creds := repl.Credentials{User: replUser, Password: pw}
	seedFile := filepath.Join(h.env.DataDir(inst.Index), seedPositionFile)
	if b, err := os.ReadFile(seedFile); err == nil {
		pos, err := repl.ParsePosition(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("%s: %w", seedFile, err)
		}
		if err := repl.StartReplica(ctx, conn, h.node(st, primary.Index), creds, pos, repl.ReplicaOptions{}); err != nil {
			return fmt.Errorf("%s follows %s: %w", inst, primary, err)
		}
		return os.Remove(seedFile)
	}
	if err := repl.Repoint(ctx, conn, h.node(st, primary.Index), creds, repl.ReplicaOptions{}); err != nil {
		return fmt.Errorf("%s follows %s: %w", inst, primary, err)
	}
	return nil
}
