package haproxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
)

func TestLB_RoundRobin(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	c := clientFrom("", true)
	seen := map[string]int{}
	for range 10 {
		code, body, _ := get(t, c, lb.URL+"/")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		seen[strings.TrimSpace(body)]++
	}
	if seen["web-0"] != 5 || seen["web-1"] != 5 {
		t.Errorf("10 requests were spread %v; round robin gives each 5", seen)
	}
	info, err := lb.Client.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.Version, "2.") || info.PID == 0 || info.PID == lb.Master {
		t.Errorf("show info: version %q, pid %d (master %d); want a worker's pid", info.Version, info.PID, lb.Master)
	}
}

// TestLB_KilledWebCostsNoRequest kills one web instance under a steady
// stream of GETs: HAProxy retries on the other, so no client sees an
// error, and the checks take the dead one out within about two intervals.
func TestLB_KilledWebCostsNoRequest(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	inter := lb.Stack.LB.CheckInterval.Duration
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom("", true)
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(lb.URL + "/")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	lb.Webs[1].Kill()
	var down time.Duration
	for {
		if s := lb.server("web-1"); s.Status == haproxy.StatusDown {
			down = time.Since(killed)
			t.Logf("web-1 DOWN after %s (check interval %s), last check %s", down.Round(time.Millisecond), inter, s.Check)
			break
		}
		if time.Since(killed) > 10*inter {
			t.Fatalf("web-1 still %+v %s after it was killed", lb.server("web-1"), time.Since(killed))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d GETs succeeded, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d GETs failed while a web instance died (first: %v)", failed.Load(), firstErr.Load())
	}
	if log, _ := os.ReadFile(lb.logPath); t.Failed() || testing.Verbose() {
		t.Logf("haproxy's log:\n%s", tail(string(log), 12))
	}
	if down > 3*inter+100*time.Millisecond {
		t.Errorf("web-1 left rotation after %s; fall 2 at %s should take about two intervals", down, inter)
	}
	if web0 := lb.server("web-0"); web0.Status != haproxy.StatusUp {
		t.Errorf("web-0 is %s", web0.Status)
	}
}

const limited = `name: t
web: {listen: "127.0.0.1:%[1]d", max_body_size: 1k}
lb: {}
limits:
  rate: 5
  burst: 5
  connections: 2
  header_timeout: 1s
  body_timeout: 1s
  allow: [127.0.0.0/30, 127.0.0.9]
  deny: [127.0.0.2]
`

// TestLB_RateLimit: a client over its rate gets 429 with Retry-After while
// another client address is served throughout, and the counters show
// exactly the refusals the client got.
func TestLB_RateLimit(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: limited})
	greedy, polite := clientFrom("127.0.0.1", false), clientFrom("127.0.0.3", false)
	var refused int64
	for i := range 30 {
		code, _, h := get(t, greedy, lb.URL+"/")
		switch code {
		case 200:
		case 429:
			refused++
			if h.Get("Retry-After") != "1" {
				t.Errorf("429 without Retry-After: 1 (got %q)", h.Get("Retry-After"))
			}
		default:
			t.Errorf("request %d: status %d", i, code)
		}
		if i%5 == 0 {
			if code, _, _ := get(t, polite, lb.URL+"/"); code != 200 {
				t.Errorf("the other client got %d while the first was limited", code)
			}
		}
	}
	// rate 5 + burst 5 allows 10 in a 2s window; 30 at once cannot all pass.
	if refused < 15 {
		t.Errorf("only %d of 30 requests at once were refused with rate 5, burst 5", refused)
	}
	n := lb.counters()
	t.Logf("counters: %+v", n)
	if n.RateLimited != refused {
		t.Errorf("counters show %d rate-limited requests, the client got %d", n.RateLimited, refused)
	}
	if n.Refused != refused || n.Denied+n.ConnLimited+n.TooLarge != 0 {
		t.Errorf("refusals other than the rate limit counted: %+v", n)
	}
	if n.Requests != 36 {
		t.Errorf("counters show %d requests, 36 were sent", n.Requests)
	}
}

// TestLB_ConnectionLimit: a client may hold limits.connections open; the
// next one gets 429 until one closes.
func TestLB_ConnectionLimit(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: limited})
	addr := lb.Stack.Web.Listen.String()
	req := "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
	var open []net.Conn
	for range 2 {
		c, r := rawConn(t, addr, "127.0.0.1")
		io.WriteString(c, req)
		if code, err := readStatus(r); code != 200 {
			t.Fatalf("connection within the limit: %d %v", code, err)
		}
		open = append(open, c)
	}
	c, r := rawConn(t, addr, "127.0.0.1")
	io.WriteString(c, req)
	if code, err := readStatus(r); code != 429 {
		t.Errorf("a third connection got %d %v, want 429", code, err)
	}
	if code, _, _ := get(t, clientFrom("127.0.0.3", false), lb.URL+"/"); code != 200 {
		t.Errorf("another address got %d", code)
	}
	open[0].Close()
	time.Sleep(50 * time.Millisecond)
	if code, _, _ := get(t, clientFrom("127.0.0.1", false), lb.URL+"/"); code != 200 {
		t.Errorf("after closing one, a new connection got %d", code)
	}
	if n := lb.counters(); n.ConnLimited != 1 {
		t.Errorf("counters show %d connection-limited requests, want 1: %+v", n.ConnLimited, n)
	}
}

// TestLB_SlowClients: headers slower than limits.header_timeout and a body
// slower than limits.body_timeout are cut off with 408, while a normal
// client is served meanwhile.
func TestLB_SlowClients(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: limited})
	addr := lb.Stack.Web.Listen.String()
	type result struct {
		after time.Duration
		code  int
		err   error
	}
	slow := func(first string, drip string) <-chan result {
		ch := make(chan result, 1)
		c, r := rawConn(t, addr, "127.0.0.1")
		start := time.Now()
		io.WriteString(c, first)
		go func() {
			for range 20 {
				time.Sleep(200 * time.Millisecond)
				if _, err := io.WriteString(c, drip); err != nil {
					break
				}
			}
		}()
		go func() {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			code, err := readStatus(r)
			ch <- result{time.Since(start), code, err}
		}()
		return ch
	}
	headers := slow("GET / HTTP/1.1\r\nHost: t\r\n", "X-Slow: 1\r\n")
	body := slow("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n", "0123456789")
	for range 3 {
		if code, _, _ := get(t, clientFrom("127.0.0.3", false), lb.URL+"/"); code != 200 {
			t.Errorf("a normal client got %d beside the slow ones", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for name, ch := range map[string]<-chan result{"headers": headers, "body": body} {
		r := <-ch
		t.Logf("slow %s: %d %v after %s", name, r.code, r.err, r.after.Round(time.Millisecond))
		if r.code != 408 && !errors.Is(r.err, io.EOF) && !errors.Is(r.err, io.ErrUnexpectedEOF) {
			t.Errorf("slow %s: got %d %v, want 408 or a closed connection", name, r.code, r.err)
		}
		if r.after < 900*time.Millisecond || r.after > 2500*time.Millisecond {
			t.Errorf("slow %s cut off after %s; the timeout is 1s", name, r.after)
		}
	}
	if n := lb.counters(); n.Invalid != 2 {
		t.Errorf("counters show %d invalid requests, want the 2 slow ones: %+v", n.Invalid, n)
	}
}

// TestLB_Lists: limits.allow and limits.deny refuse with 403, and a body
// announced over web.max_body_size gets 413; each counted on its own.
func TestLB_Lists(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: limited})
	for src, want := range map[string]int{"127.0.0.1": 200, "127.0.0.3": 200, "127.0.0.9": 200, "127.0.0.2": 403, "127.0.0.5": 403} {
		if code, _, _ := get(t, clientFrom(src, false), lb.URL+"/"); code != want {
			t.Errorf("from %s: %d, want %d", src, code, want)
		}
	}
	resp, err := clientFrom("127.0.0.3", false).Post(lb.URL+"/", "text/plain", strings.NewReader(strings.Repeat("x", 2048)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("a 2k body over max_body_size 1k: %d, want 413", resp.StatusCode)
	}
	resp, err = clientFrom("127.0.0.3", false).Post(lb.URL+"/", "text/plain", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a small body: %d", resp.StatusCode)
	}
	n := lb.counters()
	if n.Denied != 2 || n.TooLarge != 1 || n.Refused != 3 || n.Responses4xx != 3 {
		t.Errorf("counters %+v; want 2 denied, 1 too large, 3 refused, 3 4xx", n)
	}
}

// TestLB_TLS: the HTTPS listener presents the configured certificate,
// with HSTS, and plain HTTP redirects to it, path and query kept.
func TestLB_TLS(t *testing.T) {
	cert := selfSigned(t)
	lb := startLB(t, lbOptions{YAML: twoWebs + `tls: {listen: "127.0.0.1:%[2]d", self_signed: true, hsts: 1d}
`, TLSPEM: cert.pem})
	pool := x509.NewCertPool()
	pool.AddCert(cert.cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := c.Get(lb.TLSURL + "/")
	if err != nil {
		t.Fatalf("HTTPS with the generated certificate as the only root: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HTTPS: %d", resp.StatusCode)
	}
	if got := resp.TLS.PeerCertificates[0]; !got.Equal(cert.cert) {
		t.Errorf("HAProxy presented %s, not the generated certificate", got.Subject)
	}
	if h := resp.Header.Get("Seen-X-Forwarded-Proto"); h != "https" {
		t.Errorf("nginx would see X-Forwarded-Proto %q over HTTPS", h)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); h != "max-age=86400" {
		t.Errorf("Strict-Transport-Security: %q", h)
	}
	t.Logf("HTTPS: %s, %s", resp.Proto, tls.VersionName(resp.TLS.Version))
	code, _, h := get(t, clientFrom("", false), lb.URL+"/a/b?c=d")
	want := fmt.Sprintf("https://127.0.0.1:%d/a/b?c=d", lb.Stack.TLS.Listen.Port())
	if code != 301 || h.Get("Location") != want {
		t.Errorf("plain HTTP: %d to %q, want 301 to %q", code, h.Get("Location"), want)
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}
	if n := lb.counters(); n.Redirected != 1 {
		t.Errorf("counters show %d redirects, want 1", n.Redirected)
	}
}

// TestLB_ForwardedHeaders: nginx learns the client's address from the last
// X-Forwarded-For, which HAProxy adds; what a client sends is dropped.
func TestLB_ForwardedHeaders(t *testing.T) {
	lb := startLB(t, lbOptions{YAML: twoWebs})
	code, h := getWith(t, clientFrom("127.0.0.3", false), lb.URL+"/", map[string]string{
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
	})
	if code != 200 || h.Get("Seen-X-Forwarded-For") != "127.0.0.3" || h.Get("Seen-X-Forwarded-Proto") != "http" {
		t.Errorf("%d; nginx would see X-Forwarded-For %q and X-Forwarded-Proto %q, want 127.0.0.3 and http",
			code, h.Get("Seen-X-Forwarded-For"), h.Get("Seen-X-Forwarded-Proto"))
	}
}

// TestLB_CDN: behind a CDN the limits apply to the client address in its
// header, which is believed only from the CDN's networks and dropped from
// anywhere else; HTTPS ended at the CDN is not redirected again.
func TestLB_CDN(t *testing.T) {
	cert := selfSigned(t)
	lb := startLB(t, lbOptions{YAML: `name: t
web: {listen: "127.0.0.1:%[1]d", cdn: {origin_host: o.example, client_ip_header: X-Real-IP, trusted: [127.0.0.2/32]}}
tls: {listen: "127.0.0.1:%[2]d", self_signed: true}
limits: {rate: 2, burst: 2, deny: [198.51.100.7]}
`, TLSPEM: cert.pem})
	cdn, direct := clientFrom("127.0.0.2", true), clientFrom("127.0.0.3", false)
	pool := x509.NewCertPool()
	pool.AddCert(cert.cert)
	direct.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	// A CDN that ends TLS itself comes in over plain HTTP and says so.
	https := map[string]string{"X-Forwarded-Proto": "https"}
	if code, h := getWith(t, direct, lb.URL+"/", https); code != 301 || h.Get("Location") == "" {
		t.Errorf("plain HTTP claiming to be HTTPS from outside the CDN: %d, want a redirect", code)
	}
	if code, _ := getWith(t, cdn, lb.URL+"/", nil); code != 301 {
		t.Errorf("plain HTTP from the CDN: %d, want a redirect", code)
	}
	if code, h := getWith(t, cdn, lb.URL+"/", https); code != 200 || h.Get("Seen-X-Forwarded-Proto") != "https" {
		t.Errorf("HTTPS ended at the CDN: %d (X-Forwarded-Proto %q), want it served", code, h.Get("Seen-X-Forwarded-Proto"))
	}
	if code, _ := getWith(t, cdn, lb.URL+"/", map[string]string{"X-Real-IP": "198.51.100.7", "X-Forwarded-Proto": "https"}); code != 403 {
		t.Errorf("a denied client through the CDN: %d, want 403", code)
	}
	code, h := getWith(t, direct, lb.TLSURL+"/", map[string]string{"X-Real-IP": "198.51.100.7"})
	if code != 200 || h.Get("Seen-X-Real-IP") != "" {
		t.Errorf("X-Real-IP from outside the CDN: %d, passed on as %q; want 200 and dropped", code, h.Get("Seen-X-Real-IP"))
	}
	limited := 0
	for range 10 {
		if code, _ := getWith(t, cdn, lb.URL+"/", map[string]string{"X-Real-IP": "10.0.0.1", "X-Forwarded-Proto": "https"}); code == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Error("a client over its rate through the CDN was never limited")
	}
	for range 3 {
		if code, h := getWith(t, cdn, lb.URL+"/", map[string]string{"X-Real-IP": "10.0.0.2", "X-Forwarded-Proto": "https"}); code != 200 || h.Get("Seen-X-Real-IP") != "10.0.0.2" {
			t.Errorf("another client through the same CDN address: %d, X-Real-IP %q", code, h.Get("Seen-X-Real-IP"))
		}
	}
}
