package host

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/haproxy"
	"github.com/trio-stack/trio/internal/plan"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

// URL is where the stack answers: HTTPS when TLS is on.
func URL(st *stack.Stack) string {
	scheme, addr := "http", st.Web.Listen.AddrPort
	if st.TLS != nil {
		scheme, addr = "https", st.TLS.Listen.AddrPort
	}
	host := addr.Addr().String()
	if addr.Addr().IsUnspecified() {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("%s://%s/", scheme, net.JoinHostPort(host, fmt.Sprint(addr.Port())))
}

// probeClient asks the stack itself: no redirects followed, and any
// certificate accepted, since a development one is self-signed.
var probeClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

// Probe asks the app's health path once.
func Probe(ctx context.Context, st *stack.Stack) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(URL(st), "/")+st.App.Health, nil)
	if err != nil {
		return 0, "", err
	}
	if st.Web.ServerName != "_" {
		req.Host = strings.Fields(st.Web.ServerName)[0]
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// Status reports the agent, each instance and the app's health.
func (h *Host) Status(ctx context.Context, st *stack.Stack) (*target.Status, error) {
	out := &target.Status{Stack: st.Name, Target: Name, URL: URL(st), Agent: "not running"}
	ast, live, err := h.observeAgent(ctx)
	if err != nil {
		return nil, err
	}
	if live {
		out.Agent = fmt.Sprintf("running (pid %d, since %s)", ast.PID, ast.Since.Format(time.DateTime))
	}
	byName := map[string]agent.ServiceStatus{}
	for _, s := range ast.Services {
		byName[s.Name] = s
	}
	for _, inst := range st.Instances() {
		s, ok := byName[inst.String()]
		is := target.InstanceStatus{Name: inst.String(), Tier: inst.Tier.String(), State: "stopped", Address: h.address(st, inst)}
		if ok {
			is.State, is.Healthy, is.PID, is.Since, is.Restarts, is.LastExit = s.State, s.Healthy, s.PID, s.Since, s.Restarts, s.LastExit
			if s.State == agent.StateCrashLoop.String() {
				is.Detail = s.LogTail
			}
		}
		out.Instances = append(out.Instances, is)
	}
	if st.LBEnabled() && len(ast.Services) > 0 {
		h.edgeStatus(ctx, out)
	}
	if len(ast.Services) > 0 {
		code, body, perr := Probe(ctx, st)
		switch {
		case perr != nil:
			out.Health = perr.Error()
		default:
			out.Healthy = code == http.StatusOK
			out.Health = fmt.Sprintf("%d %s", code, body)
		}
	}
	return out, nil
}

// edgeStatus adds HAProxy's view: each web instance's health as its checks
// see it, and the requests the limits refused.
func (h *Host) edgeStatus(ctx context.Context, out *target.Status) {
	c := haproxy.NewClient(h.env.LBSocket(0))
	servers, err := c.ServerStates(ctx)
	if err != nil {
		return // HAProxy is down; its own row says so
	}
	view := map[string]string{}
	for _, s := range servers {
		if s.Backend == haproxy.Backend {
			v := s.Status.String()
			if s.Check != "" && s.Status.String() != "UP" {
				v += " (" + s.Check + ")"
			}
			view[s.Name] = "lb:" + v
		}
	}
	for i := range out.Instances {
		out.Instances[i].LB = view[out.Instances[i].Name]
	}
	if t, err := h.agent.DBStatus(ctx); err == nil {
		for _, n := range t.Nodes {
			for i := range out.Instances {
				if out.Instances[i].Name == n.Name {
					out.Instances[i].LB = n.Role.String()
				}
			}
		}
	}
	if n, err := c.Counters(ctx); err == nil {
		out.Edge = map[string]int64{
			"requests": n.Requests, "refused": n.Refused, "rate_limited": n.RateLimited,
			"conn_limited": n.ConnLimited, "denied": n.Denied, "too_large": n.TooLarge,
			"invalid": n.Invalid, "redirected": n.Redirected,
		}
	}
}

func (h *Host) address(st *stack.Stack, inst stack.Instance) string {
	switch inst.Tier {
	case stack.TierLB:
		if st.TLS != nil {
			return st.Web.Listen.String() + " " + st.TLS.Listen.String() + " (tls)"
		}
		return st.Web.Listen.String()
	case stack.TierWeb:
		if st.LBEnabled() {
			return "unix:" + h.env.WebSocket(inst.Index)
		}
		return st.Web.Listen.String()
	case stack.TierApp:
		return "unix:" + h.env.AppSocket(inst.Index)
	}
	return fmt.Sprintf("127.0.0.1:%d", st.DBInstancePort(inst.Index))
}

// Down stops every instance through the agent, which then exits. Data
// stays unless volumes; credentials leave tmpfs either way.
func (h *Host) Down(ctx context.Context, st *stack.Stack, volumes bool, report target.Reporter) error {
	status, live, err := h.observeAgent(ctx)
	if err != nil {
		return err
	}
	if status.DBPrimary != "" {
		// Who is primary must outlive the agent's snapshot, which goes now.
		t := h.readTopology()
		if t.Primary != status.DBPrimary {
			t = topology{Primary: status.DBPrimary}
		}
		if err := h.writeTopology(t); err != nil {
			return err
		}
	}
	if !live && h.hasSnapshot() {
		// An agent died and left processes: a new one adopts them, so
		// they can be stopped in order.
		if err := h.startAgent(ctx); err != nil {
			return err
		}
		live = true
	}
	if live {
		step := plan.Step{Action: plan.Stop, Target: "stack", Cause: "trio down"}
		report.Emit(target.Event{Step: &step, Phase: target.PhaseBegin})
		if err := h.agent.Shutdown(ctx, true); err != nil {
			return fmt.Errorf("stop the stack: %w", err)
		}
		report.Emit(target.Event{Step: &step, Phase: target.PhaseDone})
	}
	h.waitAgentGone()
	if err := os.RemoveAll(h.layout.Secrets); err != nil {
		return err
	}
	if volumes {
		step := plan.Step{Action: plan.Stop, Target: "volumes", Cause: "--volumes: deleting " + h.layout.Data}
		report.Emit(target.Event{Step: &step, Phase: target.PhaseBegin})
		if err := os.RemoveAll(h.layout.Data); err != nil {
			return fmt.Errorf("delete data: %w", err)
		}
		report.Emit(target.Event{Step: &step, Phase: target.PhaseDone})
	}
	return nil
}

// waitAgentGone waits until an agent told to exit has removed its socket,
// so that a command right after does not find it half gone.
func (h *Host) waitAgentGone() {
	for i := 0; i < 250; i++ {
		if _, err := os.Stat(filepath.Join(h.layout.Run, agent.SocketName)); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *Host) hasSnapshot() bool {
	_, err := os.Stat(filepath.Join(h.layout.Run, "agent.json"))
	return err == nil
}

// Reload reloads the selected tiers' running instances gracefully. MariaDB
// has no graceful reload, so asking for db is an error that says so.
func (h *Host) Reload(ctx context.Context, st *stack.Stack, tiers []stack.Tier, report target.Reporter) error {
	if len(tiers) == 1 && tiers[0] == stack.TierDB {
		return errors.New("MariaDB cannot reload its config gracefully; `trio apply` restarts db when my.cnf changes")
	}
	for _, inst := range st.Instances() {
		if inst.Tier == stack.TierDB || !target.HasTier(tiers, inst.Tier) {
			continue
		}
		step := plan.Step{Action: plan.Reload, Target: inst.String(), Cause: "asked for"}
		report.Emit(target.Event{Step: &step, Phase: target.PhaseBegin})
		if err := h.agent.Reload(ctx, inst.String()); err != nil {
			if errors.Is(err, agent.ErrNoAgent) {
				return errors.New("the stack is not running; start it with `trio up`")
			}
			return err
		}
		report.Emit(target.Event{Step: &step, Phase: target.PhaseDone})
	}
	return nil
}

// logFiles lists the log files of the selected tiers.
func (h *Host) logFiles(st *stack.Stack, tiers []stack.Tier) []string {
	var out []string
	for _, inst := range st.Instances() {
		if !target.HasTier(tiers, inst.Tier) {
			continue
		}
		out = append(out, filepath.Join(h.layout.Logs, inst.String()+".log"))
		if inst.Tier == stack.TierWeb {
			out = append(out, filepath.Join(h.layout.Logs, inst.String()+".access.log"))
		}
	}
	if len(tiers) == 0 {
		out = append(out, filepath.Join(h.layout.Logs, "agent.log"))
	}
	return out
}

// Logs prints the last lines of each selected log, prefixed with its name,
// and with follow keeps printing what is appended.
func (h *Host) Logs(ctx context.Context, st *stack.Stack, opts target.LogOptions, w io.Writer) error {
	w = &redactingWriter{w: w, secrets: h.secretValues()}
	files := h.logFiles(st, opts.Tiers)
	offsets := make([]int64, len(files))
	for i, f := range files {
		prefix := strings.TrimSuffix(filepath.Base(f), ".log")
		tail := agent.Tail(f, opts.Lines)
		if !strings.HasPrefix(tail, "(no log") {
			for _, l := range strings.Split(tail, "\n") {
				if l = strings.TrimPrefix(l, "  "); l != "" {
					fmt.Fprintf(w, "%s | %s\n", prefix, l)
				}
			}
		}
		if fi, err := os.Stat(f); err == nil {
			offsets[i] = fi.Size()
		}
	}
	if !opts.Follow {
		return nil
	}
	for {
		for i, f := range files {
			offsets[i] = follow(f, offsets[i], strings.TrimSuffix(filepath.Base(f), ".log"), w)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// follow prints the lines appended to f since off and returns the new
// offset; a file that shrank was rotated and is read from the start.
func follow(f string, off int64, prefix string, w io.Writer) int64 {
	fh, err := os.Open(f)
	if err != nil {
		return off
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return off
	}
	if fi.Size() < off {
		off = 0
	}
	if fi.Size() == off {
		return off
	}
	if _, err := fh.Seek(off, io.SeekStart); err != nil {
		return off
	}
	r := bufio.NewReader(fh)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A partial last line waits for its newline.
			return off
		}
		off += int64(len(line))
		fmt.Fprintf(w, "%s | %s", prefix, line)
	}
}

// secretValues reads the credentials in the private directory, so log
// lines that happen to hold one can be masked.
func (h *Host) secretValues() []string {
	var out []string
	entries, _ := os.ReadDir(h.layout.Secrets)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(h.layout.Secrets, e.Name()))
		if err != nil {
			continue
		}
		if !strings.HasSuffix(e.Name(), ".conf") {
			out = append(out, string(b))
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, v, ok := strings.Cut(line, "] = \""); ok {
				v = strings.TrimSuffix(v, "\"")
				v = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\$`, `$`).Replace(v)
				out = append(out, v)
			}
		}
	}
	// Short values would mask ordinary words.
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < 6 })
}

// redactingWriter masks credentials in what it writes.
type redactingWriter struct {
	w       io.Writer
	secrets []string
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	s := string(p)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
