package cli

import "github.com/trio-stack/trio/internal/target"

// secretResolver returns how {secret: NAME} values are read for a command,
// or nil when no vault is configured.
func secretResolver(g *globals) target.SecretResolver {
	return nil
}
