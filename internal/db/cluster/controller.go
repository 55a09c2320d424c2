package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/haproxy"
)

// replicaOptions are how the controller starts replication: a replica
// that loses its primary retries every second, and hears from a live one
// every second (what witnesses rely on).
var replicaOptions = repl.ReplicaOptions{
	ConnectRetry:   time.Second,
	Heartbeat:      time.Second,
	ConnectTimeout: 5 * time.Second,
}

// Controller watches the primary, fails over, rejoins nodes and keeps
// HAProxy's backends right. Its methods are safe to call concurrently;
// topology changes (a heartbeat's, Switchover, Failover) never overlap.
type Controller struct {
	log   *slog.Logger
	lb    *haproxy.Client // nil without HAProxy
	write string          // the write backend

	op sync.Mutex // held through each topology change

	mu       sync.Mutex
	cfg      Config
	onChange []func(Config)
	paused   bool
	since    time.Time // when the primary stopped being healthy; zero while it is
	held     string
	retryAt  time.Time // no automatic failover attempt before, after one failed
	retries  int
	switched *Event
	dbs      map[string]*sql.DB
	heard    map[string]hearing
	said     map[string]string // the last message logged per subject, to log changes only
}

// New makes a controller for cfg, with the defaults filled in. It opens
// nothing until it runs.
func New(cfg Config, log *slog.Logger) (*Controller, error) {
	if cfg.Repl.User == "" {
		cfg.Repl.User = cfg.ReplUser
	}
	if cfg.Repl.Password == "" && cfg.ReplPasswordFile != "" {
		b, err := os.ReadFile(cfg.ReplPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("replication password: %w", err)
		}
		cfg.Repl.Password = strings.TrimSpace(string(b))
	}
	cfg.ReplUser = cfg.Repl.User
	cfg = cfg.withDefaults().clone()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		log: log.With("tier", "db"), cfg: cfg, write: cfg.WriteBackend,
		dbs: map[string]*sql.DB{}, heard: map[string]hearing{}, said: map[string]string{},
	}
	if cfg.HAProxySocket != "" {
		c.lb = haproxy.NewClient(cfg.HAProxySocket)
		c.lb.Timeout = 2 * time.Second
	}
	return c, nil
}

// Config returns the current config, with the primary, PromotedAt, the
// nodes kept aside and the last failover as they are now.
func (c *Controller) Config() Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.clone()
}

// OnChange registers f to be called with the new config after every
// change of topology (failover, switchover, a node kept aside or
// released), so that the caller persists it. f runs on the controller's
// goroutine and must not call Switchover or Failover.
func (c *Controller) OnChange(f func(Config)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onChange = append(c.onChange, f)
}

// Pause stops automatic failovers and rejoins, while the caller restarts
// nodes on purpose. The read backend is still kept right, and a writable
// node that is not the primary is still fenced.
func (c *Controller) Pause() {
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
	c.log.Info("automatic failover paused")
}

// Resume undoes Pause. A primary that has been unhealthy for FailAfter
// all along is failed over at the next heartbeat.
func (c *Controller) Resume() {
	c.mu.Lock()
	c.paused = false
	c.mu.Unlock()
	c.log.Info("automatic failover resumed")
}

// Close releases the connections to the nodes. Call it after Run has
// returned.
func (c *Controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for name, d := range c.dbs {
		errs = append(errs, d.Close())
		delete(c.dbs, name)
	}
	return errors.Join(errs...)
}

// Run watches the tier every Heartbeat until ctx ends. It first makes
// HAProxy's write backend match Config.Primary, so that a controller
// restarted in the middle of anything starts from a known endpoint.
func (c *Controller) Run(ctx context.Context) {
	c.op.Lock()
	// Read under the lock: a Failover or Switchover called before Run
	// may just have moved the primary.
	cfg := c.Config()
	c.log.Info("failover controller up", "primary", cfg.Primary, "heartbeat", cfg.Heartbeat, "fail_after", cfg.FailAfter, "min_interval", cfg.MinInterval)
	var write []route
	for _, r := range routes(cfg, nil) {
		if r.backend == cfg.WriteBackend {
			write = append(write, r)
		}
	}
	c.route(ctx, write)
	c.op.Unlock()

	t := time.NewTicker(cfg.Heartbeat)
	defer t.Stop()
	for {
		c.heartbeat(ctx)
		select {
		case <-ctx.Done():
			c.log.Info("failover controller down")
			return
		case <-t.C:
		}
	}
}

// heartbeat is one look at every node and what follows from it.
func (c *Controller) heartbeat(ctx context.Context) {
	c.op.Lock()
	defer c.op.Unlock()
	if ctx.Err() != nil {
		return
	}
	cfg := c.Config()
	now := time.Now()
	obs := c.observeAll(ctx, cfg, cfg.probeTimeout())
	if ctx.Err() != nil {
		return
	}
	p, _ := find(obs, cfg.Primary)

	c.mu.Lock()
	for _, o := range obs {
		c.heard[o.node.Name] = c.heard[o.node.Name].heard(o, now)
	}
	paused := c.paused
	c.mu.Unlock()

	if p.writable() {
		c.healthy()
		steps := plan(cfg, obs, paused)
		for _, s := range steps {
			c.apply(ctx, cfg, obs, s)
		}
		if len(steps) > 0 {
			obs = c.observeAll(ctx, cfg, cfg.probeTimeout())
		}
		c.route(ctx, routes(c.Config(), obs))
		return
	}

	c.mu.Lock()
	if c.since.IsZero() {
		c.since = now
		c.log.Warn("primary unhealthy", "instance", cfg.Primary, "reachable", p.up(), "error", errString(p.err))
	}
	f := failure{
		primary: p, since: now.Sub(c.since), paused: paused, last: cfg.LastFailover,
		now: now, failAfter: cfg.FailAfter, minGap: cfg.MinInterval,
		witnesses: witnesses(obs, p.node, c.heard, now),
	}
	retryAt := c.retryAt
	c.mu.Unlock()
	v := decide(f)
	if v.act && now.Before(retryAt) {
		return // the last attempt failed; held says why
	}
	c.setHeld(v.held, v.hold)
	if v.act {
		if err := c.failover(ctx, v.reason, false, obs); err != nil {
			c.mu.Lock()
			c.retryAt = time.Now().Add(min(maxRetryDelay, time.Second<<c.retries))
			c.retries++
			c.mu.Unlock()
			c.setHeld("failed: "+err.Error(), "failover failed: "+err.Error())
		}
		return
	}
	c.route(ctx, routes(cfg, obs))
}

// maxRetryDelay bounds the wait between automatic failover attempts that
// fail (1s, 2s, 4s...): each one takes the old primary out of the write
// backend and fences it again, and logs.
const maxRetryDelay = 8 * time.Second

// healthy notes that the primary is healthy.
func (c *Controller) healthy() {
	c.mu.Lock()
	since, primary := c.since, c.cfg.Primary
	c.mu.Unlock()
	if !since.IsZero() {
		c.log.Info("primary healthy again", "instance", primary, "after", Duration(time.Since(since)))
	}
	c.forgetFailure()
}

// forgetFailure clears what the controller noted about an unhealthy
// primary: it is healthy again, or replaced.
func (c *Controller) forgetFailure() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.since, c.held = time.Time{}, ""
	c.retryAt, c.retries = time.Time{}, 0
	c.said["held"] = ""
}

// setHeld records why a failover is held back, and logs it when the kind
// of hold changes (the text changes with every heartbeat).
func (c *Controller) setHeld(kind, held string) {
	c.mu.Lock()
	c.held = held
	c.mu.Unlock()
	if c.changed("held", kind) && held != "" {
		c.log.Warn(held)
	}
}

// apply carries out one step of a plan.
func (c *Controller) apply(ctx context.Context, cfg Config, obs []observation, s step) {
	o, _ := find(obs, s.node)
	log := c.log.With("instance", s.node)
	d, err := c.db(o.node)
	if err != nil {
		log.Error(s.move.String(), "error", err)
		return
	}
	switch s.move {
	case moveFence:
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := repl.Fence(fctx, d)
		cancel()
		if err != nil {
			log.Error("fence a writable node that is not the primary", "error", err)
			return
		}
		log.Warn("fenced a writable node that is not the primary", "primary", cfg.Primary, "killed", n)
	case moveRejoin:
		primary, _ := cfg.node(cfg.Primary)
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := repl.Repoint(rctx, d, primary, cfg.Repl, replicaOptions)
		cancel()
		switch {
		case errors.Is(err, repl.ErrReplication):
			c.keepAside(s.node, nil, fmt.Sprintf("%s; %s refuses it: %v", s.why, cfg.Primary, err))
		case err != nil:
			if c.changed("rejoin "+s.node, err.Error()) {
				log.Warn("rejoin failed; trying again at the next heartbeat", "primary", cfg.Primary, "error", err)
			}
		default:
			c.changed("rejoin "+s.node, "")
			log.Info("rejoined as a replica", "primary", cfg.Primary, "why", s.why)
		}
	case moveAside:
		c.keepAside(s.node, s.errant, s.why)
	case moveRelease:
		c.update(func(cfg *Config) { delete(cfg.KeptAside, s.node) })
		log.Info("no longer kept aside", "why", s.why)
	}
}

// keepAside records a node as kept aside; it leaves its data as it is.
func (c *Controller) keepAside(name string, errant repl.Position, why string) {
	c.update(func(cfg *Config) {
		if cfg.KeptAside == nil {
			cfg.KeptAside = map[string]Aside{}
		}
		cfg.KeptAside[name] = Aside{Errant: errant, Reason: why, Since: time.Now()}
	})
	c.log.Error("kept aside: it must be re-seeded from the primary", "instance", name, "errant", errant.String(), "why", why)
}

// update changes the config and tells the OnChange callbacks.
func (c *Controller) update(f func(*Config)) Config {
	c.mu.Lock()
	f(&c.cfg)
	cfg := c.cfg.clone()
	fns := append([]func(Config){}, c.onChange...)
	c.mu.Unlock()
	for _, fn := range fns {
		fn(cfg.clone())
	}
	return cfg
}

// changed records msg as the last word on subject and reports whether it
// differs from the one before, so that a repeating failure is logged once.
func (c *Controller) changed(subject, msg string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.said[subject] == msg {
		return false
	}
	c.said[subject] = msg
	return true
}

// db returns the admin connection pool of a node, opened on first use.
func (c *Controller) db(n repl.Node) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dbs[n.Name]; ok {
		return d, nil
	}
	d, err := n.Open(repl.Credentials{})
	if err != nil {
		return nil, err
	}
	c.dbs[n.Name] = d
	return d, nil
}

// observeAll looks at every node at once, each for at most timeout; the
// result is in Config.Nodes order.
func (c *Controller) observeAll(ctx context.Context, cfg Config, timeout time.Duration) []observation {
	out := make([]observation, len(cfg.Nodes))
	var wg sync.WaitGroup
	for i, n := range cfg.Nodes {
		wg.Go(func() { out[i] = c.observe(ctx, n, timeout) })
	}
	wg.Wait()
	return out
}

func (c *Controller) observe(ctx context.Context, n repl.Node, timeout time.Duration) observation {
	o := observation{node: n}
	d, err := c.db(n)
	if err != nil {
		o.err = err
		return o
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if o.st, o.err = repl.Status(ctx, d); o.err != nil {
		return o
	}
	if o.st.Replica != nil {
		var name string
		err := d.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Slave_received_heartbeats'").Scan(&name, &o.heartbeats)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			o.err = fmt.Errorf("read heartbeats: %w", err)
		}
	}
	return o
}

// route brings HAProxy's servers to the states given, touching only those
// that differ.
func (c *Controller) route(ctx context.Context, rs []route) {
	if c.lb == nil || len(rs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	servers, err := c.lb.ServerStates(ctx)
	if err != nil {
		if c.changed("haproxy", err.Error()) {
			c.log.Warn("read HAProxy's servers; trying again at the next heartbeat", "error", err)
		}
		return
	}
	if c.changed("haproxy", "") {
		c.log.Info("HAProxy answers")
	}
	for _, r := range rs {
		cur, ok := server(servers, r.backend, r.server)
		if !ok {
			if c.changed("missing "+r.backend+"/"+r.server, "missing") {
				c.log.Error("HAProxy has no such server; is its config rendered for this tier?", "backend", r.backend, "instance", r.server)
			}
			continue
		}
		if !needsSet(cur.Status, r.state) {
			continue
		}
		var err error
		if r.state == haproxy.Maint && r.backend == c.write {
			err = c.takeOut(ctx, r.backend, r.server)
		} else {
			err = c.lb.SetServerState(ctx, r.backend, r.server, r.state)
		}
		if err != nil {
			c.log.Error("set server state", "backend", r.backend, "instance", r.server, "state", string(r.state), "error", err)
			continue
		}
		c.log.Info("endpoint changed", "backend", r.backend, "instance", r.server, "from", cur.Status.String(), "to", string(r.state), "why", r.why)
	}
}

func server(list []haproxy.Server, backend, name string) (haproxy.Server, bool) {
	for _, s := range list {
		if s.Backend == backend && s.Name == name {
			return s, true
		}
	}
	return haproxy.Server{}, false
}

// takeOut puts a server in maintenance and closes the sessions it has, so
// that no client keeps writing to it through HAProxy.
func (c *Controller) takeOut(ctx context.Context, backend, name string) error {
	if c.lb == nil {
		return nil
	}
	if err := c.lb.SetServerState(ctx, backend, name, haproxy.Maint); err != nil {
		return err
	}
	out, err := c.lb.Command(ctx, fmt.Sprintf("shutdown sessions server %s/%s", backend, name))
	if err != nil {
		return fmt.Errorf("shut sessions of %s/%s: %w", backend, name, err)
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("shut sessions of %s/%s: %w: %s", backend, name, haproxy.ErrRefused, msg)
	}
	return nil
}

// putIn makes a server ready.
func (c *Controller) putIn(ctx context.Context, backend, name string) error {
	if c.lb == nil {
		return nil
	}
	return c.lb.SetServerState(ctx, backend, name, haproxy.Ready)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
