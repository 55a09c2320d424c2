package repl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trio-stack/trio/internal/db"
)

// Runner runs a program to completion with its output going to stdout
// and stderr. The default runs it on this machine. mariadb-backup copies
// a server's data directory, so it must run where that directory is: on
// Swarm, a Runner that execs in the primary's task, with the target
// directory on a volume both sides mount.
type Runner func(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error

func runLocal(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// SeedOptions says where to copy a running primary to.
type SeedOptions struct {
	// Socket is the primary's admin socket. mariadb-backup logs in with
	// unix_socket as the OS user, or as Admin when set.
	Socket string
	Admin  Credentials
	// TargetDir is a staging directory that must not exist or be empty.
	// On success it holds a prepared data directory, owned by the user
	// mariadb-backup ran as; on failure it is removed.
	TargetDir string
	Program   string // default "mariadb-backup"
	Run       Runner // default: on this machine
	Progress  func(string)
}

// Seed makes a new replica's data directory from the running primary
// with mariadb-backup (--backup, then --prepare) and returns the GTID
// position the copy is consistent with (mariadb_backup_binlog_info, or
// xtrabackup_binlog_info as 10.11 names it). The primary keeps taking
// writes while the files are copied (mariadb-backup holds BACKUP STAGE
// locks; commits pause only while it reads the final position). The
// caller then gives the directory to the server's user, renames it into
// place, starts mariadbd on it and calls StartReplica with the position.
func Seed(ctx context.Context, o SeedOptions) (Position, error) {
	if err := copyDataDir(ctx, o); err != nil {
		os.RemoveAll(o.TargetDir)
		return nil, fmt.Errorf("seed: %w", err)
	}
	pos, err := readBinlogInfo(o.TargetDir)
	if err != nil {
		os.RemoveAll(o.TargetDir)
		return nil, fmt.Errorf("seed: %w", err)
	}
	return pos, nil
}

// copyDataDir runs mariadb-backup --backup and --prepare into o.TargetDir.
func copyDataDir(ctx context.Context, o SeedOptions) error {
	if o.Socket == "" {
		return errors.New("mariadb-backup copies the data directory, so it runs beside the server: give the node's socket")
	}
	if o.Program == "" {
		o.Program = "mariadb-backup"
	}
	if o.Run == nil {
		o.Run = runLocal
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if ents, err := os.ReadDir(o.TargetDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty", o.TargetDir)
	}
	user := o.Admin.User
	if user == "" {
		u, err := db.AdminUser()
		if err != nil {
			return err
		}
		user = u
	}
	// --no-defaults: the server's settings come from the server itself,
	// and the system's my.cnf belongs to the system's MariaDB.
	args := []string{"--no-defaults", "--backup", "--target-dir=" + o.TargetDir, "--socket=" + o.Socket, "--user=" + user}
	if o.Admin.Password != "" {
		args = append(args, "--password="+o.Admin.Password)
	}
	o.Progress("copying the data directory")
	out := newProgressLog(o.Progress)
	if err := o.Run(ctx, o.Program, args, out, out); err != nil {
		return fmt.Errorf("mariadb-backup --backup: %v:\n%s", err, out.tail())
	}
	o.Progress(fmt.Sprintf("copied %d files; preparing", out.copied))
	prep := newProgressLog(nil)
	if err := o.Run(ctx, o.Program, []string{"--prepare", "--target-dir=" + o.TargetDir}, prep, prep); err != nil {
		return fmt.Errorf("mariadb-backup --prepare: %v:\n%s", err, prep.tail())
	}
	return nil
}

// readBinlogInfo reads the position a mariadb-backup copy is consistent
// with: "file<TAB>offset<TAB>gtid-list".
func readBinlogInfo(dir string) (Position, error) {
	var b []byte
	var err error
	for _, name := range []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"} {
		if b, err = os.ReadFile(filepath.Join(dir, name)); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read binlog position of the copy (is log_bin on?): %w", err)
	}
	return parseBinlogInfo(string(b))
}

func parseBinlogInfo(s string) (Position, error) {
	f := strings.Split(strings.TrimSpace(s), "\t")
	if len(f) < 2 {
		return nil, fmt.Errorf("binlog info %q: want file, offset and GTID position", s)
	}
	if len(f) < 3 {
		return Position{}, nil // no GTID written yet
	}
	return ParsePosition(f[2])
}

// progressLog is the output of mariadb-backup: it keeps the last lines for
// error messages and reports file copies, at most once a second.
type progressLog struct {
	mu       sync.Mutex
	progress func(string)
	partial  []byte
	last     []string
	copied   int
	reported time.Time
}

func newProgressLog(progress func(string)) *progressLog {
	return &progressLog{progress: progress}
}

func (p *progressLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.line(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

func (p *progressLog) line(l string) {
	p.last = append(p.last, l)
	if len(p.last) > 15 {
		p.last = p.last[1:]
	}
	// "[01] 2026-01-02 03:04:05 Copying ./ibdata1 to /x/ibdata1"
	if i := strings.Index(l, " Copying "); i >= 0 {
		p.copied++
		if p.progress != nil && time.Since(p.reported) >= time.Second {
			p.reported = time.Now()
			name, _, _ := strings.Cut(l[i+len(" Copying "):], " to ")
			p.progress(fmt.Sprintf("copying %s (%d files so far)", name, p.copied))
		}
	}
}

func (p *progressLog) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := append([]string(nil), p.last...)
	if len(p.partial) > 0 {
		lines = append(lines, string(p.partial))
	}
	var out []string
	for _, l := range lines {
		out = append(out, "  "+l)
	}
	return strings.Join(out, "\n")
}
