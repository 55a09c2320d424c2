package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/target"
)

type downOptions struct {
	*globals
	volumes bool
}

func newDownCmd(g *globals) *cobra.Command {
	o := &downOptions{globals: g}
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop the stack; its data stays unless --volumes",
		Long: `down stops nginx, PHP-FPM and MariaDB (in that order, gracefully) and the
stack's agent, and removes the private runtime credentials. The database stays
on disk: the next trio up finds every row where it was. Only --volumes deletes
the data directory.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			st, t, err := o.open(c.Context(), target.Options{})
			if err != nil {
				return err
			}
			unlock, err := lock(t, "down")
			if err != nil {
				return err
			}
			defer unlock()
			if err := t.Down(c.Context(), st, o.volumes, newProgress(o.stdout).report); err != nil {
				return err
			}
			if o.volumes {
				fmt.Fprintf(o.stdout, "%s is down; its data is deleted\n", st.Name)
			} else {
				fmt.Fprintf(o.stdout, "%s is down; its data is kept (trio up brings it back)\n", st.Name)
			}
			return nil
		},
	}
	stackFlags(c, g, true)
	c.Flags().BoolVar(&o.volumes, "volumes", false, "also delete the database's data (cannot be undone)")
	return c
}
