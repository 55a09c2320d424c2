// Package stack is the typed model of trio.yaml: loading with errors that
// name file:line:column, defaults, and the checks that need the file system.
package stack

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileName is the stack file trio looks for in the working directory.
const FileName = "trio.yaml"

// Stack is one three-tier application as trio.yaml describes it.
type Stack struct {
	Name     string   `yaml:"name"`
	Versions Versions `yaml:"versions"`
	Web      Web      `yaml:"web"`
	App      App      `yaml:"app"`
	DB       DB       `yaml:"db"`
	Secrets  Secrets  `yaml:"secrets"`
	// Users are system accounts for people (deploy users) made on the host.
	Users map[string]User `yaml:"users"`
	// LB puts HAProxy in front of the web instances. It is on when this
	// section is present, when web.replicas > 1 or when TLS is set.
	LB     *LB    `yaml:"lb"`
	TLS    *TLS   `yaml:"tls"`
	Limits Limits `yaml:"limits"`
	Host   Host   `yaml:"host"`

	// File is the absolute path of the trio.yaml this was loaded from and
	// Dir its directory; relative paths in the file are relative to Dir.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`

	pos     map[string]Pos
	display string // File as messages show it
}

// Versions pins the upstream version of each program, as Debian packages it.
type Versions struct {
	Nginx   string `yaml:"nginx"`
	PHP     string `yaml:"php"`
	MariaDB string `yaml:"mariadb"`
	HAProxy string `yaml:"haproxy"`
}

// Web is the nginx tier: the public listener and static files.
type Web struct {
	Listen     Addr   `yaml:"listen"`
	ServerName string `yaml:"server_name"`
	Root       string `yaml:"root"` // static files, relative to the stack dir
	Replicas   int    `yaml:"replicas"`
	Static     Static `yaml:"static"`
	// MaxBodySize caps request bodies (nginx client_max_body_size syntax).
	MaxBodySize string `yaml:"max_body_size"`
	CDN         *CDN   `yaml:"cdn"`
}

// CDN lets a content delivery network sit in front: nginx answers to its
// origin host name and takes the client's address from its header, but
// only when the request comes from the CDN's own networks.
type CDN struct {
	OriginHost     string   `yaml:"origin_host"`
	ClientIPHeader string   `yaml:"client_ip_header"`
	Trusted        []string `yaml:"trusted"` // CIDRs the CDN connects from
}

// LB is the HAProxy tier in front of nginx.
type LB struct {
	// Balance is HAProxy's algorithm: roundrobin or leastconn.
	Balance string `yaml:"balance"`
	// CheckInterval is how often each web instance is health-checked.
	CheckInterval Duration `yaml:"check_interval"`
	MaxConn       int      `yaml:"maxconn"`
}

// TLS terminates HTTPS at HAProxy.
type TLS struct {
	Listen Addr `yaml:"listen"`
	// Cert and Key are PEM files or vault secrets; SelfSigned makes a pair
	// for development instead.
	Cert       Value `yaml:"cert"`
	Key        Value `yaml:"key"`
	SelfSigned bool  `yaml:"self_signed"`
	// Redirect sends plain HTTP to HTTPS (default true).
	Redirect *bool `yaml:"redirect"`
	// HSTS, when set, is the Strict-Transport-Security max-age.
	HSTS Duration `yaml:"hsts"`
}

// Limits protect the stack from abusive clients: rejected requests get
// 429 with Retry-After. HAProxy enforces them first, nginx again behind it.
type Limits struct {
	Rate          int      `yaml:"rate"`        // requests per second per client IP; 0: off
	Burst         int      `yaml:"burst"`       // extra requests allowed in a burst
	Connections   int      `yaml:"connections"` // concurrent connections per client IP; 0: off
	HeaderTimeout Duration `yaml:"header_timeout"`
	BodyTimeout   Duration `yaml:"body_timeout"`
	Allow         []string `yaml:"allow"` // if set, only these CIDRs are served
	Deny          []string `yaml:"deny"`  // CIDRs refused outright
}

// Host is how trio treats the machine itself.
type Host struct {
	// Harden applies SYN cookies and larger backlogs when trio runs as
	// root (default true).
	Harden *bool `yaml:"harden"`
}

// Static says how nginx serves files from the web root.
type Static struct {
	MaxAge Duration `yaml:"max_age"` // Cache-Control max-age for plain files
	// ImmutableMaxAge applies to files whose names carry a content hash
	// (app.3f2a9c1b.css): they never change, so caches may keep them long.
	ImmutableMaxAge Duration `yaml:"immutable_max_age"`
	Gzip            *bool    `yaml:"gzip"`
}

// App is the PHP-FPM tier.
type App struct {
	Root     string            `yaml:"root"`  // PHP code, relative to the stack dir
	Index    string            `yaml:"index"` // front controller inside Root
	Replicas int               `yaml:"replicas"`
	Releases int               `yaml:"releases"` // past releases kept for trio rollback
	Workers  int               `yaml:"workers"`  // PHP worker processes per instance
	Env      map[string]Value  `yaml:"env"`
	Health   string            `yaml:"health"` // path that answers 200 when the app is well
	PHP      map[string]string `yaml:"php"`    // php.ini settings for the pool
}

// DB is the MariaDB tier. Its keys mirror the variables of the official
// MariaDB image (MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD,
// MARIADB_ROOT_PASSWORD) so a stack reads the same on every target.
type DB struct {
	Database     string            `yaml:"database"`
	User         string            `yaml:"user"`
	Password     Value             `yaml:"password"`
	RootPassword Value             `yaml:"root_password"`
	Schema       string            `yaml:"schema"`     // applied once, at initialisation
	Migrations   string            `yaml:"migrations"` // directory of *.sql, applied in name order
	Port         int               `yaml:"port"`
	Settings     map[string]string `yaml:"settings"` // extra [mysqld] settings
	Replicas     int               `yaml:"replicas"`
	// With replicas the app reaches the database through HAProxy: writes
	// on Port (the primary), reads on ReadPort (the replicas), and the
	// instances listen on InstancePort, InstancePort+1, ...
	ReadPort     int         `yaml:"read_port"`
	InstancePort int         `yaml:"instance_port"`
	Replication  Replication `yaml:"replication"`
	Failover     Failover    `yaml:"failover"`
	Backup       Backup      `yaml:"backup"`
}

// Replication tunes how replicas follow the primary.
type Replication struct {
	// WaitPoint is semi-sync's: AFTER_SYNC (default; an acknowledged
	// commit is on a replica before anyone sees it) or AFTER_COMMIT.
	WaitPoint string `yaml:"wait_point"`
	// SemiSyncTimeout is how long a commit waits for a replica's ack
	// before the primary falls back to asynchronous replication.
	SemiSyncTimeout Duration `yaml:"semi_sync_timeout"`
}

// Failover says when the agent replaces a failed primary.
type Failover struct {
	Enabled     *bool    `yaml:"enabled"`
	Heartbeat   Duration `yaml:"heartbeat"`
	FailAfter   Duration `yaml:"fail_after"`
	MinInterval Duration `yaml:"min_interval"` // no second automatic failover sooner
	MaxLag      Duration `yaml:"max_lag"`      // a replica further behind stops serving reads
}

// Backup schedules backups of the database.
type Backup struct {
	Dir    string   `yaml:"dir"`    // relative to the stack; default backups
	Every  Duration `yaml:"every"`  // 0: only on demand (trio db backup)
	Keep   int      `yaml:"keep"`   // how many scheduled backups to keep
	Method string   `yaml:"method"` // physical (mariadb-backup) or logical (mariadb-dump)
}

// User is a system account trio keeps on the host: login password by hash
// (or from the vault, hashed by trio), SSH keys, shell and groups.
type User struct {
	Password     Value    `yaml:"password"`      // from the vault; trio stores only its sha512-crypt hash
	PasswordHash string   `yaml:"password_hash"` // a crypt(3) hash as made by trio hash-password or mkpasswd
	SSHKeys      []string `yaml:"ssh_keys"`
	Shell        string   `yaml:"shell"`
	Groups       []string `yaml:"groups"`
}

// Secrets names the vault that {secret: NAME} values come from.
type Secrets struct {
	Vault string `yaml:"vault"`
}

// Pos returns where a dotted key path such as "web.listen" stands in the
// file, or the file itself when the key was not written (a default).
func (s *Stack) Pos(path string) Pos {
	for p := path; p != ""; {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		// A key left out is shown at the section that should hold it.
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Pos{File: cmp.Or(s.display, s.File), Line: 1}
}

// Errorf builds an error placed at a key of the file.
func (s *Stack) Errorf(path, format string, args ...any) *Error {
	return &Error{Pos: s.Pos(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Duration is a span of time written like 30s, 10m, 12h or 365d.
type Duration struct {
	time.Duration
	Set bool
}

func (d *Duration) decodeNode(dec *decoder, n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 1h or 30d, found %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration{Duration: v, Set: true}
	return nil
}

// ParseDuration extends time.ParseDuration with days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a duration; write it like 30s, 10m, 12h or 30d", s)
	}
	return v, nil
}

// Seconds is the whole number of seconds, as HTTP headers want it.
func (d Duration) Seconds() int64 { return int64(d.Duration / time.Second) }
