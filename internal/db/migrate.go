package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// SchemaName is how the initial schema file is recorded, whatever its file
// name, so that renaming it does not make it look new.
const SchemaName = "schema"

// Script is one SQL file applied once: the schema or a migration.
type Script struct {
	Name     string // "schema" or the migration's file name
	Path     string
	Checksum string // sha256 of the content
}

// Record is what the bookkeeping table says about a script.
type Record struct {
	Name     string
	Checksum string
	Started  time.Time
	Finished *time.Time
}

// Scripts lists the schema (if any) and the migrations in name order.
func Scripts(schema, migrationsDir string) ([]Script, error) {
	var out []Script
	if schema != "" {
		s, err := newScript(SchemaName, schema)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if migrationsDir == "" {
		return out, nil
	}
	paths, err := filepath.Glob(filepath.Join(migrationsDir, "*.sql"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	for _, p := range paths {
		s, err := newScript(filepath.Base(p), p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func newScript(name, path string) (Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Script{}, fmt.Errorf("read %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	return Script{Name: name, Path: path, Checksum: hex.EncodeToString(sum[:])}, nil
}

// Applied reads the bookkeeping table. A server that has none yet (a data
// directory made before trio recorded anything) has applied nothing.
func Applied(ctx context.Context, db *sql.DB) (map[string]Record, error) {
	rows, err := db.QueryContext(ctx, "SELECT name, checksum, started_at, finished_at FROM "+MetaSchema+".migrations")
	if err != nil {
		if isNoTable(err) {
			return map[string]Record{}, nil
		}
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[string]Record{}
	for rows.Next() {
		var r Record
		var fin sql.NullTime
		if err := rows.Scan(&r.Name, &r.Checksum, &r.Started, &fin); err != nil {
			return nil, err
		}
		if fin.Valid {
			r.Finished = &fin.Time
		}
		out[r.Name] = r
	}
	return out, rows.Err()
}

func isNoTable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "1146") || strings.Contains(s, "1049")
}

// ErrInterrupted means a script started and never finished: the database
// may hold part of it, and only a person can tell which part.
var ErrInterrupted = errors.New("a migration was interrupted")

// ErrChanged means an applied script's file changed since.
var ErrChanged = errors.New("an applied migration changed")

// Pending returns the scripts still to apply. A script that was started but
// never finished, or that changed after it was applied, is an error that
// says what to do, since applying it again could harm the data.
func Pending(scripts []Script, applied map[string]Record, socket, database string) ([]Script, error) {
	var out []Script
	for _, s := range scripts {
		r, ok := applied[s.Name]
		switch {
		case !ok:
			out = append(out, s)
		case r.Finished == nil:
			return nil, fmt.Errorf("%w: %s started at %s and never finished, so the database may hold part of it. Check it by hand (mariadb --socket=%s %s), undo or complete the change, then record the outcome: DELETE FROM %s.migrations WHERE name='%s' to run it again, or UPDATE %s.migrations SET finished_at=NOW(6) WHERE name='%s' to keep it",
				ErrInterrupted, s.Path, r.Started.Format(time.RFC3339), socket, database, MetaSchema, s.Name, MetaSchema, s.Name)
		case r.Checksum != s.Checksum && s.Name != SchemaName:
			return nil, fmt.Errorf("%w: %s was applied on %s and has changed since; applied migrations are never run again, so put the change in a new migration file and restore this one", ErrChanged, s.Path, r.Finished.Format(time.RFC3339))
		}
	}
	return out, nil
}

// Apply runs one script with the mariadb client, which understands
// everything people put in SQL files (DELIMITER, comments, client
// commands), and records it before and after so an interruption shows.
func Apply(ctx context.Context, db *sql.DB, socket, database string, s Script) error {
	if _, err := db.ExecContext(ctx, "INSERT INTO "+MetaSchema+".migrations (name, checksum, started_at) VALUES (?, ?, NOW(6)) ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), started_at = NOW(6), finished_at = NULL", s.Name, s.Checksum); err != nil {
		return fmt.Errorf("record %s: %w", s.Name, err)
	}
	if err := RunFile(ctx, socket, database, s.Path); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "UPDATE "+MetaSchema+".migrations SET finished_at = NOW(6) WHERE name = ?", s.Name); err != nil {
		return fmt.Errorf("record %s: %w", s.Name, err)
	}
	return nil
}

var clientErrLine = regexp.MustCompile(`at line (\d+)`)

// RunFile feeds a SQL file to the mariadb client inside database.
func RunFile(ctx context.Context, socket, database, path string) error {
	u, err := AdminUser()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("apply %s: %w", path, err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+socket, "--user="+u, "--batch", "--database="+database)
	cmd.Stdin = f
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if m := clientErrLine.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("%s:%s: %s; fix the statement and run trio apply again", path, m[1], msg)
		}
		return fmt.Errorf("apply %s: %s (%v)", path, msg, err)
	}
	return nil
}
