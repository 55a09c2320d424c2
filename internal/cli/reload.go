package cli

import (
	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/target"
)

func newReloadCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "reload [TIER]",
		Short: "Reload nginx and PHP-FPM gracefully (all, or one tier)",
		Long: `reload asks the running nginx (SIGHUP) and PHP-FPM (SIGUSR2) to re-read
their config and waits until new workers serve; requests in flight finish on
the old ones. It does not re-render anything: after editing trio.yaml, use
trio apply, which reloads only what changed.`,
		Args: maxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tiers, err := tierArg(args)
			if err != nil {
				return err
			}
			st, t, err := g.open(c.Context(), target.Options{})
			if err != nil {
				return err
			}
			unlock, err := lock(t, "reload")
			if err != nil {
				return err
			}
			defer unlock()
			return t.Reload(c.Context(), st, tiers, newProgress(g.stdout).report)
		},
	}
	stackFlags(c, g, true)
	return c
}
