package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trio-stack/trio/internal/db/cluster"
)

// ErrNoCluster means the stack runs no replicated database.
var ErrNoCluster = errors.New("this stack has no database replicas, so there is no failover to run")

// dbCluster is the failover controller the agent runs for a primary with
// replicas, and the context that stops it.
type dbCluster struct {
	mu     sync.Mutex
	ctl    *cluster.Controller
	cancel context.CancelFunc
	done   chan struct{}
	// cfg is the last config, kept when the controller stops so that the
	// snapshot still says who the primary is. Atomic: the controller
	// reports changes from its own goroutine while mu may be held.
	cfg atomic.Pointer[cluster.Config]
	// lease resumes automatic failover when a pause runs out.
	lease *time.Timer
}

// setCluster starts (or replaces) the controller with cfg.
func (a *Agent) setCluster(cfg cluster.Config) error {
	a.db.mu.Lock()
	defer a.db.mu.Unlock()
	ctl, err := cluster.New(cfg, a.log.With("component", "db-cluster"))
	if err != nil {
		return err
	}
	a.stopClusterLocked()
	a.db.cfg.Store(&cfg)
	ctl.OnChange(func(c cluster.Config) {
		a.db.cfg.Store(&c)
		a.save()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ctl.Run(ctx) }()
	a.db.ctl, a.db.cancel, a.db.done = ctl, cancel, done
	return nil
}

func (a *Agent) stopClusterLocked() {
	if a.db.cancel != nil {
		a.db.cancel()
		<-a.db.done
		a.db.ctl.Close()
	}
	if a.db.ctl != nil {
		cfg := a.db.ctl.Config()
		a.db.cfg.Store(&cfg)
	}
	a.db.ctl, a.db.cancel, a.db.done = nil, nil, nil
}

func (a *Agent) controller() *cluster.Controller {
	a.db.mu.Lock()
	defer a.db.mu.Unlock()
	return a.db.ctl
}

// clusterConfig is what the snapshot keeps of the controller.
func (a *Agent) clusterConfig() *cluster.Config {
	return a.db.cfg.Load()
}

// dbRoutes adds the database cluster's endpoints to the control API:
//
//	GET    /v1/db             topology: roles, positions, lag, last failover
//	PUT    /v1/db             cluster.Config → start or replace the controller
//	DELETE /v1/db             stop the controller (no replicas any more)
//	POST   /v1/db/switchover?to=db-1
//	POST   /v1/db/failover
//	POST   /v1/db/pause, /v1/db/resume
func (a *Agent) dbRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/db", func(w http.ResponseWriter, r *http.Request) {
		ctl := a.controller()
		if ctl == nil {
			writeErr(w, http.StatusNotFound, ErrNoCluster)
			return
		}
		writeJSON(w, http.StatusOK, ctl.Status(r.Context()))
	})
	mux.HandleFunc("PUT /v1/db", func(w http.ResponseWriter, r *http.Request) {
		<-a.restored
		var cfg cluster.Config
		if err := json.NewDecoder(r.Body).Decode(&cfg); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("bad cluster config: %v", err))
			return
		}
		// trio apply does not know where a failover promoted the primary;
		// the controller does.
		if cur := a.clusterConfig(); cur != nil && cur.Primary == cfg.Primary {
			if len(cfg.PromotedAt) == 0 {
				cfg.PromotedAt = cur.PromotedAt
			}
			if cfg.KeptAside == nil {
				cfg.KeptAside = cur.KeptAside
			}
			if cfg.LastFailover == nil {
				cfg.LastFailover = cur.LastFailover
			}
		}
		if err := a.setCluster(cfg); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		a.save()
		writeJSON(w, http.StatusOK, map[string]string{"primary": cfg.Primary})
	})
	mux.HandleFunc("DELETE /v1/db", func(w http.ResponseWriter, r *http.Request) {
		a.db.mu.Lock()
		a.stopClusterLocked()
		a.db.cfg.Store(nil)
		a.db.mu.Unlock()
		a.save()
		writeJSON(w, http.StatusOK, map[string]bool{"stopped": true})
	})
	act := func(path string, fn func(context.Context, *cluster.Controller, *http.Request) error) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			<-a.restored
			ctl := a.controller()
			if ctl == nil {
				writeErr(w, http.StatusNotFound, ErrNoCluster)
				return
			}
			if err := fn(r.Context(), ctl, r); err != nil {
				writeErr(w, http.StatusConflict, err)
				return
			}
			a.save()
			writeJSON(w, http.StatusOK, ctl.Status(r.Context()))
		})
	}
	act("/v1/db/switchover", func(ctx context.Context, c *cluster.Controller, r *http.Request) error {
		return c.Switchover(ctx, r.URL.Query().Get("to"))
	})
	act("/v1/db/failover", func(ctx context.Context, c *cluster.Controller, r *http.Request) error {
		return c.Failover(ctx, "asked for with trio db failover")
	})
	act("/v1/db/pause", func(ctx context.Context, c *cluster.Controller, r *http.Request) error {
		// A pause is a lease: should the caller die mid-way, failover
		// comes back on its own.
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil || d <= 0 {
			d = 10 * time.Minute
		}
		c.Pause()
		a.db.mu.Lock()
		if a.db.lease != nil {
			a.db.lease.Stop()
		}
		a.db.lease = time.AfterFunc(d, c.Resume)
		a.db.mu.Unlock()
		return nil
	})
	act("/v1/db/resume", func(ctx context.Context, c *cluster.Controller, r *http.Request) error {
		c.Resume()
		return nil
	})
}

// DBStatus asks for the database topology; ErrNoCluster without replicas.
func (c *Client) DBStatus(ctx context.Context) (cluster.Topology, error) {
	var t cluster.Topology
	err := c.call(ctx, http.MethodGet, "/v1/db", nil, &t)
	if err != nil && errors.Is(err, ErrUnknown) {
		return t, ErrNoCluster
	}
	return t, err
}

// SetCluster starts or replaces the failover controller.
func (c *Client) SetCluster(ctx context.Context, cfg cluster.Config) error {
	return c.call(ctx, http.MethodPut, "/v1/db", cfg, nil)
}

// StopCluster ends the failover controller.
func (c *Client) StopCluster(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "/v1/db", nil, nil)
}

// DBAction runs switchover, failover, pause or resume.
func (c *Client) DBAction(ctx context.Context, action, to string) (cluster.Topology, error) {
	var t cluster.Topology
	path := "/v1/db/" + action
	if to != "" {
		path += "?to=" + url.QueryEscape(to)
	}
	err := c.call(ctx, http.MethodPost, path, nil, &t)
	if err != nil && errors.Is(err, ErrUnknown) {
		return t, ErrNoCluster
	}
	return t, err
}
