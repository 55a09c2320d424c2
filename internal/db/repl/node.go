package repl

import (
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/trio-stack/trio/internal/db"
)

// Node is one MariaDB server of a replicated db tier.
type Node struct {
	Name string // the instance, e.g. "db-1"; used in messages only
	// Socket is the admin unix socket when the node runs on this machine
	// (host target), "" for a node reached over the network (Swarm).
	Socket string
	// Host and Port are where replicas (and remote admins) reach the node.
	Host string
	Port int
}

// Addr is host:port.
func (n Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

func (n Node) String() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Addr()
}

// Credentials are an account's name and password in plain text, as
// CHANGE MASTER and TCP logins need them.
type Credentials struct {
	User     string
	Password string
}

// Open returns an administrative connection to the node: over its socket
// with unix_socket authentication (db.Admin) when it has one, else over
// TCP with admin, an account that needs SUPER-like rights (CONNECTION
// ADMIN, READ ONLY ADMIN, REPLICATION SLAVE ADMIN, BINLOG MONITOR).
func (n Node) Open(admin Credentials) (*sql.DB, error) {
	if n.Socket != "" {
		return db.Admin(n.Socket)
	}
	if admin.User == "" {
		return nil, fmt.Errorf("open %s: no socket and no admin account for TCP", n)
	}
	cfg := mysql.NewConfig()
	cfg.User = admin.User
	cfg.Passwd = admin.Password
	cfg.Net = "tcp"
	cfg.Addr = n.Addr()
	cfg.Timeout = 5 * time.Second
	cfg.ParseTime = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", n, err)
	}
	d := sql.OpenDB(conn)
	d.SetMaxOpenConns(2)
	d.SetConnMaxIdleTime(time.Minute)
	return d, nil
}

// Member is a node together with an open admin connection to it.
type Member struct {
	Node Node
	DB   *sql.DB
}

// quote makes a SQL string literal. Replication statements (CHANGE
// MASTER, SET GLOBAL gtid_slave_pos) are built as text because not all of
// them can be prepared.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(s) + "'"
}

func ident(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
