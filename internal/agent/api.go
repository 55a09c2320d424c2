package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"
)

// The control API: JSON over HTTP on the agent's unix socket.
//
//	GET    /v1/status                   Status
//	PUT    /v1/services/{name}          Spec → start or update, wait until ready
//	POST   /v1/services/{name}/reload   graceful reload, wait until ready
//	POST   /v1/services/{name}/restart
//	POST   /v1/services/{name}/stop
//	DELETE /v1/services/{name}          stop and forget
//	POST   /v1/shutdown?stop=true       stop every instance, then exit
//	POST   /v1/shutdown?stop=false      exit and leave the instances running
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	a.dbRoutes(mux)
	a.jobRoutes(mux)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.status())
	})
	mux.HandleFunc("PUT /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		<-a.restored
		var spec Spec
		if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("bad spec: %v", err))
			return
		}
		if spec.Name != r.PathValue("name") {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("bad spec: it names %q but was sent for %q", spec.Name, r.PathValue("name")))
			return
		}
		a.add(spec)
		a.reply(w, spec.Name, func(s *service) error { return s.ensure(r.Context(), spec) })
	})
	for verb, fn := range map[string]func(*service, context.Context) error{
		"reload":  (*service).reload,
		"restart": (*service).restart,
		"stop":    (*service).stop,
	} {
		mux.HandleFunc("POST /v1/services/{name}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			a.reply(w, r.PathValue("name"), func(s *service) error { return fn(s, r.Context()) })
		})
	}
	mux.HandleFunc("DELETE /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		a.reply(w, name, func(s *service) error {
			if err := s.stop(r.Context()); err != nil {
				return err
			}
			a.remove(name) // under the op lock: no operation can still be queued on it
			return nil
		})
		a.save()
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		stop := r.URL.Query().Get("stop") != "false"
		if stop {
			// Stop before answering, so the caller knows the stack is down.
			a.stopAll(r.Context())
		}
		writeJSON(w, http.StatusOK, map[string]bool{"stopped": stop})
		select {
		case a.stop <- stop:
		default:
		}
	})
	return mux
}

func (a *Agent) reply(w http.ResponseWriter, name string, fn func(*service) error) {
	<-a.restored
	err := a.op(name, fn)
	switch {
	case errors.Is(err, ErrUnknown):
		writeErr(w, http.StatusNotFound, err)
	case err != nil:
		writeErr(w, http.StatusConflict, err)
	default:
		a.save()
		a.mu.Lock()
		s := a.services[name]
		a.mu.Unlock()
		if s == nil {
			writeJSON(w, http.StatusOK, ServiceStatus{Name: name, State: StateStopped.String()})
			return
		}
		writeJSON(w, http.StatusOK, s.status())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, apiError{Error: err.Error()})
}

// Client talks to a stack's agent.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the agent whose run directory is runDir.
func NewClient(runDir string) *Client {
	sock := filepath.Join(runDir, SocketName)
	return &Client{Socket: sock, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
}

// ErrNoAgent means no agent answers on the socket.
var ErrNoAgent = errors.New("no agent is running for this stack")

func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return ErrNoAgent
		}
		return fmt.Errorf("agent: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e apiError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s", ErrUnknown, e.Error)
		}
		return errors.New(e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Status asks for the agent's view of the stack.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Ping reports whether an agent answers, within a short time.
func (c *Client) Ping(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Status(ctx)
}

// Ensure starts the instance or brings it to spec, and waits until ready.
func (c *Client) Ensure(ctx context.Context, spec Spec) (ServiceStatus, error) {
	var st ServiceStatus
	err := c.call(ctx, http.MethodPut, "/v1/services/"+spec.Name, spec, &st)
	return st, err
}

// Reload, Restart and Stop act on one instance.
func (c *Client) Reload(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodPost, "/v1/services/"+name+"/reload", nil, nil)
}

// Restart stops and starts one instance.
func (c *Client) Restart(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodPost, "/v1/services/"+name+"/restart", nil, nil)
}

// Stop stops one instance and keeps it down.
func (c *Client) Stop(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodPost, "/v1/services/"+name+"/stop", nil, nil)
}

// Remove stops one instance and forgets it.
func (c *Client) Remove(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/v1/services/"+name, nil, nil)
}

// Shutdown ends the agent; with stopServices it stops the stack first.
func (c *Client) Shutdown(ctx context.Context, stopServices bool) error {
	return c.call(ctx, http.MethodPost, fmt.Sprintf("/v1/shutdown?stop=%t", stopServices), nil, nil)
}
