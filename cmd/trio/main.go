// Command trio runs a three-tier web application from one trio.yaml.
package main

import (
	"context"
	"os"

	"github.com/trio-stack/trio/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
