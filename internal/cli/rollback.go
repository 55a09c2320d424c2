package cli

import (
	"github.com/spf13/cobra"
)

func newRollbackCmd(g *globals) *cobra.Command {
	o := &applyOptions{globals: g, rollback: true}
	c := &cobra.Command{
		Use:   "rollback",
		Short: "Return the app to the release before the live one, instance by instance",
		Long: `rollback moves every app instance back to the previous release the same way
a deploy moves it forward: the release is checked on a private PHP-FPM pool,
then each instance is switched and reloaded gracefully, then nginx's static
files follow. The rolled-back release stays out: trio apply deploys app.root
again only once its content changes.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			_, err := runApply(c.Context(), o, false)
			return err
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	o.flags(c)
	return c
}
