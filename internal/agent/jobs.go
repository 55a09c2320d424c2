package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"
)

// Job is a command the agent runs on a schedule, such as a backup.
type Job struct {
	Name  string   `json:"name"`
	Every Duration `json:"every"`
	// Args are given to the trio binary the agent runs from.
	Args []string `json:"args"`
	Log  string   `json:"log"`
	// LastRun is kept across agent restarts, so that a schedule is not
	// pushed back each time the agent or the job is set again.
	LastRun time.Time `json:"last_run,omitzero"`
}

// JobStatus is a job and how its last run went.
type JobStatus struct {
	Job
	LastErr  string    `json:"last_error,omitempty"`
	NextRun  time.Time `json:"next_run"`
	Running  bool      `json:"running"`
	Failures int       `json:"failures"`
}

type jobs struct {
	mu      sync.Mutex
	entries map[string]*jobRun
}

type jobRun struct {
	status JobStatus
	cancel context.CancelFunc
}

// setJob starts (or replaces) a scheduled job.
func (a *Agent) setJob(j Job) {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	if a.jobs.entries == nil {
		a.jobs.entries = map[string]*jobRun{}
	}
	if old := a.jobs.entries[j.Name]; old != nil {
		if old.status.Every == j.Every && slices.Equal(old.status.Args, j.Args) && old.status.Log == j.Log {
			return // the same job: keep its schedule
		}
		j.LastRun = old.status.LastRun
		old.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	next := time.Now().Add(time.Duration(j.Every))
	if !j.LastRun.IsZero() {
		next = j.LastRun.Add(time.Duration(j.Every))
	}
	r := &jobRun{status: JobStatus{Job: j, NextRun: next}, cancel: cancel}
	a.jobs.entries[j.Name] = r
	go a.schedule(ctx, r)
}

func (a *Agent) removeJob(name string) {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	if r := a.jobs.entries[name]; r != nil {
		r.cancel()
		delete(a.jobs.entries, name)
	}
}

func (a *Agent) stopJobs() {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	for _, r := range a.jobs.entries {
		r.cancel()
	}
}

func (a *Agent) jobList() []Job {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	var out []Job
	for _, r := range a.jobs.entries {
		out = append(out, r.status.Job)
	}
	return out
}

// schedule runs the job every interval until ctx ends.
func (a *Agent) schedule(ctx context.Context, r *jobRun) {
	for {
		a.jobs.mu.Lock()
		wait := time.Until(r.status.NextRun)
		a.jobs.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		a.jobs.mu.Lock()
		r.status.Running = true
		job := r.status.Job
		a.jobs.mu.Unlock()
		err := a.runJob(ctx, job)
		a.jobs.mu.Lock()
		r.status.Running, r.status.LastRun = false, time.Now()
		r.status.NextRun = time.Now().Add(time.Duration(job.Every))
		r.status.LastErr = ""
		if err != nil {
			r.status.LastErr = err.Error()
			r.status.Failures++
			a.log.Error("job failed", "job", job.Name, "error", err)
		}
		a.jobs.mu.Unlock()
		a.save() // the run time outlives this agent
	}
}

func (a *Agent) runJob(ctx context.Context, j Job) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(j.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- %s: trio %v\n", time.Now().Format(time.RFC3339), j.Args)
	cmd := exec.CommandContext(ctx, self, j.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("trio %v: %w; see %s", j.Args, err, j.Log)
	}
	return nil
}

// jobRoutes: PUT /v1/jobs/{name} (Job), DELETE /v1/jobs/{name}, GET /v1/jobs.
func (a *Agent) jobRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		a.jobs.mu.Lock()
		out := []JobStatus{}
		for _, e := range a.jobs.entries {
			out = append(out, e.status)
		}
		a.jobs.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("PUT /v1/jobs/{name}", func(w http.ResponseWriter, r *http.Request) {
		var j Job
		if err := json.NewDecoder(r.Body).Decode(&j); err != nil || j.Name != r.PathValue("name") || j.Every <= 0 {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("bad job: a name matching the path and a positive interval are needed (%v)", err))
			return
		}
		a.setJob(j)
		a.save()
		writeJSON(w, http.StatusOK, j)
	})
	mux.HandleFunc("DELETE /v1/jobs/{name}", func(w http.ResponseWriter, r *http.Request) {
		a.removeJob(r.PathValue("name"))
		a.save()
		writeJSON(w, http.StatusOK, map[string]bool{"removed": true})
	})
}

// SetJob schedules a job, replacing one of the same name.
func (c *Client) SetJob(ctx context.Context, j Job) error {
	return c.call(ctx, http.MethodPut, "/v1/jobs/"+j.Name, j, nil)
}

// RemoveJob ends a scheduled job.
func (c *Client) RemoveJob(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/v1/jobs/"+name, nil, nil)
}

// Jobs lists the scheduled jobs.
func (c *Client) Jobs(ctx context.Context) ([]JobStatus, error) {
	var out []JobStatus
	err := c.call(ctx, http.MethodGet, "/v1/jobs", nil, &out)
	return out, err
}
