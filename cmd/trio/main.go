// Command trio runs a three-tier web application from one trio.yaml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/trio-stack/trio/internal/cli"
)

func main() {
	// Ctrl-C ends the command's context: the agent finishes what it was
	// asked gracefully, and trio stops waiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
