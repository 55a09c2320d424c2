package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trio-stack/trio/internal/secrets"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

// stackVault opens the vault trio.yaml names on first use, so a command
// that needs no secret never asks for the vault password.
type stackVault struct {
	ctx  context.Context
	pw   *vaultPassword
	path string

	once   sync.Once
	opened *openedVault
	values map[string]string
	err    error
}

func newStackVault(ctx context.Context, st *stack.Stack, pw *vaultPassword) *stackVault {
	return &stackVault{ctx: ctx, pw: pw, path: st.Path(st.Secrets.Vault)}
}

func (v *stackVault) open() error {
	v.once.Do(func() {
		v.opened, v.err = v.pw.openVault(v.ctx, v.path)
		if errors.Is(v.err, secrets.ErrNoPassword) {
			v.err = fmt.Errorf("%w for %s: pass --vault-password-file FILE or set %s", target.ErrSecretUnavailable, v.path, secrets.EnvPasswordFile)
			return
		}
		if v.err != nil {
			return
		}
		v.values, v.err = secrets.ParseSecrets(v.opened.plaintext, v.opened.password)
		if v.err != nil {
			v.err = fmt.Errorf("read secrets from %s: %w", v.path, v.err)
		}
	})
	return v.err
}

// resolve is the target.SecretResolver of the stack.
func (v *stackVault) resolve(name string) (string, error) {
	if err := v.open(); err != nil {
		return "", err
	}
	val, ok := v.values[name]
	if !ok {
		return "", fmt.Errorf("secret %q is not in the vault %s; add it with `trio vault edit %s`", name, v.path, v.path)
	}
	return val, nil
}

// secretResolver returns how {secret: NAME} values are read for a stack,
// or nil when it names no vault.
func secretResolver(ctx context.Context, st *stack.Stack, pw *vaultPassword) target.SecretResolver {
	if st.Secrets.Vault == "" {
		return nil
	}
	return newStackVault(ctx, st, pw).resolve
}
