// Package db initialises and administers a stack's MariaDB: the app's
// database and account, the root password, and the schema and migrations,
// each applied once and recorded. It speaks SQL over the server's unix
// socket and never sends a plaintext password: accounts get hashes.
package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MetaSchema is the database where trio records what it applied.
const MetaSchema = "trio"

// Admin opens an administrative connection over the unix socket. MariaDB
// lets the OS user that created the data directory in as the same-named
// database user (unix_socket authentication), so no password is needed.
func Admin(socket string) (*sql.DB, error) {
	u, err := AdminUser()
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User = u
	cfg.Net = "unix"
	cfg.Addr = socket
	cfg.Timeout = 5 * time.Second
	cfg.ParseTime = true
	cfg.MultiStatements = false
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// AdminUser is the database account trio administers with: root when trio
// runs as root, else the invoking OS user, which mariadb-install-db sets up
// for socket login.
func AdminUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("who am I: %w", err)
	}
	return u.Username, nil
}

// Account is what the official MariaDB image sets up from MARIADB_DATABASE,
// MARIADB_USER, MARIADB_PASSWORD and MARIADB_ROOT_PASSWORD, with hashes in
// place of passwords.
type Account struct {
	Database     string
	User         string
	PasswordHash string // mysql_native_password hash, "*" + 40 hex digits
	// RootPasswordHash, when set, lets root in over TCP with a password as
	// well as over the socket.
	RootPasswordHash string
}

var nativeHash = regexp.MustCompile(`^\*[0-9A-F]{40}$`)

// Bootstrap creates the database, the account and the bookkeeping schema.
// Every statement is idempotent, so a bootstrap cut short can run again.
func Bootstrap(ctx context.Context, db *sql.DB, a Account) error {
	if !nativeHash.MatchString(a.PasswordHash) {
		return errors.New("bootstrap: the account needs a mysql_native_password hash")
	}
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS " + ident(a.Database) + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
		"CREATE USER IF NOT EXISTS " + account(a.User) + " IDENTIFIED BY PASSWORD " + quote(a.PasswordHash),
		"ALTER USER " + account(a.User) + " IDENTIFIED BY PASSWORD " + quote(a.PasswordHash),
		"GRANT ALL PRIVILEGES ON " + ident(a.Database) + ".* TO " + account(a.User),
	}
	if a.RootPasswordHash != "" {
		if !nativeHash.MatchString(a.RootPasswordHash) {
			return errors.New("bootstrap: the root password needs a mysql_native_password hash")
		}
		stmts = append(stmts,
			"ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING "+quote(a.RootPasswordHash),
			"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY PASSWORD "+quote(a.RootPasswordHash),
			"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
		)
	}
	stmts = append(stmts, metaStatements...)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("bootstrap: %s: %w", redact(s), err)
		}
	}
	return nil
}

var metaStatements = []string{
	"CREATE DATABASE IF NOT EXISTS " + MetaSchema,
	`CREATE TABLE IF NOT EXISTS ` + MetaSchema + `.migrations (
		name VARCHAR(255) NOT NULL PRIMARY KEY,
		checksum CHAR(64) NOT NULL,
		started_at DATETIME(6) NOT NULL,
		finished_at DATETIME(6) NULL
	) ENGINE=InnoDB`,
}

// PasswordHashes returns the hashes the app account accepts: one normally,
// two in the middle of a password change, none if the account is missing.
func PasswordHashes(ctx context.Context, db *sql.DB, userName string) ([]string, error) {
	var priv sql.NullString
	err := db.QueryRowContext(ctx, "SELECT Priv FROM mysql.global_priv WHERE User = ? AND Host = '%'", userName).Scan(&priv)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", userName, err)
	}
	var p struct {
		AuthString string `json:"authentication_string"`
		AuthOr     []struct {
			AuthString string `json:"authentication_string"`
		} `json:"auth_or"`
	}
	if err := json.Unmarshal([]byte(priv.String), &p); err != nil {
		return nil, fmt.Errorf("read account %s: %w", userName, err)
	}
	var out []string
	for _, a := range p.AuthOr {
		if a.AuthString != "" {
			out = append(out, a.AuthString)
		}
	}
	if p.AuthString != "" && !slices.Contains(out, p.AuthString) {
		out = append(out, p.AuthString)
	}
	return out, nil
}

// AcceptBoth lets the app account log in with either of two passwords, so
// that app instances can move from the old one to the new one without a
// single refused connection (MariaDB tries each method in turn).
func AcceptBoth(ctx context.Context, db *sql.DB, userName, oldHash, newHash string) error {
	if !nativeHash.MatchString(oldHash) || !nativeHash.MatchString(newHash) {
		return errors.New("accept both passwords: need mysql_native_password hashes")
	}
	stmt := "ALTER USER " + account(userName) + " IDENTIFIED VIA mysql_native_password USING " + quote(oldHash) + " OR mysql_native_password USING " + quote(newHash)
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("accept both passwords of %s: %w", userName, err)
	}
	return nil
}

// SetPassword gives the app account a new password, by its hash.
func SetPassword(ctx context.Context, db *sql.DB, userName, hash string) error {
	if !nativeHash.MatchString(hash) {
		return errors.New("set password: need a mysql_native_password hash")
	}
	if _, err := db.ExecContext(ctx, "ALTER USER "+account(userName)+" IDENTIFIED BY PASSWORD "+quote(hash)); err != nil {
		return fmt.Errorf("set password of %s: %w", userName, err)
	}
	return nil
}

func ident(s string) string   { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
func quote(s string) string   { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }
func account(u string) string { return quote(u) + "@'%'" }

var hashInSQL = regexp.MustCompile(`'\*[0-9A-F]{40}'`)

// redact hides password hashes in statements shown in errors.
func redact(s string) string { return hashInSQL.ReplaceAllString(s, "'<hash>'") }
