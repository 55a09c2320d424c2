package cli

import "github.com/spf13/cobra"

func newUpCmd(g *globals) *cobra.Command {
	o := &applyOptions{globals: g}
	c := &cobra.Command{
		Use:   "up",
		Short: "Install what is missing, start the stack and wait until the app answers",
		Long: `up brings the stack up on this host: it installs the Debian packages
trio.yaml pins (exactly the builds in trio.lock, writing one if there is none),
initialises the database on first start, starts MariaDB, PHP-FPM and nginx
under the stack's agent, and returns once the app's health path answers 200,
printing its URL. Run it again at any time: it does only what is missing.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			_, err := runApply(c.Context(), o, true)
			return err
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	o.flags(c)
	return c
}
