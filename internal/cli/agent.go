package cli

import (
	"cmp"
	"errors"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/agent"
	"github.com/trio-stack/trio/internal/target/host"
)

type agentOptions struct {
	state     string
	versionID string
}

func newAgentCmd(g *globals) *cobra.Command {
	o := &agentOptions{}
	c := &cobra.Command{
		Use:   "agent --state DIR",
		Short: "Run the stack's supervisor daemon (started by trio up)",
		Long: `agent is the daemon that owns a stack's processes: it starts them, restarts
them with backoff when they crash, reloads them on request, and answers the
CLI on a unix socket (mode 0600) in the state's run directory. trio up starts
it; you do not need to. SIGTERM ends the agent but leaves the stack running: a
new agent adopts the processes instead of restarting them.`,
		Hidden: true,
		Args:   noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if o.state == "" {
				return usageError{errors.New("agent needs --state DIR")}
			}
			layout, err := host.NewLayout(o.state)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			log := slog.New(slog.NewTextHandler(g.stderr, nil))
			return agent.New(layout.Run, cmp.Or(o.versionID, host.Version(release)), log).Run(ctx)
		},
	}
	c.Flags().StringVar(&o.state, "state", "", "the stack's state `DIR`")
	c.Flags().StringVar(&o.versionID, "version-id", "", "identity of the trio that started this agent")
	return c
}
