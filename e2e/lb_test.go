package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLB_TwoByTwo: HAProxy in front of two nginx and two PHP-FPM; a
// killed nginx and a killed PHP-FPM, a code deploy, HAProxy reloads and
// scaling down each cost no request.
func TestLB_TwoByTwo(t *testing.T) {
	needTool(t, "haproxy", "haproxy")
	s := newStack(t)
	s.EditYAML(func(y string) string {
		y = strings.Replace(y, "  server_name: guestbook.local\n", "  server_name: guestbook.local\n  replicas: 2\n", 1)
		y = strings.Replace(y, "app:\n", "app:\n  replicas: 2\n", 1)
		return y + "lb: {check_interval: 500ms}\n"
	})
	r := s.MustTrio("up")
	mustMatch(t, "up", `(?s)start app-0.*start app-1.*start web-0.*start web-1.*start lb-0`, r.Stdout)
	st := s.WaitHealthy(30 * time.Second)
	if len(st.Instances) != 6 {
		t.Fatalf("instances: %+v", st.Instances)
	}

	t.Run("status shows HAProxy's view of every web instance", func(t *testing.T) {
		r := s.MustTrio("status")
		mustMatch(t, "status", `web-0 .* lb:UP`, r.Stdout)
		mustMatch(t, "status", `web-1 .* lb:UP`, r.Stdout)
	})

	t.Run("killing one nginx and one PHP-FPM under load fails nothing", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 8)
		time.Sleep(500 * time.Millisecond)
		for _, name := range []string{"web-0", "app-1"} {
			if err := syscall.Kill(s.PID(name), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
		}
		s.WaitHealthy(30 * time.Second)
		l.check(t, "kill web-0 and app-1")
	})

	t.Run("a deploy to two app instances fails nothing", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 8, "Sign our guestbook")
		views := filepath.Join(s.Dir, "src", "views.php")
		b, _ := os.ReadFile(views)
		os.WriteFile(views, []byte(strings.Replace(string(b), "Sign the guestbook", "Sign our guestbook", 1)), 0o644)
		r := s.MustTrio("apply")
		mustMatch(t, "apply", `(?s)deploy app-0: release .*deploy app-1: release`, r.Stdout)
		time.Sleep(300 * time.Millisecond)
		l.check(t, "deploy")
		if l.bodies["Sign our guestbook"] == 0 {
			t.Error("the new release never served")
		}
	})

	t.Run("HAProxy reloads fail nothing", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 8)
		lb := s.PID("lb-0")
		for i := 0; i < 5; i++ {
			s.EditYAML(func(y string) string {
				return strings.Replace(y, fmt.Sprintf("lb: {check_interval: %dms}", 500+i*100), fmt.Sprintf("lb: {check_interval: %dms}", 600+i*100), 1)
			})
			r := s.MustTrio("apply")
			mustMatch(t, "apply", `reload lb-0: haproxy.cfg changed`, r.Stdout)
		}
		l.check(t, "5 HAProxy reloads")
		if s.PID("lb-0") != lb {
			t.Error("HAProxy's master changed; a reload must keep it")
		}
	})

	t.Run("scaling down drains instances and fails nothing", func(t *testing.T) {
		l := startLoad(t, s.URL("/"), 8)
		s.EditYAML(func(y string) string {
			y = strings.Replace(y, "  replicas: 2\n", "  replicas: 1\n", 2)
			return y
		})
		r := s.MustTrio("apply")
		mustMatch(t, "apply", `(?s)reload web-0: site.conf changed.*reload lb-0: haproxy.cfg changed.*stop web-1: no longer in trio.yaml.*stop app-1: no longer in trio.yaml`, r.Stdout)
		l.check(t, "scale down")
		if n := len(s.Status().Instances); n != 4 {
			t.Errorf("%d instances after scaling down, want 4", n)
		}
	})
}

// TestLB_Limits: a client over its rate gets 429 with Retry-After while a
// second client is fully served; a slow-header client is cut off.
func TestLB_Limits(t *testing.T) {
	needTool(t, "haproxy", "haproxy")
	s := newStack(t)
	s.EditYAML(func(y string) string {
		return y + "lb: {}\nlimits: {rate: 20, burst: 10, header_timeout: 2s}\n"
	})
	s.MustTrio("up")

	flood := clientFrom(t, "127.0.0.1")
	polite := clientFrom(t, "127.0.0.2")
	var limited, retryAfter int
	politeOK, politeN := 0, 0
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for i := 0; i < 10; i++ {
			resp, err := flood.Get(s.URL("/static/app.css"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				limited++
				if resp.Header.Get("Retry-After") != "" {
					retryAfter++
				}
			}
		}
		resp, err := polite.Get(s.URL("/static/app.css"))
		politeN++
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				politeOK++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if limited == 0 || retryAfter != limited {
		t.Errorf("flooding client: %d answers 429, %d of them with Retry-After", limited, retryAfter)
	}
	if politeOK != politeN {
		t.Errorf("well-behaved client: %d of %d served", politeOK, politeN)
	}
	r := s.MustTrio("status")
	mustMatch(t, "status", `rate-limited: [1-9][0-9]*`, r.Stdout)

	t.Run("a slow-header client is cut off", func(t *testing.T) {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.WebPort))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Trickle a header byte at a time, never finishing.
		go func() {
			for i := 0; i < 20; i++ {
				if _, err := conn.Write([]byte("X")); err != nil {
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
		}()
		line, _ := bufio.NewReader(conn).ReadString('\n')
		took := time.Since(start)
		if took > 5*time.Second {
			t.Fatalf("slow client held on for %s", took)
		}
		if line != "" && !strings.Contains(line, "408") {
			t.Fatalf("slow client got %q, want 408 or a closed connection", line)
		}
		if code, _, _ := s.Get("/health"); code != 200 {
			t.Errorf("normal client: %d", code)
		}
	})
}

// TestLB_TLS: HTTPS presents the configured certificate; HTTP redirects.
func TestLB_TLS(t *testing.T) {
	needTool(t, "haproxy", "haproxy")
	s := newStack(t)
	certFile, keyFile, cert := writeCert(t, filepath.Dir(s.Dir))
	tlsPort := freePort(t)
	s.EditYAML(func(y string) string {
		return y + fmt.Sprintf("tls: {listen: 127.0.0.1:%d, cert: %s, key: %s, hsts: 1h}\n", tlsPort, certFile, keyFile)
	})
	s.MustTrio("up")
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	got := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !got.Equal(cert) {
		t.Fatalf("HTTPS presents %s, want the configured certificate", got.Subject)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/health", tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=3600") {
		t.Errorf("HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	code, h, _ := s.Get("/health")
	if code/100 != 3 || !strings.HasPrefix(h.Get("Location"), "https://") {
		t.Errorf("HTTP: %d to %q, want a redirect to https", code, h.Get("Location"))
	}
}

// clientFrom makes an HTTP client whose connections come from ip.
func clientFrom(t testing.TB, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// writeCert makes a self-signed certificate and key as PEM files.
func writeCert(t testing.TB, dir string) (string, string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4711),
		Subject:      pkix.Name{CommonName: "e2e.test", Organization: []string{"trio e2e"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"e2e.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile, cert
}
