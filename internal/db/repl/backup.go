package repl

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/db"
	"github.com/trio-stack/trio/internal/fsutil"
)

// Method is how a backup was taken.
type Method int

const (
	// Physical is a prepared mariadb-backup copy of the data directory,
	// packed as data.tar.gz: fast to take and restore, same version only.
	Physical Method = 1
	// Logical is mariadb-dump SQL, dump.sql.gz: portable, slower.
	Logical Method = 2
)

func (m Method) String() string {
	switch m {
	case Physical:
		return "physical"
	case Logical:
		return "logical"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// MarshalText writes the method's name.
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a method's name.
func (m *Method) UnmarshalText(b []byte) error {
	switch string(b) {
	case "physical":
		*m = Physical
	case "logical":
		*m = Logical
	default:
		return fmt.Errorf("unknown backup method %q", b)
	}
	return nil
}

// ManifestName is the file that describes a backup. A directory without
// it is an incomplete backup: it is written last.
const ManifestName = "manifest.json"

const (
	physicalFile = "data.tar.gz"
	logicalFile  = "dump.sql.gz"
)

// Manifest describes one backup.
type Manifest struct {
	Format        int       `json:"format"`
	Method        Method    `json:"method"`
	Node          string    `json:"node"`
	Created       time.Time `json:"created"`
	ServerVersion string    `json:"server_version"`
	// GTID is the position the backup is consistent with: a node restored
	// from it replicates from there (StartReplica).
	GTID  Position `json:"gtid"`
	Files []File   `json:"files"`
}

// File is one file of a backup and its checksum.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupOptions tunes Backup; the zero value takes a physical backup.
type BackupOptions struct {
	Method Method // default Physical
	// Admin logs in for the tools; default unix_socket as the OS user.
	Admin Credentials
	// Databases limits a logical backup; default every database but the
	// system ones. Accounts and grants are always included.
	Databases []string
	// BackupProgram, DumpProgram default to mariadb-backup, mariadb-dump.
	BackupProgram string
	DumpProgram   string
	// Run runs mariadb-backup (see Runner); default: on this machine.
	Run      Runner
	Progress func(string)
}

// Backup takes a backup of a running node into dir, which must not exist
// or be empty, and writes its manifest last. Physical runs mariadb-backup
// --backup and --prepare over the node's socket and packs the prepared
// directory; Logical runs mariadb-dump --single-transaction --gtid
// --master-data=2 --routines --triggers --events (plus accounts), so
// neither blocks the node's writers for more than a moment. Take backups
// from a replica to keep the load off the primary.
func Backup(ctx context.Context, node Node, dir string, o BackupOptions) (Manifest, error) {
	if o.Method == 0 {
		o.Method = Physical
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	ents, err := os.ReadDir(dir)
	if err == nil && len(ents) > 0 {
		return Manifest{}, fmt.Errorf("backup %s: %s is not empty", node, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("backup %s: %w", node, err)
	}
	m, err := takeBackup(ctx, node, dir, o)
	if err != nil {
		// Leave nothing that looks like a backup.
		for _, name := range []string{physicalFile, logicalFile, ManifestName} {
			os.Remove(filepath.Join(dir, name))
		}
		os.Remove(dir) // only if empty, and so ours
		return Manifest{}, fmt.Errorf("backup %s: %w", node, err)
	}
	return m, nil
}

func takeBackup(ctx context.Context, node Node, dir string, o BackupOptions) (Manifest, error) {
	m := Manifest{Format: 1, Method: o.Method, Node: node.Name, Created: time.Now().UTC()}
	var err error
	switch o.Method {
	case Physical:
		err = backupPhysical(ctx, node, dir, o, &m)
	case Logical:
		err = backupLogical(ctx, node, dir, o, &m)
	default:
		err = fmt.Errorf("unknown method %s", o.Method)
	}
	if err != nil {
		return Manifest{}, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	return m, fsutil.WriteFileAtomic(filepath.Join(dir, ManifestName), append(b, '\n'), 0o600)
}

func backupPhysical(ctx context.Context, node Node, dir string, o BackupOptions, m *Manifest) error {
	staging := filepath.Join(dir, "prepared")
	defer os.RemoveAll(staging)
	err := copyDataDir(ctx, SeedOptions{Socket: node.Socket, Admin: o.Admin, TargetDir: staging, Program: o.BackupProgram, Run: o.Run, Progress: o.Progress})
	if err != nil {
		return err
	}
	if m.GTID, err = readBinlogInfo(staging); err != nil {
		m.GTID = Position{} // a node without a binlog still has a backup
	}
	m.ServerVersion = backupInfo(staging, "server_version")
	o.Progress("packing " + physicalFile)
	f, err := writeChecked(filepath.Join(dir, physicalFile), func(w io.Writer) error { return tarDir(w, staging) })
	if err != nil {
		return err
	}
	m.Files = []File{f}
	return nil
}

// backupInfo reads one "key = value" line of the xtrabackup_info file.
func backupInfo(dir, key string) string {
	for _, name := range []string{"mariadb_backup_info", "xtrabackup_info"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

func backupLogical(ctx context.Context, node Node, dir string, o BackupOptions, m *Manifest) error {
	prog := o.DumpProgram
	if prog == "" {
		prog = "mariadb-dump"
	}
	args, env, err := clientArgs(node, o.Admin)
	if err != nil {
		return err
	}
	args = append(args, "--single-transaction", "--gtid", "--master-data=2",
		"--routines", "--triggers", "--events", "--hex-blob",
		// Accounts as CREATE USER IF NOT EXISTS, so that loading into a
		// fresh server keeps its root and adds the rest.
		"--system=users", "--insert-ignore")
	if len(o.Databases) > 0 {
		args = append(args, "--databases")
		args = append(args, o.Databases...)
	} else {
		// The system tables belong to the server that loads the dump;
		// accounts travel as statements (--system=users).
		args = append(args, "--all-databases", "--ignore-database=mysql", "--ignore-database=sys")
	}
	o.Progress("dumping " + node.String())
	sniff := &dumpSniffer{}
	var stderr bytes.Buffer
	f, err := writeChecked(filepath.Join(dir, logicalFile), func(w io.Writer) error {
		// mariadb-dump works over TCP too, so it always runs here.
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = io.MultiWriter(w, sniff), &stderr
		return cmd.Run()
	})
	if err != nil {
		return fmt.Errorf("mariadb-dump: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	m.Files = []File{f}
	m.ServerVersion = sniff.version
	if m.GTID, err = ParsePosition(sniff.gtid); err != nil {
		return fmt.Errorf("mariadb-dump: %w", err)
	}
	return nil
}

// clientArgs are the login options of the mariadb command-line tools. A
// password travels in MYSQL_PWD, not on the command line.
func clientArgs(node Node, admin Credentials) (args, env []string, err error) {
	args = []string{"--no-defaults"}
	if node.Socket != "" {
		user := admin.User
		if user == "" {
			if user, err = db.AdminUser(); err != nil {
				return nil, nil, err
			}
		}
		args = append(args, "--socket="+node.Socket, "--user="+user)
	} else {
		if admin.User == "" {
			return nil, nil, fmt.Errorf("%s has no socket and no admin account was given", node)
		}
		args = append(args, "--host="+node.Host, fmt.Sprintf("--port=%d", node.Port), "--protocol=tcp", "--user="+admin.User)
	}
	if admin.Password != "" {
		env = []string{"MYSQL_PWD=" + admin.Password}
	}
	return args, env, nil
}

// dumpSniffer picks the server version and the GTID position out of the
// comments of a dump as it streams by, without keeping the data.
type dumpSniffer struct {
	line    []byte
	skip    bool // inside a long line that is no comment
	version string
	gtid    string
}

func (s *dumpSniffer) Write(b []byte) (int, error) {
	for _, c := range b {
		if c == '\n' {
			s.done()
			continue
		}
		if s.skip {
			continue
		}
		if len(s.line) < 2 || (s.line[0] == '-' && s.line[1] == '-' && len(s.line) < 4096) {
			s.line = append(s.line, c)
		} else {
			s.skip = true
		}
	}
	return len(b), nil
}

func (s *dumpSniffer) done() {
	l := string(s.line)
	s.line, s.skip = s.line[:0], false
	if v, ok := strings.CutPrefix(l, "-- Server version"); ok && s.version == "" {
		s.version = strings.TrimSpace(v)
	}
	// "-- SET GLOBAL gtid_slave_pos='0-1-17';"
	if v, ok := strings.CutPrefix(l, "-- SET GLOBAL gtid_slave_pos='"); ok {
		s.gtid, _, _ = strings.Cut(v, "'")
	}
}

// Verify reads a backup's manifest and checks every file against it.
func Verify(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, fmt.Errorf("verify backup: %w (a backup without a manifest is incomplete)", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("verify backup: %s: %w", ManifestName, err)
	}
	if len(m.Files) == 0 {
		return m, fmt.Errorf("verify backup: %s lists no files", ManifestName)
	}
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) {
			return m, fmt.Errorf("verify backup: bad file name %q", f.Name)
		}
		sum, size, err := hashFile(filepath.Join(dir, f.Name))
		if err != nil {
			return m, fmt.Errorf("verify backup: %w", err)
		}
		if sum != f.SHA256 || size != f.Size {
			return m, fmt.Errorf("%w: %s has sha256 %s and %d bytes, the manifest says %s and %d", ErrChecksum, f.Name, sum, size, f.SHA256, f.Size)
		}
	}
	return m, nil
}

// Restore unpacks a physical backup into the data directory of a stopped
// node, after checking it against its manifest. datadir must not exist
// or be empty (move the old one aside first). The files belong to the
// user trio runs as: the caller hands them to the server's user and
// starts mariadbd. Then, for a replica, StartReplica with the manifest's
// GTID; for a new primary, SetPosition with it before Promote, or its
// first transactions would reuse sequence numbers its replicas have
// seen. A logical backup is loaded into a running server with LoadDump.
func Restore(ctx context.Context, backupDir, datadir string) (Manifest, error) {
	m, err := Verify(backupDir)
	if err != nil {
		return m, err
	}
	if m.Method != Physical {
		return m, fmt.Errorf("restore %s: a %s backup is loaded into a running server (LoadDump)", backupDir, m.Method)
	}
	if ents, err := os.ReadDir(datadir); err == nil && len(ents) > 0 {
		return m, fmt.Errorf("restore into %s: it is not empty; move it aside first", datadir)
	}
	staging := datadir + ".restoring"
	if err := os.RemoveAll(staging); err != nil {
		return m, err
	}
	if err := untar(ctx, filepath.Join(backupDir, physicalFile), staging); err != nil {
		os.RemoveAll(staging)
		return m, fmt.Errorf("restore into %s: %w", datadir, err)
	}
	os.Remove(datadir) // empty, or absent
	if err := os.Rename(staging, datadir); err != nil {
		return m, fmt.Errorf("restore into %s: %w", datadir, err)
	}
	return m, fsutil.SyncDir(filepath.Dir(datadir))
}

// LoadDump loads a logical backup into a running node (a freshly
// initialised one, normally) with the mariadb client, after checking it
// against its manifest. Loading writes the data anew, into the node's own
// binlog under its own server id: the node starts a new history, and
// replicas are seeded from it rather than pointed at it.
func LoadDump(ctx context.Context, backupDir string, node Node, admin Credentials) (Manifest, error) {
	m, err := Verify(backupDir)
	if err != nil {
		return m, err
	}
	if m.Method != Logical {
		return m, fmt.Errorf("load %s: a %s backup is restored into a stopped node's data directory (Restore)", backupDir, m.Method)
	}
	f, err := os.Open(filepath.Join(backupDir, logicalFile))
	if err != nil {
		return m, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return m, fmt.Errorf("load %s: %w", backupDir, err)
	}
	args, env, err := clientArgs(node, admin)
	if err != nil {
		return m, err
	}
	cmd := exec.CommandContext(ctx, "mariadb", append(args, "--batch", "--binary-mode")...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = zr, &out, &out
	if err := cmd.Run(); err != nil {
		return m, fmt.Errorf("load %s into %s: %v: %s", backupDir, node, err, strings.TrimSpace(out.String()))
	}
	return m, nil
}

// TableChecksums returns CHECKSUM TABLE of every base table in schema, by
// table name: equal maps on two nodes mean equal data.
func TableChecksums(ctx context.Context, d *sql.DB, schema string) (map[string]int64, error) {
	rows, err := d.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", schema)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", schema, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		var name string
		var sum sql.NullInt64
		if err := d.QueryRowContext(ctx, "CHECKSUM TABLE "+ident(schema)+"."+ident(t)).Scan(&name, &sum); err != nil {
			return nil, fmt.Errorf("checksum %s.%s: %w", schema, t, err)
		}
		out[t] = sum.Int64
	}
	return out, nil
}
