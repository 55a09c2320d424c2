package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/plan"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

type applyOptions struct {
	*globals
	strict     bool
	allowDrift bool
	upgradeDB  bool
	dryRun     bool
	rollback   bool
}

func (o *applyOptions) flags(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&o.strict, "strict", false, "refuse plain passwords in trio.yaml (for CI)")
	f.BoolVar(&o.allowDrift, "allow-drift", false, "run with installed package builds that differ from trio.lock")
	f.BoolVar(&o.upgradeDB, "upgrade-db", false, "upgrade a data directory made by an older MariaDB (take a backup first)")
	o.vault.flags(c)
}

func newApplyCmd(g *globals) *cobra.Command {
	o := &applyOptions{globals: g}
	c := &cobra.Command{
		Use:   "apply",
		Short: "Make the running stack match trio.yaml, printing the plan first",
		Long: `apply computes the plan (one line per step, with its cause) and executes
exactly it. A changed nginx or PHP-FPM config is checked by the program itself,
swapped in atomically and applied with a graceful reload; a MariaDB setting
that needs a restart says so. A refused config stops the apply before anything
running is touched. With nothing to change it says "no changes".`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			_, err := runApply(c.Context(), o, false)
			return err
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	o.flags(c)
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the plan and stop (same as trio plan)")
	return c
}

// applyResult is what -o json prints for apply and up.
type applyResult struct {
	Stack   string       `json:"stack"`
	Plan    plan.Plan    `json:"plan"`
	Applied bool         `json:"applied"`
	Steps   []stepTiming `json:"steps"`
	Seconds float64      `json:"seconds"`
	URL     string       `json:"url,omitempty"`
	Health  string       `json:"health,omitempty"`
}

// runApply plans and applies; up adds installing and waiting for health.
func runApply(ctx context.Context, o *applyOptions, up bool) (*applyResult, error) {
	start := time.Now()
	asJSON, log, err := o.jsonAndLog()
	if err != nil {
		return nil, err
	}
	var last string
	st, t, err := o.open(ctx, target.Options{
		AllowDrift: o.allowDrift, UpgradeDB: o.upgradeDB, Rollback: o.rollback,
		RefreshPackageLists: true,
		Progress: func(s string) {
			if s != last {
				fmt.Fprintln(log, "   "+s)
				last = s
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if err := warnPlainCredentials(st, o.strict, o.stderr); err != nil {
		return nil, err
	}
	verb := "apply"
	if up {
		verb = "up"
	}
	unlock, err := lock(t, verb)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := t.Plan(ctx, st)
	if err != nil {
		return nil, err
	}
	res := &applyResult{Stack: st.Name, Plan: p.Plan}
	fmt.Fprint(log, p.Plan.String())
	if o.dryRun {
		return res, printResult(o.globals, res, asJSON)
	}
	prog := newProgress(log)
	if !p.Empty() {
		if err := t.Apply(ctx, p, prog.report); err != nil {
			return nil, err
		}
		res.Applied = true
	}
	res.Steps = prog.timings
	if up {
		if err := waitHealthy(ctx, st, t, res, log); err != nil {
			return nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, printResult(o.globals, res, asJSON)
}

func printResult(g *globals, res *applyResult, asJSON bool) error {
	if !asJSON {
		return nil
	}
	return printJSON(g.stdout, res)
}

// waitHealthy polls the app's health path through nginx until it answers
// 200, and says where the app is.
func waitHealthy(ctx context.Context, st *stack.Stack, t target.Target, res *applyResult, log interface{ Write([]byte) (int, error) }) error {
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		s, err := t.Status(ctx, st)
		if err != nil {
			return err
		}
		res.URL, res.Health = s.URL, s.Health
		if s.Healthy {
			fmt.Fprintf(log, "%s is up at %s (%s answered %s)\n", st.Name, s.URL, st.App.Health, firstWord(s.Health))
			return nil
		}
		last = s.Health
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer 200 on %s after 60s; the last answer was: %s. See `trio logs app` and `trio logs web`", st.Name, st.App.Health, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func firstWord(s string) string {
	for i, r := range s {
		if r == ' ' {
			return s[:i]
		}
	}
	return s
}
