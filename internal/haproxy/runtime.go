package haproxy

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client talks to HAProxy's runtime API on its admin socket ("stats socket
// ... level admin"). Each call is one connection and one command.
type Client struct {
	Socket string
	// Timeout bounds a call when the context has no deadline.
	Timeout time.Duration
}

// NewClient returns a client of the admin socket at path.
func NewClient(path string) *Client { return &Client{Socket: path, Timeout: 5 * time.Second} }

// Command sends one command and returns HAProxy's answer as it is.
func (c *Client) Command(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\n;") {
		return "", fmt.Errorf("runtime api: %q: one command per call", cmd)
	}
	if _, ok := ctx.Deadline(); !ok && c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return "", fmt.Errorf("%w (nothing answers on %s)", ErrNotRunning, c.Socket)
		}
		return "", fmt.Errorf("runtime api: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Without "prompt" HAProxy answers one command and closes.
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("runtime api %q: %w", cmd, err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("runtime api %q: %w", cmd, err)
	}
	return string(out), nil
}

// Status is where a server stands in its backend's rotation.
type Status int

// The statuses of a server.
const (
	StatusUp    Status = 1 // in rotation (also while failing checks, before fall)
	StatusDown  Status = 2 // failed its checks: out of rotation
	StatusMaint Status = 3 // put in maintenance by an operator: no traffic, no checks
	StatusDrain Status = 4 // drained: finishes what it has, gets no new clients
)

func (s Status) String() string {
	switch s {
	case StatusUp:
		return "UP"
	case StatusDown:
		return "DOWN"
	case StatusMaint:
		return "MAINT"
	case StatusDrain:
		return "DRAIN"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the status as String does, for -o json.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// parseStatus reads the status column of show stat: "UP", "UP 1/2"
// (failing, not out yet), "DOWN 1/2" (recovering), "MAINT (via b/s)",
// "DRAIN (agent)", "NOLB", "no check".
func parseStatus(s string) Status {
	word, _, _ := strings.Cut(s, " ")
	switch word {
	case "UP", "no":
		return StatusUp
	case "DOWN":
		return StatusDown
	case "MAINT":
		return StatusMaint
	case "DRAIN", "NOLB":
		return StatusDrain
	}
	return 0
}

// Server is one server of a backend, as the runtime API reports it.
type Server struct {
	Backend string `json:"backend"`
	Name    string `json:"name"`
	Status  Status `json:"status"`
	// Detail is HAProxy's own status text, such as "UP 1/2" while a
	// server fails checks but has not reached fall yet.
	Detail string `json:"detail"`
	// Check is the last health check's result: L7OK, L4CON (could not
	// connect), L7STS (wrong status), L4TOUT, ...; "" without checks.
	Check string `json:"check"`
	// Sessions are the connections it serves now; Total since the
	// worker started.
	Sessions int64 `json:"sessions"`
	Total    int64 `json:"total"`
	Weight   int64 `json:"weight"`
}

// stat is one row of show stat, by column name.
type stat map[string]string

func (r stat) int(col string) int64 {
	n, _ := strconv.ParseInt(r[col], 10, 64)
	return n
}

// The type column of show stat.
const (
	statFrontend = "0"
	statBackend  = "1"
	statServer   = "2"
)

// stats runs show stat and returns its rows.
func (c *Client) stats(ctx context.Context) ([]stat, error) {
	out, err := c.Command(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	header, body, ok := strings.Cut(out, "\n")
	if !ok || !strings.HasPrefix(header, "# ") {
		return nil, fmt.Errorf("runtime api: show stat answered %q", firstLineOf(out))
	}
	cols := strings.Split(strings.TrimSuffix(strings.TrimPrefix(header, "# "), ","), ",")
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("runtime api: read show stat: %w", err)
	}
	rows := make([]stat, 0, len(recs))
	for _, rec := range recs {
		row := stat{}
		for i, col := range cols {
			if i < len(rec) {
				row[col] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ServerStates lists every server of every backend.
func (c *Client) ServerStates(ctx context.Context) ([]Server, error) {
	rows, err := c.stats(ctx)
	if err != nil {
		return nil, err
	}
	var out []Server
	for _, r := range rows {
		if r["type"] != statServer {
			continue
		}
		out = append(out, Server{
			Backend:  r["pxname"],
			Name:     r["svname"],
			Status:   parseStatus(r["status"]),
			Detail:   r["status"],
			Check:    strings.TrimPrefix(r["check_status"], "* "),
			Sessions: r.int("scur"),
			Total:    r.int("stot"),
			Weight:   r.int("weight"),
		})
	}
	return out, nil
}

// AdminState is what an operator asks of a server.
type AdminState string

// The states SetServerState puts a server in.
const (
	Ready AdminState = "ready" // back in rotation (after its checks pass)
	Drain AdminState = "drain" // no new clients; current ones finish
	Maint AdminState = "maint" // no traffic at all, checks stopped
)

// SetServerState drains a server, puts it in maintenance or makes it
// ready again. The state lasts until the next reload or restart, which
// start every server ready.
func (c *Client) SetServerState(ctx context.Context, backend, server string, state AdminState) error {
	switch state {
	case Ready, Drain, Maint:
	default:
		return fmt.Errorf("set server state: %q: use ready, drain or maint", state)
	}
	for _, name := range []string{backend, server} {
		if name == "" || strings.ContainsAny(name, " \t/;\n") {
			return fmt.Errorf("set server state: %q is not a backend or server name", name)
		}
	}
	out, err := c.Command(ctx, fmt.Sprintf("set server %s/%s state %s", backend, server, state))
	if err != nil {
		return fmt.Errorf("set server state: %w", err)
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("set server %s/%s state %s: %w: %s", backend, server, state, ErrRefused, msg)
	}
	return nil
}

// SaveServerState writes every server's state (health, drain,
// maintenance, weight) to path, the config's server-state-file, which the
// workers of the next reload start from. Call it just before the reload
// signal: without it the new workers start every server ready and
// healthy, forgetting a drain. Remove the file before a cold start if
// states should not outlive a stop.
func (c *Client) SaveServerState(ctx context.Context, path string) error {
	out, err := c.Command(ctx, "show servers state")
	if err != nil {
		return fmt.Errorf("save server state: %w", err)
	}
	// The file starts with its format version, "1".
	if !strings.HasPrefix(out, "1\n") {
		return fmt.Errorf("save server state: show servers state answered %q", firstLineOf(out))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(out), 0o600); err != nil {
		return fmt.Errorf("save server state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save server state: %w", err)
	}
	return nil
}

// Counters are what the frontend has seen since its worker started: a
// reload starts them again from zero.
type Counters struct {
	// Requests are the HTTP requests received; Refused those the limits
	// refused, which the next four break down.
	Requests int64 `json:"requests"`
	Refused  int64 `json:"refused"`
	// Denied came from outside limits.allow or inside limits.deny (403).
	Denied int64 `json:"denied"`
	// ConnLimited came over limits.connections, RateLimited over
	// limits.rate (both 429 with Retry-After).
	ConnLimited int64 `json:"conn_limited"`
	RateLimited int64 `json:"rate_limited"`
	// TooLarge announced a body over web.max_body_size (413).
	TooLarge int64 `json:"too_large"`
	// Redirected went to HTTPS (301).
	Redirected int64 `json:"redirected"`
	// Invalid were malformed or too slow to arrive (400, 408).
	Invalid int64 `json:"invalid"`
	// Responses4xx and Responses5xx count every response of the class,
	// refusals included.
	Responses4xx int64 `json:"responses_4xx"`
	Responses5xx int64 `json:"responses_5xx"`
}

// Counters reads the frontend's counters. Each refusal is counted by the
// denied-request counter (dreq) of the backend that does nothing but that
// refusal, so the figures are exact.
func (c *Client) Counters(ctx context.Context) (Counters, error) {
	rows, err := c.stats(ctx)
	if err != nil {
		return Counters{}, err
	}
	var n Counters
	found := false
	for _, r := range rows {
		switch {
		case r["pxname"] == Frontend && r["type"] == statFrontend:
			found = true
			n.Requests = r.int("req_tot")
			n.Refused = r.int("dreq")
			n.Invalid = r.int("ereq")
			n.Responses4xx = r.int("hrsp_4xx")
			n.Responses5xx = r.int("hrsp_5xx")
		case r["type"] != statBackend:
		case r["pxname"] == RefuseList:
			n.Denied = r.int("dreq")
		case r["pxname"] == RefuseConn:
			n.ConnLimited = r.int("dreq")
		case r["pxname"] == RefuseRate:
			n.RateLimited = r.int("dreq")
		case r["pxname"] == RefuseSize:
			n.TooLarge = r.int("dreq")
		case r["pxname"] == ToHTTPS:
			n.Redirected = r.int("hrsp_3xx")
		}
	}
	if !found {
		return Counters{}, fmt.Errorf("runtime api: no frontend %q; is this config rendered by trio?", Frontend)
	}
	return n, nil
}

// Info is what show info says about the running worker.
type Info struct {
	Version string        `json:"version"`
	PID     int           `json:"pid"` // the worker answering, not the master
	Uptime  time.Duration `json:"uptime"`
	// Conns are the client connections open now, MaxConn the limit.
	Conns   int64 `json:"conns"`
	MaxConn int64 `json:"maxconn"`
	// Requests since the worker started.
	Requests int64 `json:"requests"`
	// Stopping is true in a worker that a reload has replaced.
	Stopping bool `json:"stopping"`
	// Fields holds every line of show info by name.
	Fields map[string]string `json:"-"`
}

// Info runs show info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	out, err := c.Command(ctx, "show info")
	if err != nil {
		return Info{}, err
	}
	f := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if f["Version"] == "" {
		return Info{}, fmt.Errorf("runtime api: show info answered %q", firstLineOf(out))
	}
	num := func(k string) int64 { n, _ := strconv.ParseInt(f[k], 10, 64); return n }
	return Info{
		Version:  f["Version"],
		PID:      int(num("Pid")),
		Uptime:   time.Duration(num("Uptime_sec")) * time.Second,
		Conns:    num("CurrConns"),
		MaxConn:  num("Maxconn"),
		Requests: num("CumReq"),
		Stopping: f["Stopping"] == "1",
		Fields:   f,
	}, nil
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
