package cli

import (
	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/target"
)

type logsOptions struct {
	*globals
	follow bool
	lines  int
}

func newLogsCmd(g *globals) *cobra.Command {
	o := &logsOptions{globals: g}
	c := &cobra.Command{
		Use:   "logs [TIER]",
		Short: "Print the recent log lines of a tier (web, app, db) or of all",
		Long: `logs prints the last lines of each instance's log (and nginx's access log),
each line prefixed with where it came from. -f keeps following, as tail -f
does; because of that, this verb takes the stack file as --file, not -f.`,
		Args: maxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tiers, err := tierArg(args)
			if err != nil {
				return err
			}
			st, t, err := o.open(c.Context(), target.Options{})
			if err != nil {
				return err
			}
			return t.Logs(c.Context(), st, target.LogOptions{Tiers: tiers, Lines: o.lines, Follow: o.follow}, o.stdout)
		},
	}
	stackFlags(c, g, false)
	c.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until interrupted")
	c.Flags().IntVarP(&o.lines, "lines", "n", 50, "how many recent lines of each log")
	return c
}
