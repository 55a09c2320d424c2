package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trio-stack/trio/internal/db/repl"
)

const (
	// promoteTimeout bounds how long a promoted replica may take to apply
	// the relay log it has.
	promoteTimeout = 30 * time.Second
	// switchoverTimeout bounds each wait of a switchover for the new
	// primary to catch up, and so how long writes stay blocked.
	switchoverTimeout = 30 * time.Second
	// catchUpTimeout is how long a failover waits for the candidate to
	// receive what an old primary that still answers has.
	catchUpTimeout = 3 * time.Second
)

// Failover makes another node the primary now, whatever the anti-flapping
// interval, Pause or witnesses say: an operator's decision. The old
// primary is taken out of the write backend and fenced if it answers, and
// the most advanced replica promoted; with an old primary that answers,
// that replica first gets a few seconds to catch up with it. Prefer
// Switchover for a healthy primary: it waits until nothing can be lost.
func (c *Controller) Failover(ctx context.Context, reason string) error {
	c.op.Lock()
	defer c.op.Unlock()
	if reason == "" {
		reason = "forced by an operator"
	}
	return c.failover(ctx, reason, true, nil)
}

// failover runs the steps of the package doc. last is the heartbeat's
// look at the nodes, nil when an operator asked: a node it found
// unreachable is not waited for again.
func (c *Controller) failover(ctx context.Context, reason string, forced bool, last []observation) error {
	start := time.Now()
	cfg := c.Config()
	old, _ := cfg.node(cfg.Primary)
	log := c.log.With("from", old.Name)
	log.Warn("failing over", "reason", reason, "forced", forced)

	// 1. From here on no client writes to the old primary through HAProxy.
	if err := c.takeOut(ctx, cfg.WriteBackend, old.Name); err != nil {
		return fmt.Errorf("failover from %s: take it out of %s: %w; nothing changed", old, cfg.WriteBackend, err)
	}

	// 2. An old primary that answers is fenced. One that does not is kept
	// off by HAProxy, and fenced by a heartbeat if it wakes up writable.
	if o, ok := find(last, old.Name); ok && !o.up() {
		log.Info("old primary unreachable: not fenced")
	} else if d, err := c.db(old); err == nil {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := repl.Fence(fctx, d)
		cancel()
		if err != nil {
			log.Info("old primary not fenced", "error", err)
		} else {
			log.Info("old primary fenced", "killed", n)
		}
	}

	// 3. Pick the new primary.
	obs := c.refresh(ctx, cfg, last)
	ch, err := choose(cfg, obs, forced)
	if err != nil {
		return fmt.Errorf("failover from %s: %w", old, err)
	}
	if c.catchUp(ctx, cfg, obs, ch) {
		obs = c.refresh(ctx, cfg, last)
		if ch, err = choose(cfg, obs, forced); err != nil {
			return fmt.Errorf("failover from %s: %w", old, err)
		}
	}
	to, _ := cfg.node(ch.to)
	log = log.With("to", to.Name)
	log.Info("new primary chosen", "why", ch.why)
	if !ch.inPlace {
		c.stopReceiving(ctx, obs, old)
	}

	// 4. Promote it (again, for an adopted or in-place node: Promote
	// then only opens it for writes).
	d, err := c.db(to)
	if err != nil {
		return fmt.Errorf("failover from %s to %s: %w", old, to, err)
	}
	at, err := repl.Promote(ctx, d, promoteTimeout)
	if err != nil {
		return fmt.Errorf("failover from %s to %s: %w", old, to, err)
	}
	log.Info("promoted", "promoted_at", at.String(), "after", Duration(time.Since(start)))

	// 5. The other replicas of the old primary follow, so that semi-sync
	// has a replica to wait for before the first write arrives.
	var others []observation
	if !ch.inPlace {
		for _, o := range obs {
			if _, aside := cfg.KeptAside[o.node.Name]; !aside && o.node.Name != to.Name && o.replicatesFrom(old) {
				others = append(others, o)
			}
		}
	}
	rerr := c.repoint(ctx, cfg, others, to)
	log.Info("replicas repointed", "after", Duration(time.Since(start)))

	// 6. Open the write endpoint on the new primary.
	if err := c.putIn(ctx, cfg.WriteBackend, to.Name); err != nil {
		log.Error("open the write endpoint; trying again at the next heartbeat", "error", err)
	}
	took := time.Since(start)

	// 7. Record it.
	ev := Event{Kind: "failover", At: start, From: old.Name, To: to.Name, Reason: reason, Took: Duration(took), PromotedAt: at}
	if ch.inPlace {
		ev.Reason += "; promoted again in place: " + ch.why
	}
	cfg = c.update(func(cfg *Config) {
		cfg.Primary, cfg.PromotedAt, cfg.LastFailover = to.Name, at, &ev
	})
	c.forgetFailure()
	c.route(ctx, routes(cfg, c.refresh(ctx, cfg, last)))
	log.Warn("failed over", "took", ev.Took, "promoted_at", at.String(), "why", ch.why)
	if rerr != nil {
		return fmt.Errorf("failover from %s to %s: done, but %w", old, to, rerr)
	}
	return nil
}

// stopReceiving stops the IO thread of every replica of the old primary
// whose applier runs, all at once: nothing more arrives from an old
// primary that wakes up, and a thread stuck on a hung primary takes
// MariaDB seconds to stop, better spent once than node after node. A
// replica whose applier is stopped keeps its IO thread: with both
// stopped, the next start would throw its relay log away.
func (c *Controller) stopReceiving(ctx context.Context, obs []observation, old repl.Node) {
	var wg sync.WaitGroup
	for _, o := range obs {
		if !o.replicatesFrom(old) || !o.st.Replica.SQLRunning || o.st.Replica.IORunning == "No" {
			continue
		}
		wg.Go(func() {
			d, err := c.db(o.node)
			if err != nil {
				return
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := d.ExecContext(sctx, "STOP SLAVE IO_THREAD"); err != nil {
				c.log.Info("stop receiving from the old primary", "instance", o.node.Name, "error", err)
			}
		})
	}
	wg.Wait()
}

// refresh looks at the nodes again, but for those last found unreachable:
// they would only cost a timeout each.
func (c *Controller) refresh(ctx context.Context, cfg Config, last []observation) []observation {
	timeout := max(cfg.probeTimeout(), time.Second)
	out := make([]observation, len(cfg.Nodes))
	var wg sync.WaitGroup
	for i, n := range cfg.Nodes {
		if o, ok := find(last, n.Name); ok && !o.up() {
			out[i] = o
			continue
		}
		wg.Go(func() { out[i] = c.observe(ctx, n, timeout) })
	}
	wg.Wait()
	return out
}

// catchUp gives the chosen replica a few seconds to receive what an old
// primary that still answers has (it serves its binlog while read-only),
// and reports whether it waited.
func (c *Controller) catchUp(ctx context.Context, cfg Config, obs []observation, ch choice) bool {
	old, _ := find(obs, cfg.Primary)
	best, ok := find(obs, ch.best)
	if !ok || !old.up() || ch.adopt || best.st.Received().Covers(old.st.Applied()) || best.st.Replica.IORunning != "Yes" {
		return false
	}
	d, err := c.db(best.node)
	if err != nil {
		return false
	}
	err = repl.WaitFor(ctx, d, old.st.Applied(), catchUpTimeout)
	c.log.Info("waited for the candidate to catch up with the old primary", "instance", best.node.Name, "from", cfg.Primary, "position", old.st.Applied().String(), "error", errString(err))
	return true
}

// repoint makes nodes replicate from primary, all at once.
func (c *Controller) repoint(ctx context.Context, cfg Config, nodes []observation, primary repl.Node) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, o := range nodes {
		wg.Go(func() {
			d, err := c.db(o.node)
			if err == nil {
				rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err = repl.Repoint(rctx, d, primary, cfg.Repl, replicaOptions)
				cancel()
			}
			if err != nil {
				errs[i] = fmt.Errorf("repoint %s: %w", o.node, err)
				c.log.Error("repoint to the new primary; the next heartbeats retry", "instance", o.node.Name, "primary", primary.Name, "error", err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Switchover moves the primary role to another node without losing a
// write: it waits until the target has nearly caught up while the
// primary still takes writes, takes the primary out of the write backend,
// fences it, waits until the target has everything, promotes the target,
// opens the write endpoint on it, and repoints the old primary and the
// other replicas to it. Writes are refused only between the fence and
// the promotion. If the target does not catch up in time, the old primary
// is opened again and nothing changed.
//
// to "" picks the most advanced replica.
func (c *Controller) Switchover(ctx context.Context, to string) error {
	c.op.Lock()
	defer c.op.Unlock()
	start := time.Now()
	cfg := c.Config()
	old, _ := cfg.node(cfg.Primary)
	obs := c.observeAll(ctx, cfg, 2*time.Second)
	po, _ := find(obs, old.Name)
	if !po.writable() {
		return fmt.Errorf("switchover: %s is not a healthy primary (reachable %t, read-only %t): %w; fail over instead", old, po.up(), po.st.ReadOnly, ErrNotReady)
	}
	target, err := switchTarget(cfg, obs, to)
	if err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	log := c.log.With("from", old.Name, "to", target.node.Name)
	log.Info("switching over")
	oldDB, err := c.db(old)
	if err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	newDB, err := c.db(target.node)
	if err != nil {
		return fmt.Errorf("switchover: %w", err)
	}

	if err := repl.WaitFor(ctx, newDB, po.st.BinlogPos, switchoverTimeout); err != nil {
		return fmt.Errorf("switchover: %s does not catch up with %s: %w; nothing changed", target.node, old, err)
	}
	if err := c.takeOut(ctx, cfg.WriteBackend, old.Name); err != nil {
		return fmt.Errorf("switchover: take %s out of %s: %w; nothing changed", old, cfg.WriteBackend, err)
	}
	reopen := func(cause error) error {
		errs := []error{cause}
		if _, err := oldDB.ExecContext(context.WithoutCancel(ctx), "SET GLOBAL read_only = OFF"); err != nil {
			errs = append(errs, fmt.Errorf("open %s for writes again: %w", old, err))
		}
		if err := c.putIn(context.WithoutCancel(ctx), cfg.WriteBackend, old.Name); err != nil {
			errs = append(errs, fmt.Errorf("put %s back in %s: %w", old, cfg.WriteBackend, err))
		}
		return fmt.Errorf("switchover: %s stays primary: %w", old, errors.Join(errs...))
	}
	if _, err := repl.Fence(ctx, oldDB); err != nil {
		return reopen(err)
	}
	final, err := repl.Status(ctx, oldDB)
	if err == nil {
		err = repl.WaitFor(ctx, newDB, final.BinlogPos, switchoverTimeout)
	}
	if err != nil {
		return reopen(err)
	}
	at, err := repl.Promote(ctx, newDB, promoteTimeout)
	if err != nil {
		// Both are read-only now; the next heartbeats see an unhealthy
		// primary and fail over.
		return fmt.Errorf("switchover: promote %s: %w", target.node, err)
	}
	if err := c.putIn(ctx, cfg.WriteBackend, target.node.Name); err != nil {
		log.Error("open the write endpoint; trying again at the next heartbeat", "error", err)
	}
	blocked := time.Since(start)

	others := []observation{po}
	for _, o := range obs {
		if _, aside := cfg.KeptAside[o.node.Name]; !aside && o.node.Name != target.node.Name && o.replicatesFrom(old) {
			others = append(others, o)
		}
	}
	rerr := c.repoint(ctx, cfg, others, target.node)
	ev := &Event{Kind: "switchover", At: start, From: old.Name, To: target.node.Name, Reason: "planned", Took: Duration(time.Since(start)), PromotedAt: at}
	cfg = c.update(func(cfg *Config) { cfg.Primary, cfg.PromotedAt = target.node.Name, at })
	c.mu.Lock()
	c.switched = ev
	c.mu.Unlock()
	c.forgetFailure()
	c.route(ctx, routes(cfg, c.observeAll(ctx, cfg, 2*time.Second)))
	log.Info("switched over", "took", ev.Took, "until_writable", Duration(blocked), "promoted_at", at.String())
	if rerr != nil {
		return fmt.Errorf("switchover: %s is primary, but %w", target.node, rerr)
	}
	return nil
}

// switchTarget is the node a switchover promotes: to, or the most
// advanced replica; it must replicate from the primary with both threads
// running.
func switchTarget(cfg Config, obs []observation, to string) (observation, error) {
	p, _ := find(obs, cfg.Primary)
	if to != "" {
		o, ok := find(obs, to)
		switch {
		case !ok:
			return o, fmt.Errorf("%q: %w", to, ErrUnknownNode)
		case to == cfg.Primary:
			return o, fmt.Errorf("%s is the primary already: %w", to, ErrNotReady)
		case !o.runningFrom(p.node):
			return o, fmt.Errorf("%s does not replicate from %s with both threads running: %w", to, cfg.Primary, ErrNotReady)
		}
		if _, aside := cfg.KeptAside[to]; aside {
			return o, fmt.Errorf("%s is kept aside: %w", to, ErrNotReady)
		}
		return o, nil
	}
	var cands []observation
	var sts []repl.NodeStatus
	for _, o := range obs {
		if _, aside := cfg.KeptAside[o.node.Name]; !aside && o.node.Name != cfg.Primary && o.runningFrom(p.node) {
			cands = append(cands, o)
			sts = append(sts, o.st)
		}
	}
	i := repl.MostAdvanced(sts)
	if i < 0 {
		return observation{}, ErrNoCandidate
	}
	return cands[i], nil
}
