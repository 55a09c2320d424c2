package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/trio-stack/trio/internal/fcgi"
	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/render"
	"github.com/trio-stack/trio/internal/stack"
)

// stageIndex numbers the private PHP-FPM pool a new release is checked on
// before any instance takes it; it is above any real replica count.
const stageIndex = 99

// checkApp asks one PHP-FPM pool for the app's health path, the way nginx
// would ask it, and wants a 200.
func checkApp(ctx context.Context, st *stack.Stack, env render.Env, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := fcgi.Get(ctx, "unix", socket, st.App.Health, map[string]string{
		"SCRIPT_FILENAME": render.FrontController(st, env),
		"SCRIPT_NAME":     "/" + st.App.Index,
		"HTTP_HOST":       st.Web.ServerName,
	})
	if err != nil {
		return err
	}
	if resp.Status != 200 {
		body := strings.TrimSpace(string(resp.Body))
		if len(body) > 200 {
			body = body[:200] + "..."
		}
		return fmt.Errorf("%s answered %d: %s", st.App.Health, resp.Status, body)
	}
	return nil
}

// stageCheck runs a release on a private PHP-FPM pool that takes no
// traffic and checks its health path. Only a release that passes is
// rolled out.
func (h *Host) stageCheck(ctx context.Context, st *stack.Stack, pl *payload, id string) error {
	inst := stack.Instance{Tier: stack.TierApp, Index: stageIndex}
	name := inst.String()
	if err := h.pointRelease(name, id); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(h.releasesDir(), name))
	files, err := render.PHPFPM(st, h.env, inst)
	if err != nil {
		return err
	}
	dir := filepath.Join(h.layout.Run, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "php-fpm.conf")
	if err := fsutil.WriteFileAtomic(conf, files["php-fpm.conf"], 0o600); err != nil {
		return err
	}
	if pl.secretEnv != nil {
		b, err := render.PHPFPMSecrets(inst, pl.secretEnv)
		if err != nil {
			return err
		}
		secret := h.env.SecretEnvFile(inst)
		if err := fsutil.WriteFileAtomic(secret, b, 0o400); err != nil {
			return err
		}
		defer os.Remove(secret)
	}
	sock := h.env.AppSocket(stageIndex)
	srv, err := startPrivate("the check pool", []string{h.programs.PHPFPM, "--nodaemonize", "--fpm-config", conf},
		sock, filepath.Join(h.layout.Logs, "app-stage.log"), syscall.SIGQUIT, 10*time.Second)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := srv.waitReady(ctx, 15*time.Second); err != nil {
		return err
	}
	if err := checkApp(ctx, st, h.env, sock); err != nil {
		return fmt.Errorf("release %s failed its health check (%v); nothing was switched, the running release keeps serving", id, err)
	}
	return nil
}

// deploy moves one app instance to the release: switch its link, reload
// PHP-FPM gracefully (requests in flight finish on the old code), check
// it, and switch back if the check fails.
func (h *Host) deploy(ctx context.Context, st *stack.Stack, pl *payload, name string) error {
	if !pl.staged {
		if err := h.stageCheck(ctx, st, pl, pl.release); err != nil {
			return err
		}
		pl.staged = true
	}
	inst, err := stack.ParseInstance(name)
	if err != nil {
		return err
	}
	old := h.releaseOf(name)
	if err := h.pointRelease(name, pl.release); err != nil {
		return err
	}
	err = h.agent.Reload(ctx, name)
	if err == nil {
		err = checkApp(ctx, st, h.env, h.env.AppSocket(inst.Index))
	}
	if err != nil {
		if old == "" {
			return fmt.Errorf("%s on release %s: %w", name, pl.release, err)
		}
		back := h.pointRelease(name, old)
		if back == nil {
			back = h.agent.Reload(context.WithoutCancel(ctx), name)
		}
		if back != nil {
			return fmt.Errorf("%s on release %s: %w; going back to release %s failed too (%v): run trio rollback", name, pl.release, err, old, back)
		}
		return fmt.Errorf("%s on release %s: %w; it is back on release %s", name, pl.release, err, old)
	}
	return nil
}

// finishRelease points the static files at the release once every app
// instance runs it, and records it as live.
func (h *Host) finishRelease(st *stack.Stack, pl *payload) error {
	for i := 0; i < st.Replicas(stack.TierApp); i++ {
		if h.releaseOf(fmt.Sprintf("app-%d", i)) != pl.release {
			return nil
		}
	}
	if err := h.pointRelease("current", pl.release); err != nil {
		return err
	}
	pl.hist.recordDeployed(pl.release)
	if pl.rollback {
		pl.hist.RolledBack = pl.rolledBackFrom
	} else if pl.hist.RolledBack != "" && pl.hist.RolledBack != pl.release {
		pl.hist.RolledBack = ""
	}
	h.pruneReleases(pl.hist, st.App.Releases)
	return h.writeHistory(pl.hist)
}
