package haproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
	"github.com/trio-stack/trio/internal/haproxy/haproxytest"
	"github.com/trio-stack/trio/internal/render"
	"github.com/trio-stack/trio/internal/stack"
)

// requireProgram finds a program the tests run, or skips the test; in CI
// (CI=true) a missing program fails it instead.
func requireProgram(t testing.TB, name string) string {
	t.Helper()
	return haproxytest.RequireProgram(t, name)
}

// LB is a real HAProxy started from a config rendered by trio, in front of
// small Go servers standing in for nginx.
type LB struct {
	t       testing.TB
	Dir     string
	Stack   *stack.Stack
	Env     render.Env
	Config  string // path of haproxy.cfg
	URL     string // http://web.listen
	TLSURL  string // https://tls.listen, when tls is set
	Client  *haproxy.Client
	Webs    []*Web
	Master  int
	logPath string
}

// lbOptions shape a test's stack; %[1]d in YAML is web.listen's port and
// %[2]d tls.listen's.
type lbOptions struct {
	YAML string
	// TLSPEM, when set, is written where the config looks for tls.pem.
	TLSPEM []byte
}

// startLB renders the stack, starts the stand-in web instances and
// HAProxy, and waits until HAProxy answers and sees every server UP.
func startLB(t testing.TB, opt lbOptions) *LB {
	t.Helper()
	bin := requireProgram(t, "haproxy")
	dir := t.TempDir()
	// The workers drop to the haproxy user when the tests run as root; it
	// must reach the sockets in the temp dir.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	webPort, tlsPort := haproxytest.FreePort(t), haproxytest.FreePort(t)
	yaml := fmt.Sprintf(opt.YAML, webPort, tlsPort)
	yaml += "db: {database: t, user: t, password: x}\n"
	write(t, filepath.Join(dir, "trio.yaml"), []byte(yaml), 0o644)
	write(t, filepath.Join(dir, "index.php"), []byte("<?php\n"), 0o644)
	write(t, filepath.Join(dir, "public", "app.css"), nil, 0o644)
	st, err := stack.Parse(filepath.Join(dir, "trio.yaml"), []byte(yaml))
	if err != nil {
		t.Fatalf("trio.yaml:\n%s\n%v", yaml, err)
	}
	env := render.Env{
		Run:     filepath.Join(dir, "run"),
		Logs:    filepath.Join(dir, "logs"),
		Tmp:     filepath.Join(dir, "tmp"),
		Secrets: filepath.Join(dir, "secrets"),
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("haproxy"); err == nil {
			env.LBUser = "haproxy"
		}
	}
	for _, d := range []string{env.Run, env.Logs, env.Secrets} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if opt.TLSPEM != nil {
		write(t, env.SecretFile(render.TLSFile), opt.TLSPEM, 0o600)
	}
	inst := stack.Instance{Tier: stack.TierLB}
	files, err := render.HAProxy(st, env, inst)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	write(t, cfg, files["haproxy.cfg"], 0o644)
	lb := &LB{
		t: t, Dir: dir, Stack: st, Env: env, Config: cfg,
		URL:     "http://" + st.Web.Listen.String(),
		logPath: filepath.Join(env.Logs, "lb-0.log"),
	}
	if st.TLS != nil {
		lb.TLSURL = "https://" + st.TLS.Listen.String()
	}
	for i := 0; i < st.Replicas(stack.TierWeb); i++ {
		lb.Webs = append(lb.Webs, startWeb(t, fmt.Sprintf("web-%d", i), env.WebSocket(i)))
	}
	if err := haproxy.Validate(context.Background(), bin, cfg); err != nil {
		t.Fatalf("%v\nconfig:\n%s", err, files["haproxy.cfg"])
	}
	lb.start(bin)
	lb.waitServers(haproxy.StatusUp, 5*time.Second)
	return lb
}

func (lb *LB) start(bin string) {
	lb.t.Helper()
	m := haproxytest.Start(lb.t, bin, lb.Config, lb.Env.LBSocket(0), lb.logPath)
	lb.Master, lb.Client = m.PID, m.Client
}

// waitServers waits until every server of the web backend has status.
func (lb *LB) waitServers(status haproxy.Status, within time.Duration) {
	lb.t.Helper()
	deadline := time.Now().Add(within)
	for {
		servers, err := lb.Client.ServerStates(context.Background())
		ok := err == nil && len(servers) > 0
		for _, s := range servers {
			if s.Status != status {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			lb.t.Fatalf("servers not all %s after %s: %+v (%v)", status, within, servers, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// server returns one server's state.
func (lb *LB) server(name string) haproxy.Server {
	lb.t.Helper()
	servers, err := lb.Client.ServerStates(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	for _, s := range servers {
		if s.Name == name {
			return s
		}
	}
	lb.t.Fatalf("no server %s in %+v", name, servers)
	return haproxy.Server{}
}

// counters reads the frontend's counters.
func (lb *LB) counters() haproxy.Counters {
	lb.t.Helper()
	n, err := lb.Client.Counters(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	return n
}

// workers lists the master's children.
func workers(t testing.TB, master int) map[int]bool {
	t.Helper()
	out := map[int]bool{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(master) {
			out[pid] = true
		}
	}
	return out
}

// reload does what a supervisor does: it waits until the master can take
// the reload signal, sends it and waits for a new worker to appear.
func (lb *LB) reload() {
	lb.t.Helper()
	lb.waitReloadable()
	before := workers(lb.t, lb.Master)
	p := haproxy.MasterWorker("", "")
	if err := syscall.Kill(lb.Master, p.ReloadSignal); err != nil {
		lb.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for pid := range workers(lb.t, lb.Master) {
			if !before[pid] {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	lb.t.Fatal("no new worker within 5s of the reload signal")
}

// waitReloadable waits until the master takes reload signals.
func (lb *LB) waitReloadable() {
	lb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := haproxy.WaitReloadable(ctx, lb.Master); err != nil {
		lb.t.Fatal(err)
	}
}

// Web stands in for one nginx instance: HTTP on a unix socket, answering
// /.trio/health with 200 and everything else with its name.
type Web struct {
	Name string
	srv  *http.Server
	mu   sync.Mutex
	hits int
}

func startWeb(t testing.TB, name, socket string) *Web {
	t.Helper()
	os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	// Like a killed nginx, a stopped Web leaves its socket file behind:
	// connections are refused rather than not found.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	w := &Web{Name: name}
	w.srv = &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.trio/health" {
			return
		}
		io.Copy(io.Discard, r.Body)
		// What HAProxy passed on, for the tests to see.
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP"} {
			rw.Header().Set("Seen-"+h, strings.Join(r.Header.Values(h), ", "))
		}
		w.mu.Lock()
		w.hits++
		w.mu.Unlock()
		io.WriteString(rw, name+"\n")
	})}
	go w.srv.Serve(l)
	t.Cleanup(func() { w.srv.Close() })
	return w
}

// Kill stops the instance at once, dropping its connections.
func (w *Web) Kill() { w.srv.Close() }

// Hits counts the requests it served, health checks aside.
func (w *Web) Hits() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits
}

// clientFrom is an HTTP client whose connections come from the loopback
// address src, so HAProxy sees another client address.
func clientFrom(src string, keepAlive bool) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:       d.DialContext,
			DisableKeepAlives: !keepAlive,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get fetches url and returns the status and body.
func get(t testing.TB, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func write(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rawRequest opens a TCP connection and returns it with a reader.
func rawConn(t testing.TB, addr, src string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// readStatus reads one response's status code from r, or returns the
// error that ended the connection.
func readStatus(r *bufio.Reader) (int, error) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

type certPair struct {
	cert *x509.Certificate
	pem  []byte // certificate then key, as HAProxy's crt wants
}

// selfSigned makes a certificate for 127.0.0.1 and its key.
func selfSigned(t testing.TB) certPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "trio test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
	return certPair{cert: cert, pem: out}
}

// getWith fetches url with extra request headers.
func getWith(t testing.TB, c *http.Client, url string, hdr map[string]string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
