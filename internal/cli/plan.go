package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/target"
)

type planOptions struct {
	*globals
	allowDrift   bool
	detailedExit bool
}

func newPlanCmd(g *globals) *cobra.Command {
	o := &planOptions{globals: g}
	c := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would do, one line per step with its cause",
		Long: `plan observes the host and the running stack and prints the steps that
would make it match trio.yaml, such as "reload web-0: site.conf changed". It
changes nothing. With --detailed-exitcode it exits 3 when there are changes.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, err := o.json()
			if err != nil {
				return err
			}
			st, t, err := o.open(c.Context(), target.Options{AllowDrift: o.allowDrift})
			if err != nil {
				return err
			}
			if err := warnPlainCredentials(st, false, o.stderr); err != nil {
				return err
			}
			p, err := t.Plan(c.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(o.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(p.Plan); err != nil {
					return err
				}
			} else {
				fmt.Fprint(o.stdout, p.Plan.String())
			}
			if o.detailedExit && !p.Empty() {
				return exitCodeError{ExitChanges}
			}
			return nil
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	c.Flags().BoolVar(&o.allowDrift, "allow-drift", false, "accept installed package builds that differ from trio.lock")
	o.vault.flags(c)
	c.Flags().BoolVar(&o.detailedExit, "detailed-exitcode", false, "exit 3 when the plan has changes, 0 when none")
	return c
}
