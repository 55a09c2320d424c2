package host

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/haproxy"
	"github.com/trio-stack/trio/internal/render"
	"github.com/trio-stack/trio/internal/stack"
)

// Programs are the binaries Debian's packages install.
type Programs struct {
	Nginx   string
	PHPFPM  string
	MariaDB string
	Install string // mariadb-install-db
	Upgrade string // mariadb-upgrade
	HAProxy string
}

// DebianPrograms names the binaries for the versions trio.yaml pins.
func DebianPrograms(v stack.Versions) Programs {
	return Programs{
		Nginx:   "/usr/sbin/nginx",
		PHPFPM:  "/usr/sbin/php-fpm" + v.PHP,
		MariaDB: "/usr/sbin/mariadbd",
		Install: "/usr/bin/mariadb-install-db",
		Upgrade: "/usr/bin/mariadb-upgrade",
		HAProxy: "/usr/sbin/haproxy",
	}
}

// spec says how the agent runs an instance whose config lives in confDir
// (the instance's stable symlink, so a reload reads the new target).
func (h *Host) spec(st *stack.Stack, inst stack.Instance) agent.Spec {
	env := h.env
	confDir := filepath.Join(h.layout.Conf, inst.String())
	s := agent.Spec{
		Name: inst.String(),
		Tier: inst.Tier.String(),
		Log:  filepath.Join(h.layout.Logs, inst.String()+".log"),
	}
	switch inst.Tier {
	case stack.TierLB:
		p := haproxy.MasterWorker(h.programs.HAProxy, filepath.Join(confDir, "haproxy.cfg"))
		s.Path, s.Args = p.Path, p.Args
		// The admin socket answers once a worker runs with its listeners;
		// probing the public port would count as a bad request there.
		s.Ready = agent.Check{Network: "unix", Address: env.LBSocket(inst.Index)}
		// SIGUSR2 makes the master start new workers with the new config and
		// lets the old ones finish; SIGUSR1 is the graceful stop.
		s.ReloadSignal, s.StopSignal = "USR2", "USR1"
		s.StopTimeout = agent.Duration(30 * time.Second)
	case stack.TierWeb:
		s.Path = h.programs.Nginx
		s.Args = []string{"-e", "stderr", "-p", filepath.Join(h.layout.Tmp, inst.String()), "-c", filepath.Join(confDir, "nginx.conf")}
		s.Ready = agent.Check{Network: "tcp", Address: st.Web.Listen.String()}
		if st.LBEnabled() {
			s.Ready = agent.Check{Network: "unix", Address: env.WebSocket(inst.Index)}
			s.Sockets = []string{env.WebSocket(inst.Index)}
		}
		s.ReloadSignal, s.StopSignal = "HUP", "QUIT"
		s.StopTimeout = agent.Duration(20 * time.Second)
	case stack.TierApp:
		s.Path = h.programs.PHPFPM
		s.Args = []string{"--nodaemonize", "--fpm-config", filepath.Join(confDir, "php-fpm.conf")}
		s.Ready = agent.Check{Network: "unix", Address: env.AppSocket(inst.Index)}
		s.ReloadSignal, s.StopSignal = "USR2", "QUIT"
		s.StopTimeout = agent.Duration(25 * time.Second)
	case stack.TierDB:
		s.Path = h.programs.MariaDB
		s.Args = []string{"--defaults-file=" + filepath.Join(confDir, "my.cnf")}
		s.Ready = agent.Check{Network: "mysql", Address: env.DBSocket(inst.Index)}
		s.StopSignal = "TERM"
		s.StopTimeout = agent.Duration(120 * time.Second)
		s.ReadyTimeout = agent.Duration(180 * time.Second) // crash recovery can take a while
	}
	return s
}

// validate runs the program's own config check against a candidate
// directory, before it may replace a working config.
func (h *Host) validate(ctx context.Context, c render.Config, dir string) error {
	var cmd *exec.Cmd
	main := filepath.Join(dir, c.Main())
	switch c.Instance.Tier {
	case stack.TierWeb:
		cmd = exec.CommandContext(ctx, h.programs.Nginx, "-t", "-q", "-e", "stderr", "-p", filepath.Join(h.layout.Tmp, c.Instance.String()), "-c", main)
	case stack.TierApp:
		cmd = exec.CommandContext(ctx, h.programs.PHPFPM, "-t", "--fpm-config", main)
	case stack.TierDB:
		cmd = exec.CommandContext(ctx, h.programs.MariaDB, "--defaults-file="+main, "--help", "--verbose")
	case stack.TierLB:
		if err := haproxy.Validate(ctx, h.programs.HAProxy, main); err != nil {
			msg := strings.ReplaceAll(err.Error(), dir, filepath.Join(h.layout.Conf, c.Instance.String()))
			return fmt.Errorf("%s: haproxy refused the new config:\n%s\nthe running instance keeps its current config", c.Instance, indent(msg))
		}
		return nil
	}
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		// Name the files as the user knows them, not the candidate directory.
		msg := strings.ReplaceAll(programErrors(out.String()), dir, filepath.Join(h.layout.Conf, c.Instance.String()))
		return fmt.Errorf("%s: %s refused the new config:\n%s\nthe running instance keeps its current config", c.Instance, filepath.Base(cmd.Path), indent(msg))
	}
	return nil
}

// programErrors keeps the lines of a program's output that explain a
// refusal, dropping chatter such as MariaDB's file-limit warning.
func programErrors(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.Contains(l, "max_open_files") || strings.Contains(l, "test is successful") || strings.TrimSpace(l) == "" {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return strings.TrimSpace(s)
	}
	return strings.Join(keep, "\n")
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
