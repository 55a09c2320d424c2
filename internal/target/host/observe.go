package host

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trio-stack/trio/internal/procfs"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/apt"
	"github.com/trio-stack/trio/internal/db"
	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/plan"
	"github.com/trio-stack/trio/internal/render"
	"github.com/trio-stack/trio/internal/secrets"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

// payload is what Apply needs beyond the steps: the rendered state.
type payload struct {
	lock      *apt.Lock
	writeLock bool // no trio.lock yet: apply writes the one resolved now
	install   []apt.PkgVersion
	grant     []string
	users     []userChange
	tune      []sysctl
	configs   []render.Config
	want      map[string]confSet // per instance, after user take-overs
	specs     map[string]agent.Spec
	secrets   map[string][]byte // private files by name; nil when unresolved
	scripts   []db.Script       // the schema and every migration
	pending   []db.Script       // not yet applied on a running database
	account   db.Account

	primary    stack.Instance // the database primary
	promotedAt repl.Position  // GTID position it was opened for writes at, when trio did it
	// secretsErr says why credentials could not be read while planning.
	secretsErr error
	secretEnv  map[string]string // the app's credentials by variable name

	release        string   // the release the app instances should run
	hist           *history // releases/history.json, saved by apply
	staged         bool     // the release passed its check on a private pool
	rollback       bool
	rolledBackFrom string
	steps          []plan.Step
}

// Plan observes the host and the running stack and returns what apply
// would do. It changes nothing on the host.
func (h *Host) Plan(ctx context.Context, st *stack.Stack) (*target.Planned, error) {
	pl := &payload{want: map[string]confSet{}, specs: map[string]agent.Spec{}}
	var in plan.Input
	var notes []string
	var err error

	if err = h.observePackages(ctx, st, pl, &in, &notes); err != nil {
		return nil, err
	}
	if h.users.Root {
		in.Grant = blockedDirs(h.layout.State, st.Path(st.Web.Root), filepath.Join(st.Path(st.App.Root), st.App.Index), h.layout.Secrets)
		pl.grant = in.Grant
	}

	pl.tune = h.observeTuning(st)
	in.Tune = describeTuning(pl.tune)
	if pl.users, err = h.observeUsers(st); err != nil {
		if !errors.Is(err, target.ErrSecretUnavailable) {
			return nil, err
		}
		notes = append(notes, "accounts not compared: "+err.Error())
	}
	for _, u := range pl.users {
		in.Users = append(in.Users, plan.Change{Name: u.name, Cause: u.cause})
	}

	// Processes the last agent left running are adopted by the next one,
	// not started again.
	status, live, err := h.observeAgent(ctx)
	if err != nil {
		return nil, err
	}
	if live {
		in.Agent.Running, in.Agent.Version = true, status.Version
	}
	in.Agent.WantVersion = h.opts.Version
	running := map[string]agent.ServiceStatus{}
	h.ours = func(pid int) bool {
		for _, s := range status.Services {
			// Workers hold the listeners too.
			if s.PID > 0 && (pid == s.PID || procfs.Children(s.PID)[pid]) {
				return true
			}
		}
		return false
	}
	for _, s := range status.Services {
		running[s.Name] = s
	}

	if err := h.observeRelease(st, pl, &notes); err != nil {
		return nil, err
	}
	if pl.primary, err = h.checkedPrimary(st, status); err != nil {
		return nil, err
	}
	h.env.DBPrimary = pl.primary.Index
	in.DBTarget = pl.primary.String()
	pl.configs, err = render.Render(st, h.env)
	if err != nil {
		return nil, err
	}
	// The primary goes first: replicas are seeded from it and follow it.
	slices.SortStableFunc(pl.configs, func(a, b render.Config) int {
		return cmp.Compare(rank(a.Instance, pl.primary), rank(b.Instance, pl.primary))
	})
	pl.secrets, pl.secretEnv, err = h.secretFiles(st)
	if err != nil {
		if !errors.Is(err, target.ErrSecretUnavailable) {
			return nil, err
		}
		notes = append(notes, "credentials not compared: "+err.Error())
		pl.secretsErr = err
	}
	wanted := map[string]bool{}
	for _, c := range pl.configs {
		name := c.Instance.String()
		wanted[name] = true
		facts, err := h.observeInstance(st, c, pl, running[name], &notes)
		if err != nil {
			return nil, err
		}
		in.Instances = append(in.Instances, facts)
	}
	for _, s := range status.Services {
		if !wanted[s.Name] && s.Want {
			in.Removed = append(in.Removed, s.Name)
		}
	}
	if err := h.observeDB(ctx, st, pl, &in, &notes); err != nil {
		return nil, err
	}

	p := plan.Compute(in)
	p.Notes = notes
	pl.steps = p.Steps
	return &target.Planned{Plan: p, Stack: st, Payload: pl}, nil
}

func (h *Host) observePackages(ctx context.Context, st *stack.Stack, pl *payload, in *plan.Input, notes *[]string) error {
	want := Components(st)
	lockPath := filepath.Join(st.Dir, apt.LockFile)
	lock, err := apt.Read(lockPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if lock, err = h.resolvePackages(ctx, want); err != nil {
			return err
		}
		pl.writeLock = true
		*notes = append(*notes, "no "+apt.LockFile+" yet: apply writes one pinning the builds resolved now")
	case err != nil:
		return err
	default:
		// A component trio.yaml now needs for the first time (HAProxy, once
		// there is something to balance) is pinned and added; a changed
		// version is a decision `trio lock` makes.
		missing := map[apt.Component]string{}
		for c, v := range want {
			if _, ok := lock.Components[c]; !ok {
				missing[c] = v
			}
		}
		if len(missing) > 0 {
			more, err := h.resolvePackages(ctx, missing)
			if err != nil {
				return err
			}
			for c, cl := range more.Components {
				lock.Components[c] = cl
				*notes = append(*notes, fmt.Sprintf("%s gains %s %s, which trio.yaml now needs", apt.LockFile, c, cl.Prefix))
			}
			pl.writeLock = true
		}
		if err := lock.Matches(want); err != nil {
			return err
		}
	}
	pl.lock = lock
	names := make([]string, 0)
	for _, p := range lock.Packages() {
		names = append(names, p.Name)
	}
	installed, err := apt.Observe(ctx, names)
	if err != nil {
		return err
	}
	var missing, drifted []string
	for _, s := range apt.Drift(lock, installed) {
		switch s.State {
		case apt.StateMissing:
			pl.install = append(pl.install, s.Pin)
			in.Packages = append(in.Packages, s.Pin.String())
			missing = append(missing, s.Pin.Name)
		case apt.StateDrift:
			drifted = append(drifted, fmt.Sprintf("%s %s is installed, %s pins %s", s.Pin.Name, s.Installed, apt.LockFile, s.Pin.Version))
		}
	}
	if len(missing) > 0 {
		in.PackageCause = "not installed"
	}
	if len(drifted) > 0 {
		if !h.opts.AllowDrift {
			return fmt.Errorf("the host has drifted from %s: %s. Run `trio lock` to pin what is installed, or pass --allow-drift to run with it anyway", lockPath, strings.Join(drifted, "; "))
		}
		*notes = append(*notes, "running with drifted packages (--allow-drift): "+strings.Join(drifted, "; "))
	}
	return nil
}

// observeRelease decides which release the app should run: the content of
// app.root, or with --rollback the release before the live one.
func (h *Host) observeRelease(st *stack.Stack, pl *payload, notes *[]string) error {
	hist, err := h.readHistory()
	if err != nil {
		return err
	}
	pl.hist = hist
	live := h.releaseOf("current")
	if h.opts.Rollback {
		prev, err := hist.previous(live)
		if err != nil {
			return err
		}
		pl.release, pl.rollback, pl.rolledBackFrom = prev, true, live
		return nil
	}
	id, err := h.releaseID(st, hist)
	if err != nil {
		return err
	}
	if id == hist.RolledBack && live != "" {
		*notes = append(*notes, fmt.Sprintf("release %s was rolled back; it stays out until app.root changes again", id))
		id = live
	}
	pl.release = id
	return nil
}

// resolvePackages pins versions to builds. On a machine whose apt never fetched
// its package lists (a fresh image), a command that may change the host
// fetches them first; `trio plan` only says so.
func (h *Host) resolvePackages(ctx context.Context, want map[apt.Component]string) (*apt.Lock, error) {
	lock, err := apt.Resolve(ctx, want)
	if errors.Is(err, apt.ErrNoPackageLists) && h.opts.RefreshPackageLists && h.users.Root {
		if h.opts.Progress != nil {
			h.opts.Progress("apt's package lists are empty; running apt-get update")
		}
		if err := apt.Update(ctx, func(p apt.Progress) {
			if h.opts.Progress != nil {
				h.opts.Progress(p.String())
			}
		}); err != nil {
			return nil, err
		}
		return apt.Resolve(ctx, want)
	}
	return lock, err
}

// Components are the Debian components a stack needs, with their pins.
func Components(st *stack.Stack) map[apt.Component]string {
	want := map[apt.Component]string{
		apt.Nginx: st.Versions.Nginx, apt.PHP: st.Versions.PHP, apt.MariaDB: st.Versions.MariaDB,
	}
	if st.LBEnabled() {
		want[apt.HAProxy] = st.Versions.HAProxy
	}
	return want
}

// observeInstance compares one instance's desired config with what runs.
func (h *Host) observeInstance(st *stack.Stack, c render.Config, pl *payload, run agent.ServiceStatus, notes *[]string) (plan.InstanceFacts, error) {
	name := c.Instance.String()
	disk, have, err := h.runningSet(name)
	if err != nil {
		return plan.InstanceFacts{}, err
	}
	diskSums := disk.digests()
	want := confSet{}
	for file, data := range c.Files {
		if cur, ok := disk[file]; ok && diskSums[file] != have[file] {
			// Someone edited the live file in place. Without its marker
			// line it is theirs to keep; with it, trio's version returns.
			if !render.HasMarker(cur) {
				if !bytes.Equal(cur, data) {
					*notes = append(*notes, fmt.Sprintf("%s/%s is yours (its marker line is gone), so trio keeps it instead of the rendered one", name, file))
				}
				data = cur
			} else {
				*notes = append(*notes, fmt.Sprintf("%s/%s was edited but still has its marker line, so trio puts its own version back; remove the marker line to keep an edit", name, file))
				have[file] = diskSums[file]
			}
		} else if ok && !render.HasMarker(cur) {
			data = cur // taken over earlier
		}
		want[file] = data
	}
	pl.want[name] = want
	spec := h.spec(st, c.Instance)
	pl.specs[name] = spec

	isUp := run.PID > 0 && (run.State == agent.StateRunning.String() || run.State == agent.StateStarting.String())
	f := plan.InstanceFacts{
		Name:        name,
		Want:        want.digests(),
		Have:        have,
		Running:     isUp,
		State:       run.State,
		SpecChanged: isUp && run.SpecHash != spec.Hash(),
		Reloadable:  c.Instance.Tier != stack.TierDB,
	}
	if pl.secrets != nil {
		switch c.Instance.Tier {
		case stack.TierApp:
			f.SecretsChanged = h.secretsChanged(pl.secrets, "db_password", filepath.Base(h.env.SecretEnvFile(c.Instance)))
		case stack.TierLB:
			f.SecretsChanged = h.secretsChanged(pl.secrets, tlsPEMName)
		}
	}
	if c.Instance.Tier == stack.TierApp {
		if have := h.releaseOf(name); have != pl.release {
			f.Deploy = "release " + pl.release + " (app code changed)"
			if pl.rollback {
				f.Deploy = "release " + pl.release + " (rollback from " + have + ")"
			}
		}
	}
	if !isUp {
		if err := h.checkPort(st, c.Instance); err != nil {
			return f, err
		}
	}
	if c.Instance.Tier == stack.TierDB {
		if err := h.observeDataDir(st, c.Instance, pl, &f); err != nil {
			return f, err
		}
	}
	return f, nil
}

// checkPort fails early, naming the culprit, when an instance about to
// start would find its TCP port taken.
func (h *Host) checkPort(st *stack.Stack, inst stack.Instance) error {
	var addr netip.AddrPort
	var key string
	switch inst.Tier {
	case stack.TierLB:
		addr, key = st.Web.Listen.AddrPort, "web.listen"
		if st.TLS != nil {
			if err := portFree(st.TLS.Listen.AddrPort, h.ours); err != nil {
				return fmt.Errorf("%s cannot start: %v. Stop that program, or give HTTPS another port with tls.listen (%s)", inst, err, st.Pos("tls.listen"))
			}
		}
		if st.DB.Replicas > 0 {
			for _, p := range []struct {
				port int
				key  string
			}{{st.DB.Port, "db.port"}, {st.DB.ReadPort, "db.read_port"}} {
				if err := portFree(loopback(p.port), h.ours); err != nil {
					return fmt.Errorf("%s cannot start: %v. Stop that program, or give the database endpoint another port with %s (%s)", inst, err, p.key, st.Pos(p.key))
				}
			}
		}
	case stack.TierWeb:
		if st.LBEnabled() {
			return nil // nginx listens on a unix socket behind HAProxy
		}
		addr, key = st.Web.Listen.AddrPort, "web.listen"
	case stack.TierDB:
		addr, key = loopback(st.DBInstancePort(inst.Index)), "db.port"
		if st.DB.Replicas > 0 {
			key = "db.instance_port"
		}
	default:
		return nil
	}
	if err := portFree(addr, h.ours); err != nil {
		return fmt.Errorf("%s cannot start: %v. Stop that program, or give this stack another port with %s (%s)", inst, err, key, st.Pos(key))
	}
	return nil
}

func loopback(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// rank orders instances for a plan: tiers in start order, and within the
// database tier the primary first.
func rank(inst, primary stack.Instance) int {
	r := int(inst.Tier)*100 + inst.Index + 1
	if inst == primary {
		r = int(inst.Tier) * 100
	}
	return r
}

// observeDataDir finds whether the database needs initialising, and checks
// that an existing data directory suits this MariaDB.
func (h *Host) observeDataDir(st *stack.Stack, inst stack.Instance, pl *payload, f *plan.InstanceFacts) error {
	data := h.env.DataDir(inst.Index)
	if _, err := os.Stat(data); errors.Is(err, fs.ErrNotExist) && st.DB.Replicas > 0 && inst != pl.primary {
		f.NeedsInit = true
		f.InitCause = "new replica, copied from " + pl.primary.String() + " with mariadb-backup while it serves"
		return nil
	}
	if _, err := os.Stat(data); errors.Is(err, fs.ErrNotExist) {
		f.NeedsInit = true
		f.InitCause = "new data directory"
		if _, err := os.Stat(data + ".init"); err == nil {
			f.InitCause = "a start that was interrupted while initialising left " + data + ".init, which holds no app data yet; it is discarded and the database initialised again"
		}
		if st.DB.Schema != "" {
			f.InitCause += "; then " + st.DB.Schema
		}
		if n := countMigrations(st); n > 0 {
			f.InitCause += fmt.Sprintf("; then %d migration(s)", n)
		}
		return nil
	}
	made, err := os.ReadFile(filepath.Join(data, "mysql_upgrade_info"))
	if err != nil {
		return nil // made by a server that writes no marker; MariaDB itself will judge
	}
	madeBy := strings.TrimRight(string(made), "\x00\n ")
	cmp := compareSeries(seriesOf(madeBy), st.Versions.MariaDB)
	switch {
	case cmp > 0:
		return fmt.Errorf("%s: the data directory %s was made by MariaDB %s, newer than versions.mariadb %q (%s); MariaDB cannot go back a version. Set versions.mariadb to %s, or restore a backup made with this version", inst, data, madeBy, st.Versions.MariaDB, st.Pos("versions.mariadb"), seriesOf(madeBy))
	case cmp < 0 && h.opts.UpgradeDB:
		f.Upgrade = "data directory made by MariaDB " + madeBy + " (mariadb-upgrade)"
	case cmp < 0:
		return fmt.Errorf("%s: the data directory %s was made by MariaDB %s, and versions.mariadb is %q; take a backup of it, then run `trio up --upgrade-db` to upgrade it in place with mariadb-upgrade", inst, data, madeBy, st.Versions.MariaDB)
	}
	return nil
}

// seriesOf reduces "10.11.19-MariaDB" to "10.11".
func seriesOf(v string) string {
	parts := strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func compareSeries(a, b string) int {
	c, err := apt.CompareVersions(a, b)
	if err != nil {
		return strings.Compare(a, b)
	}
	return c
}

func countMigrations(st *stack.Stack) int {
	if st.DB.Migrations == "" {
		return 0
	}
	m, _ := filepath.Glob(filepath.Join(st.Path(st.DB.Migrations), "*.sql"))
	return len(m)
}

// observeDB compares the database's accounts and scripts with trio.yaml,
// when the primary is running; a stopped one is checked once started.
func (h *Host) observeDB(ctx context.Context, st *stack.Stack, pl *payload, in *plan.Input, notes *[]string) error {
	var err error
	pl.scripts, err = db.Scripts(pathOr(st, st.DB.Schema), pathOr(st, st.DB.Migrations))
	if err != nil {
		return err
	}
	pw, err := h.resolve(st.DB.Password)
	if err == nil {
		pl.account = db.Account{Database: st.DB.Database, User: st.DB.User, PasswordHash: secrets.MySQLNativeHash([]byte(pw))}
		if st.DB.RootPassword.IsSet() {
			rpw, err := h.resolve(st.DB.RootPassword)
			if err != nil {
				return err
			}
			pl.account.RootPasswordHash = secrets.MySQLNativeHash([]byte(rpw))
		}
	} else if !errors.Is(err, target.ErrSecretUnavailable) {
		return err
	}
	for _, f := range in.Instances {
		if f.Name == pl.primary.String() && (f.NeedsInit || !f.Running) {
			// Checked against the database itself once it runs.
			in.Password = !f.NeedsInit && h.accountChanged(pl)
			return nil
		}
	}
	conn, err := db.Admin(h.env.DBSocket(pl.primary.Index))
	if err != nil {
		return err
	}
	defer conn.Close()
	applied, err := db.Applied(ctx, conn)
	if err != nil {
		return err
	}
	pl.pending, err = db.Pending(pl.scripts, applied, h.env.DBSocket(pl.primary.Index), st.DB.Database)
	if err != nil {
		return err
	}
	for _, s := range pl.pending {
		if s.Name == db.SchemaName {
			// The schema belongs to initialisation; a database made without
			// one does not get it later by surprise.
			*notes = append(*notes, st.DB.Schema+" is applied only when a database is initialised; put changes in "+cmp.Or(st.DB.Migrations, "a migrations directory"))
			continue
		}
		in.Scripts = append(in.Scripts, s.Name)
	}
	if r, ok := applied[db.SchemaName]; ok && len(pl.scripts) > 0 && pl.scripts[0].Name == db.SchemaName && r.Checksum != pl.scripts[0].Checksum {
		*notes = append(*notes, st.DB.Schema+" changed after the database was initialised; it is not applied again, so put the change in a migration")
	}
	if pl.account.PasswordHash != "" {
		have, err := db.PasswordHashes(ctx, conn, st.DB.User)
		if err != nil {
			return err
		}
		switch {
		case !slices.Contains(have, pl.account.PasswordHash):
			in.Password = true
		case len(have) > 1:
			in.Retire = true
		default:
			_ = h.recordAccount(pl) // in step with the database
		}
	}
	return nil
}

func pathOr(st *stack.Stack, p string) string {
	if p == "" {
		return ""
	}
	return st.Path(p)
}

// resolve returns a credential's value.
func (h *Host) resolve(v stack.Value) (string, error) {
	if !v.IsSecret() {
		return v.Plain, nil
	}
	if h.opts.Secrets == nil {
		return "", fmt.Errorf("%w for %s (pass --vault-password-file FILE or set TRIO_VAULT_PASSWORD_FILE)", target.ErrSecretUnavailable, v)
	}
	return h.opts.Secrets(v.Secret)
}

// secretFiles renders the private files: the password file the app reads
// through DB_PASSWORD_FILE, and each app instance's PHP-FPM include.
func (h *Host) secretFiles(st *stack.Stack) (map[string][]byte, map[string]string, error) {
	pw, err := h.resolve(st.DB.Password)
	if err != nil {
		return nil, nil, err
	}
	out := map[string][]byte{"db_password": []byte(pw)}
	env := map[string]string{"DB_PASSWORD": pw}
	for k, v := range st.App.Env {
		if v.IsSecret() {
			val, err := h.resolve(v)
			if err != nil {
				return nil, nil, err
			}
			env[k] = val
		}
	}
	for i := 0; i < st.Replicas(stack.TierApp); i++ {
		inst := stack.Instance{Tier: stack.TierApp, Index: i}
		b, err := render.PHPFPMSecrets(inst, env)
		if err != nil {
			return nil, nil, err
		}
		out[filepath.Base(h.env.SecretEnvFile(inst))] = b
	}
	pem, err := h.tlsPEM(st)
	if err != nil {
		return nil, nil, err
	}
	if pem != nil {
		out[tlsPEMName] = pem
	}
	return out, env, nil
}

// secretsChanged compares the private files with what is in place,
// without ever printing either.
func (h *Host) secretsChanged(want map[string][]byte, names ...string) bool {
	for _, name := range names {
		data, ok := want[name]
		if !ok {
			continue
		}
		have, err := os.ReadFile(filepath.Join(h.layout.Secrets, name))
		if err != nil || sha256.Sum256(have) != sha256.Sum256(data) {
			return true
		}
	}
	return false
}
