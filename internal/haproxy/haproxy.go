// Package haproxy runs and talks to the HAProxy that trio puts in front of
// the web instances: how a supervisor starts and reloads it, the config
// check, and a client of its runtime API (the admin socket).
package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// The proxies of a config rendered by trio, by the names the runtime API
// reports them under.
const (
	// Frontend takes the clients on web.listen and tls.listen.
	Frontend = "public"
	// Backend holds one server per web instance.
	Backend = "web"

	// Each refusal goes to a backend of its own that does nothing but
	// refuse, so that backend's denied-request counter counts exactly that
	// refusal and nothing else.
	RefuseList = "refuse-list" // 403: outside limits.allow or inside limits.deny
	RefuseConn = "refuse-conn" // 429: over limits.connections
	RefuseRate = "refuse-rate" // 429: over limits.rate and limits.burst
	RefuseSize = "refuse-size" // 413: a Content-Length over web.max_body_size
	// ToHTTPS redirects plain HTTP to the TLS listener.
	ToHTTPS = "to-https"
)

// Validate runs HAProxy's own check of the config at cfgPath. When HAProxy
// refuses it, the error carries HAProxy's explanation, one line per
// problem, without the version banner.
func Validate(ctx context.Context, binary, cfgPath string) error {
	cmd := exec.CommandContext(ctx, binary, "-c", "-f", cfgPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("run %s -c: %w", binary, err)
	}
	msg := checkErrors(out.String())
	if msg == "" {
		msg = ee.String()
	}
	return fmt.Errorf("haproxy refused %s:\n%s", cfgPath, msg)
}

// checkPrefix is what HAProxy puts before each message:
// "[ALERT]    (1234) : config : ".
var checkPrefix = regexp.MustCompile(`^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\)\s*:\s*(config\s*:\s*)?`)

// checkErrors keeps the lines of haproxy -c's output that say what is
// wrong; the banner and the closing summaries are dropped.
func checkErrors(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		m := checkPrefix.FindStringSubmatch(l)
		if m == nil || m[1] == "NOTICE" {
			continue
		}
		l = l[len(m[0]):]
		if strings.HasPrefix(l, "Fatal errors found in configuration") ||
			strings.HasPrefix(l, "Error(s) found in configuration file") {
			continue
		}
		keep = append(keep, m[1]+": "+l)
	}
	return strings.Join(keep, "\n")
}
