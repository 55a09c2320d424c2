package stack

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults applied to keys trio.yaml leaves out.
const (
	DefaultNginx   = "1.22"
	DefaultPHP     = "8.2"
	DefaultMariaDB = "10.11"
	DefaultHAProxy = "2.6"
	// DefaultDBPort keeps clear of a system MariaDB on 3306.
	DefaultDBPort = 3307
)

// Find returns the trio.yaml to use: file if given (relative to dir), else
// dir/trio.yaml.
func Find(dir, file string) (string, error) {
	if file == "" {
		file = FileName
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w at %s; run `trio init` to create one, or point at it with -C DIR or -f FILE", ErrNotFound, abs)
	}
	return abs, nil
}

// Load reads, defaults and checks a trio.yaml. Every problem is reported,
// each with the file:line:column it concerns and how to fix it.
func Load(path string) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return Parse(abs, data)
}

// Parse is Load for bytes already read; file names where they came from.
func Parse(file string, data []byte) (*Stack, error) {
	display := displayName(file)
	st := &Stack{File: file, Dir: filepath.Dir(file), display: display}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Pos: Pos{File: display, Line: 1}, Msg: "the file is empty; start from `trio init`"}}
		}
		return nil, syntaxError(display, err)
	}
	if len(root.Content) == 0 {
		return nil, Errors{{Pos: Pos{File: display, Line: 1}, Msg: "the file is empty; start from `trio init`"}}
	}
	d := &decoder{file: display, pos: map[string]Pos{}}
	d.decode(root.Content[0], reflect.ValueOf(st).Elem(), "")
	st.pos = d.pos
	st.applyDefaults()
	// Report shape errors and the checks' findings together, so one run
	// shows every mistake; a key that failed to decode is not checked again.
	errs := d.errs
	var checked Errors
	if err := st.check(); err != nil {
		errors.As(err, &checked)
	}
	for _, e := range checked {
		if !slices.ContainsFunc(d.errs, func(de *Error) bool {
			return de.Path == "" || e.Path == de.Path || strings.HasPrefix(e.Path, de.Path+".")
		}) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
		})
		return nil, errs
	}
	return st, nil
}

// displayName shortens a path for messages: relative to the working
// directory when the file is below it.
func displayName(file string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return file
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return Errors{{Pos: Pos{File: file, Line: line}, Msg: "YAML syntax: " + m[2] + "; check the indentation and quoting on this line and the one before"}}
	}
	return Errors{{Pos: Pos{File: file}, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}}
}

func (s *Stack) applyDefaults() {
	v := &s.Versions
	v.Nginx = cmp.Or(v.Nginx, DefaultNginx)
	v.PHP = cmp.Or(v.PHP, DefaultPHP)
	v.MariaDB = cmp.Or(v.MariaDB, DefaultMariaDB)
	v.HAProxy = cmp.Or(v.HAProxy, DefaultHAProxy)

	w := &s.Web
	if !w.Listen.IsValid() {
		w.Listen, _ = ParseAddr("127.0.0.1:8080")
	}
	w.ServerName = cmp.Or(w.ServerName, "_")
	w.Root = cmp.Or(w.Root, "public")
	if !s.written("web.replicas") {
		w.Replicas = 1
	}
	if !w.Static.MaxAge.Set {
		w.Static.MaxAge = Duration{Duration: time.Hour}
	}
	if !w.Static.ImmutableMaxAge.Set {
		w.Static.ImmutableMaxAge = Duration{Duration: 365 * 24 * time.Hour}
	}
	if w.Static.Gzip == nil {
		on := true
		w.Static.Gzip = &on
	}
	w.MaxBodySize = cmp.Or(w.MaxBodySize, "8m")

	a := &s.App
	a.Root = cmp.Or(a.Root, ".")
	a.Index = cmp.Or(a.Index, "index.php")
	if !s.written("app.replicas") {
		a.Replicas = 1
	}
	if !s.written("app.workers") {
		a.Workers = 5
	}
	a.Health = cmp.Or(a.Health, "/")
	if !s.written("app.releases") {
		a.Releases = 5
	}

	if s.LB == nil && (w.Replicas > 1 || s.TLS != nil || s.DB.Replicas > 0) {
		s.LB = &LB{}
	}
	if s.LB != nil {
		s.LB.Balance = cmp.Or(s.LB.Balance, "roundrobin")
		if !s.LB.CheckInterval.Set {
			s.LB.CheckInterval = Duration{Duration: 2 * time.Second}
		}
		if s.LB.MaxConn == 0 {
			s.LB.MaxConn = 4096
		}
	}
	if t := s.TLS; t != nil {
		if !t.Listen.IsValid() {
			t.Listen = Addr{netip.AddrPortFrom(w.Listen.Addr(), 8443)}
		}
		if t.Redirect == nil {
			on := true
			t.Redirect = &on
		}
	}
	l := &s.Limits
	if !l.HeaderTimeout.Set {
		l.HeaderTimeout = Duration{Duration: 10 * time.Second}
	}
	if !l.BodyTimeout.Set {
		l.BodyTimeout = Duration{Duration: 30 * time.Second}
	}
	if l.Rate > 0 && !s.written("limits.burst") {
		l.Burst = l.Rate * 2
	}
	if s.Host.Harden == nil {
		on := true
		s.Host.Harden = &on
	}
	if c := w.CDN; c != nil {
		c.ClientIPHeader = cmp.Or(c.ClientIPHeader, "X-Forwarded-For")
	}

	db := &s.DB
	if !s.written("db.port") {
		db.Port = DefaultDBPort
	}
	if !s.written("db.read_port") {
		db.ReadPort = db.Port + 1
	}
	if !s.written("db.instance_port") {
		db.InstancePort = db.Port + 10
	}
	r := &db.Replication
	r.WaitPoint = cmp.Or(r.WaitPoint, "AFTER_SYNC")
	if !r.SemiSyncTimeout.Set {
		r.SemiSyncTimeout = Duration{Duration: 10 * time.Second}
	}
	f := &db.Failover
	if f.Enabled == nil {
		on := true
		f.Enabled = &on
	}
	for _, d := range []struct {
		v   *Duration
		def time.Duration
	}{{&f.Heartbeat, 500 * time.Millisecond}, {&f.FailAfter, 1500 * time.Millisecond}, {&f.MinInterval, time.Minute}, {&f.MaxLag, 10 * time.Second}} {
		if !d.v.Set {
			*d.v = Duration{Duration: d.def}
		}
	}
	b := &db.Backup
	b.Dir = cmp.Or(b.Dir, "backups")
	b.Method = cmp.Or(b.Method, "physical")
	if !s.written("db.backup.keep") {
		b.Keep = 7
	}
	if db.Replicas > 0 && s.LB == nil {
		// The database endpoints live in HAProxy.
		s.LB = &LB{}
	}
}

// written reports whether trio.yaml gave the key a value, so an explicit
// 0 is checked rather than taken for a left-out key.
func (s *Stack) written(path string) bool {
	_, ok := s.pos[path]
	return ok
}

var (
	stackName  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	identifier = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	version    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	sizeValue  = regexp.MustCompile(`^[0-9]+[kKmMgG]?$`)
)

// check finds the mistakes defaults cannot fix, all of them at once.
func (s *Stack) check() error {
	var errs Errors
	add := func(path, format string, args ...any) { errs = append(errs, s.Errorf(path, format, args...)) }

	if s.Name == "" {
		add("name", "missing; give the stack a short name such as `name: shop`")
	} else if !stackName.MatchString(s.Name) {
		add("name", "%q: use lowercase letters, digits and '-', starting with a letter, at most 32 characters", s.Name)
	}
	for key, v := range map[string]string{"versions.nginx": s.Versions.Nginx, "versions.php": s.Versions.PHP, "versions.mariadb": s.Versions.MariaDB, "versions.haproxy": s.Versions.HAProxy} {
		if !version.MatchString(v) {
			add(key, "%q is not a version; write the upstream version to pin, such as \"1.22\"", v)
		}
	}

	if s.Web.Replicas < 1 {
		add("web.replicas", "must be at least 1")
	}
	if s.App.Replicas < 1 {
		add("app.replicas", "must be at least 1")
	}
	if s.App.Workers < 1 || s.App.Workers > 1024 {
		add("app.workers", "must be from 1 to 1024")
	}
	if s.DB.Replicas < 0 {
		add("db.replicas", "cannot be negative")
	}
	if s.Web.Replicas > 16 || s.App.Replicas > 16 {
		add("web.replicas", "at most 16 instances per tier on one host")
	}
	if s.App.Releases < 1 || s.App.Releases > 50 {
		add("app.releases", "keep from 1 to 50 releases")
	}
	s.checkEdge(&errs)
	if s.DB.Replicas > 8 {
		add("db.replicas", "at most 8 replicas on one host")
	}
	if wp := s.DB.Replication.WaitPoint; wp != "AFTER_SYNC" && wp != "AFTER_COMMIT" {
		add("db.replication.wait_point", "%q: use AFTER_SYNC (no acknowledged commit is lost on failover) or AFTER_COMMIT", wp)
	}
	if m := s.DB.Backup.Method; m != "physical" && m != "logical" {
		add("db.backup.method", "%q: use physical (mariadb-backup) or logical (mariadb-dump)", m)
	}
	if s.DB.Backup.Keep < 1 {
		add("db.backup.keep", "keep at least 1 backup")
	}
	s.checkDBPorts(&errs)
	if !sizeValue.MatchString(s.Web.MaxBodySize) {
		add("web.max_body_size", "%q is not a size; write it like 8m, 512k or 1g", s.Web.MaxBodySize)
	}
	s.checkDir(&errs, "web.root", s.Web.Root)
	if s.checkDir(&errs, "app.root", s.App.Root) {
		if s.App.Index != filepath.Base(s.App.Index) || !strings.HasSuffix(s.App.Index, ".php") {
			add("app.index", "%q must be a .php file name inside app.root", s.App.Index)
		} else if fi, err := os.Stat(filepath.Join(s.Path(s.App.Root), s.App.Index)); err != nil {
			add("app.index", "the front controller %s is missing in %s; create it or set app.index", s.App.Index, s.App.Root)
		} else if fi.IsDir() {
			add("app.index", "%s is a directory; this key wants the front controller's file", s.App.Index)
		}
	}
	if !strings.HasPrefix(s.App.Health, "/") {
		add("app.health", "%q must be a path starting with /", s.App.Health)
	}
	for k, v := range s.App.Env {
		if !envName.MatchString(k) {
			add("app.env."+k, "not a valid environment variable name; use letters, digits and _")
		}
		if strings.HasPrefix(k, "DB_") {
			add("app.env."+k, "DB_* variables are set by trio from the db section; remove it here")
		}
		if !v.IsSet() {
			add("app.env."+k, "has no value; give one or remove the key")
		}
	}
	for k, v := range s.App.PHP {
		if strings.ContainsAny(k+v, "\n\r[]") {
			add("app.php."+k, "php.ini settings cannot contain newlines or brackets")
		}
	}

	db := &s.DB
	if db.Database == "" {
		add("db.database", "missing; name the app's database, as MARIADB_DATABASE does")
	} else if !identifier.MatchString(db.Database) {
		add("db.database", "%q: use letters, digits and _ (at most 64)", db.Database)
	}
	switch {
	case db.User == "":
		add("db.user", "missing; name the app's database user, as MARIADB_USER does")
	case !identifier.MatchString(db.User) || len(db.User) > 80:
		add("db.user", "%q: use letters, digits and _", db.User)
	case db.User == "root":
		add("db.user", "the app must not use root; pick another name (root is set with db.root_password)")
	}
	if !db.Password.IsSet() {
		add("db.password", "missing; write {secret: db_password} and keep the value in the vault")
	}
	if db.Port < 1 || db.Port > 65535 {
		add("db.port", "%d is not a port; use 1-65535 (default %d)", db.Port, DefaultDBPort)
	} else if db.Port == int(s.Web.Listen.Port()) {
		add("db.port", "%d is also web.listen's port (%s); give each its own", db.Port, s.Pos("web.listen"))
	}
	if db.Schema != "" {
		s.checkFile(&errs, "db.schema", db.Schema)
	}
	if db.Migrations != "" {
		s.checkDir(&errs, "db.migrations", db.Migrations)
	}
	for k, v := range db.Settings {
		if strings.ContainsAny(k+v, "\n\r[]") {
			add("db.settings."+k, "MariaDB settings cannot contain newlines or brackets")
		}
		if owned[normalizeSetting(k)] {
			add("db.settings."+k, "trio sets %s itself; remove it here", k)
		}
	}
	if s.Secrets.Vault != "" {
		s.checkFile(&errs, "secrets.vault", s.Secrets.Vault)
	}
	for _, name := range sortedKeys(s.Users) {
		s.checkUser(&errs, name, s.Users[name])
	}
	for _, path := range s.SecretRefs() {
		if s.Secrets.Vault == "" {
			add(path, "names a secret but secrets.vault is not set; add `secrets: {vault: secrets.vault}` and create it with `trio vault create`")
			break
		}
	}
	return errs.err()
}

var (
	userName  = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	cryptHash = regexp.MustCompile(`^(\$(1|5|6|y|2[abxy])\$[./0-9A-Za-z$=,]+|[!*].*)$`)
	sshKey    = regexp.MustCompile(`^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$`)
)

// checkEdge checks what faces clients: the load balancer, TLS, limits and
// the CDN.
func (s *Stack) checkEdge(errs *Errors) {
	add := func(path, format string, args ...any) { *errs = append(*errs, s.Errorf(path, format, args...)) }
	if lb := s.LB; lb != nil {
		if lb.Balance != "roundrobin" && lb.Balance != "leastconn" {
			add("lb.balance", "%q: use roundrobin or leastconn", lb.Balance)
		}
		if lb.CheckInterval.Duration < 100*time.Millisecond {
			add("lb.check_interval", "check at most every 100ms")
		}
		if lb.MaxConn < 1 {
			add("lb.maxconn", "must be at least 1")
		}
	}
	if t := s.TLS; t != nil {
		switch {
		case t.SelfSigned && (t.Cert.IsSet() || t.Key.IsSet()):
			add("tls.self_signed", "give cert and key, or self_signed: true, not both")
		case !t.SelfSigned && (!t.Cert.IsSet() || !t.Key.IsSet()):
			add("tls", "needs cert and key (PEM files, or {secret: NAME}), or self_signed: true for development")
		}
		for key, v := range map[string]Value{"tls.cert": t.Cert, "tls.key": t.Key} {
			if v.Plain != "" {
				s.checkFile(errs, key, v.Plain)
			}
		}
		if t.Listen == s.Web.Listen {
			add("tls.listen", "%s is also web.listen; give HTTPS its own port", t.Listen)
		}
	}
	l := s.Limits
	if l.Rate < 0 || l.Burst < 0 || l.Connections < 0 {
		add("limits", "rates, bursts and connection counts cannot be negative")
	}
	for key, list := range map[string][]string{"limits.allow": l.Allow, "limits.deny": l.Deny} {
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				if _, err := netip.ParseAddr(c); err != nil {
					add(fmt.Sprintf("%s[%d]", key, i), "%q is not an address or CIDR such as 10.0.0.0/8", c)
				}
			}
		}
	}
	if c := s.Web.CDN; c != nil {
		if c.OriginHost == "" {
			add("web.cdn.origin_host", "missing; the host name the CDN uses to reach this origin")
		}
		if len(c.Trusted) == 0 {
			add("web.cdn.trusted", "list the CIDRs the CDN connects from; its client-IP header is believed only from there")
		}
		for i, cidr := range c.Trusted {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				add(fmt.Sprintf("web.cdn.trusted[%d]", i), "%q is not a CIDR such as 203.0.113.0/24", cidr)
			}
		}
	}
}

// checkDBPorts makes sure the database's ports clash with nothing.
func (s *Stack) checkDBPorts(errs *Errors) {
	if s.DB.Replicas == 0 {
		return
	}
	used := map[int]string{int(s.Web.Listen.Port()): "web.listen", s.DB.Port: "db.port"}
	if s.TLS != nil {
		used[int(s.TLS.Listen.Port())] = "tls.listen"
	}
	claim := func(port int, key string) {
		if port < 1 || port > 65535 {
			*errs = append(*errs, s.Errorf(key, "%d is not a port", port))
			return
		}
		if other, ok := used[port]; ok && other != key {
			*errs = append(*errs, s.Errorf(key, "port %d is also %s's; give each its own", port, other))
			return
		}
		used[port] = key
	}
	claim(s.DB.ReadPort, "db.read_port")
	for i := 0; i <= s.DB.Replicas; i++ {
		claim(s.DB.InstancePort+i, "db.instance_port")
	}
}

// DBInstancePort is the port db instance i listens on: db.port itself for
// a lone database, else one of the instance ports behind HAProxy.
func (s *Stack) DBInstancePort(i int) int {
	if s.DB.Replicas == 0 {
		return s.DB.Port
	}
	return s.DB.InstancePort + i
}

// LBEnabled reports whether HAProxy runs in front of nginx.
func (s *Stack) LBEnabled() bool { return s.LB != nil }

func (s *Stack) checkUser(errs *Errors, name string, u User) {
	key := "users." + name
	add := func(path, format string, args ...any) { *errs = append(*errs, s.Errorf(path, format, args...)) }
	if !userName.MatchString(name) {
		add(key, "%q is not a valid account name; use lowercase letters, digits, '_' and '-', starting with a letter", name)
	}
	if name == "root" || name == "www-data" || name == "mysql" {
		add(key, "%s is a system account trio does not manage; pick another name", name)
	}
	if u.Password.Plain != "" {
		add(key+".password", "a login password must come from the vault ({secret: NAME}) or be given as password_hash (make one with `trio hash-password`)")
	}
	if u.Password.IsSet() && u.PasswordHash != "" {
		add(key+".password_hash", "give password or password_hash, not both")
	}
	if u.PasswordHash != "" && !cryptHash.MatchString(u.PasswordHash) {
		add(key+".password_hash", "not a crypt(3) hash; make one with `trio hash-password` (it starts with $6$)")
	}
	for i, k := range u.SSHKeys {
		if !sshKey.MatchString(strings.TrimSpace(k)) {
			add(fmt.Sprintf("%s.ssh_keys[%d]", key, i), "not an SSH public key line (type, base64 key, optional comment), as in ~/.ssh/id_ed25519.pub")
		}
	}
	if u.Shell != "" && !filepath.IsAbs(u.Shell) {
		add(key+".shell", "%q must be an absolute path such as /bin/bash", u.Shell)
	}
	for i, g := range u.Groups {
		if !userName.MatchString(g) {
			add(fmt.Sprintf("%s.groups[%d]", key, i), "%q is not a group name", g)
		}
	}
}

// owned lists the MariaDB settings trio derives itself; letting a user set
// them would break paths, ports or the host's safety.
var owned = map[string]bool{
	"datadir": true, "socket": true, "port": true, "pid_file": true,
	"bind_address": true, "user": true, "log_error": true, "tmpdir": true,
	// replication depends on these
	"server_id": true, "log_bin": true, "read_only": true, "gtid_strict_mode": true,
	"skip_slave_start": true, "binlog_format": true, "log_slave_updates": true,
	"sync_binlog": true, "init_rpl_role": true,
}

func normalizeSetting(k string) string { return strings.ReplaceAll(strings.ToLower(k), "-", "_") }

// Path resolves a path from trio.yaml against the stack's directory.
func (s *Stack) Path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.Dir, p)
}

func (s *Stack) checkDir(errs *Errors, key, p string) bool {
	fi, err := os.Stat(s.Path(p))
	switch {
	case err != nil:
		*errs = append(*errs, s.Errorf(key, "directory %s does not exist; create it or fix the path", p))
		return false
	case !fi.IsDir():
		*errs = append(*errs, s.Errorf(key, "%s is a file; this key wants a directory", p))
		return false
	}
	return true
}

func (s *Stack) checkFile(errs *Errors, key, p string) {
	fi, err := os.Stat(s.Path(p))
	switch {
	case err != nil:
		*errs = append(*errs, s.Errorf(key, "file %s does not exist; create it or fix the path", p))
	case fi.IsDir():
		*errs = append(*errs, s.Errorf(key, "%s is a directory; this key wants a file", p))
	}
}

// SecretRefs lists the key paths whose values come from the vault.
func (s *Stack) SecretRefs() []string {
	var out []string
	if s.DB.Password.IsSecret() {
		out = append(out, "db.password")
	}
	if s.DB.RootPassword.IsSecret() {
		out = append(out, "db.root_password")
	}
	for _, k := range sortedKeys(s.App.Env) {
		if s.App.Env[k].IsSecret() {
			out = append(out, "app.env."+k)
		}
	}
	for _, k := range sortedKeys(s.Users) {
		if s.Users[k].Password.IsSecret() {
			out = append(out, "users."+k+".password")
		}
	}
	if t := s.TLS; t != nil {
		if t.Cert.IsSecret() {
			out = append(out, "tls.cert")
		}
		if t.Key.IsSecret() {
			out = append(out, "tls.key")
		}
	}
	return out
}

// PlainCredentials lists the key paths that hold a credential written in
// trio.yaml itself, which is fine on a laptop and refused with --strict.
func (s *Stack) PlainCredentials() []string {
	var out []string
	if s.DB.Password.Plain != "" {
		out = append(out, "db.password")
	}
	if s.DB.RootPassword.Plain != "" {
		out = append(out, "db.root_password")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
