package haproxy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/haproxy"
)

const twoWebs = `name: t
web: {listen: "127.0.0.1:%[1]d", replicas: 2}
lb: {check_interval: 200ms}
`

func TestValidate_ReportsHAProxysMessage(t *testing.T) {
	bin := requireProgram(t, "haproxy")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cfg")
	write(t, bad, []byte("global\n    no-such-keyword 1\ndefaults\n    mode http\n"), 0o644)
	err := haproxy.Validate(context.Background(), bin, bad)
	if err == nil {
		t.Fatal("a config with an unknown keyword passed")
	}
	msg := err.Error()
	t.Logf("Validate: %s", msg)
	if !strings.Contains(msg, "bad.cfg:2") || !strings.Contains(msg, "no-such-keyword") {
		t.Errorf("the error does not say where and what: %s", msg)
	}
	if strings.Contains(msg, "version is") || strings.Contains(msg, "Fatal errors found") {
		t.Errorf("the error keeps HAProxy's banner or summary: %s", msg)
	}
	good := filepath.Join(dir, "good.cfg")
	write(t, good, []byte("defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nfrontend f\n    bind 127.0.0.1:8080\n"), 0o644)
	if err := haproxy.Validate(context.Background(), bin, good); err != nil {
		t.Errorf("a good config was refused: %v", err)
	}
}

// TestRender_NoWarnings checks that HAProxy has nothing to say about the
// configs trio renders, limits and TLS included (-dW makes a warning fatal).
func TestRender_NoWarnings(t *testing.T) {
	for name, opt := range map[string]lbOptions{
		"plain": {YAML: twoWebs},
		"limits": {YAML: twoWebs + `tls: {listen: "127.0.0.1:%[2]d", self_signed: true, hsts: 30d}
limits: {rate: 5, connections: 4, allow: [127.0.0.0/8], deny: [127.0.0.9]}
`, TLSPEM: selfSigned(t).pem},
		"cdn": {YAML: `name: t
web: {listen: "127.0.0.1:%[1]d", cdn: {origin_host: o.example, client_ip_header: X-Real-IP, trusted: [127.0.0.2/32]}}
tls: {listen: "127.0.0.1:%[2]d", self_signed: true}
limits: {rate: 5, connections: 4, deny: [127.0.0.9]}
`, TLSPEM: selfSigned(t).pem},
	} {
		t.Run(name, func(t *testing.T) {
			lb := startLB(t, opt)
			// A cold start without a saved state warns that there is none.
			if err := lb.Client.SaveServerState(context.Background(), lb.Env.LBStateFile(0)); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(requireProgram(t, "haproxy"), "-c", "-dW", "-f", lb.Config).CombinedOutput()
			if err != nil || strings.Contains(string(out), "WARNING") {
				cfg, _ := os.ReadFile(lb.Config)
				t.Errorf("haproxy -c -dW: %v\n%s\nconfig:\n%s", err, out, cfg)
			}
		})
	}
}
