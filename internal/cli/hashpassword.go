package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/secrets"
)

// sha512-crypt limits, as glibc and mkpasswd apply them.
const (
	hashDefaultRounds = 5000
	hashMinRounds     = 1000
	hashMaxRounds     = 999999999
	hashMaxSalt       = 16
	hashSaltAlphabet  = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

type hashPasswordOptions struct {
	*globals
	rounds int
	salt   string
	verify string
	// roundsSet and saltSet record whether the flags were given.
	roundsSet, saltSet bool
}

func newHashPasswordCmd(g *globals) *cobra.Command {
	o := &hashPasswordOptions{globals: g}
	c := &cobra.Command{
		Use:   "hash-password [--rounds N] [--salt SALT] | --verify HASH",
		Short: "Hash a password with sha512-crypt ($6$), as mkpasswd -m sha-512 does",
		Long: `hash-password reads a password from standard input and prints its
sha512-crypt hash ($6$...), the format of /etc/shadow, Ansible's
password_hash('sha512') and mkpasswd -m sha-512.

On a terminal it asks twice without echo; from a pipe it reads the first
line. The password is never taken as an argument, where it would end up in
shell history and the process list. An empty password is refused.

The salt is 16 random characters unless --salt gives one (1 to 16 of
./0-9A-Za-z). With the default 5000 rounds the hash has no rounds= field,
as glibc writes it; --rounds N (1000 to 999999999) always writes rounds=N.

--verify HASH reads a password instead and checks it against HASH: it
prints "match" and exits 0, or prints "no match" and exits 1.`,
		Example: `  trio hash-password
  printf '%s\n' "$PASSWORD" | trio hash-password --rounds 100000
  trio hash-password --verify "$(getent shadow deploy | cut -d: -f2)"`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("hash-password takes no arguments, and never the password itself "+
					"(it would end up in shell history); pipe it on standard input, or run on a terminal to be asked; see `%s --help`",
					c.CommandPath())}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.roundsSet, o.saltSet = c.Flags().Changed("rounds"), c.Flags().Changed("salt")
			return runHashPassword(c.Context(), o, c.InOrStdin())
		},
	}
	f := c.Flags()
	f.IntVar(&o.rounds, "rounds", hashDefaultRounds, "hashing rounds `N`, 1000 to 999999999; given explicitly, written into the hash as rounds=N")
	f.StringVar(&o.salt, "salt", "", "use `SALT` (1 to 16 characters from ./0-9A-Za-z) instead of a random one")
	f.StringVar(&o.verify, "verify", "", "check the password against `HASH` instead: exit 0 on a match, 1 otherwise")
	return c
}

func runHashPassword(ctx context.Context, o *hashPasswordOptions, stdin io.Reader) error {
	if err := o.check(); err != nil {
		return err
	}
	confirm := o.verify == ""
	pw, err := readHashPassword(ctx, stdin, confirm)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	if o.verify != "" {
		if secrets.VerifySHA512Crypt(o.verify, pw) {
			fmt.Fprintln(o.stdout, "match")
			return nil
		}
		fmt.Fprintln(o.stdout, "no match")
		return exitCodeError{ExitError}
	}
	rounds := 0 // glibc's default, left out of the hash
	if o.roundsSet {
		rounds = o.rounds
	}
	var hash string
	if o.saltSet {
		hash, err = secrets.HashSHA512Crypt(pw, o.salt, rounds)
	} else {
		hash, err = secrets.NewSHA512Crypt(pw, rounds)
	}
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	_, err = fmt.Fprintln(o.stdout, hash)
	return err
}

// check refuses flag values that mkpasswd refuses too, rather than letting
// the library clamp or cut them silently.
func (o *hashPasswordOptions) check() error {
	if o.verify != "" {
		if o.roundsSet || o.saltSet {
			return usageError{errors.New("--verify takes the rounds and salt from HASH; leave out --rounds and --salt")}
		}
		if !strings.HasPrefix(o.verify, "$6$") || strings.Count(o.verify, "$") < 3 {
			return usageError{fmt.Errorf("--verify %q is not a sha512-crypt hash; it must look like $6$SALT$HASH or $6$rounds=N$SALT$HASH", o.verify)}
		}
		return nil
	}
	if o.roundsSet && (o.rounds < hashMinRounds || o.rounds > hashMaxRounds) {
		return usageError{fmt.Errorf("--rounds %d: %w", o.rounds, secrets.ErrCryptRounds)}
	}
	if o.saltSet {
		if o.salt == "" || len(o.salt) > hashMaxSalt ||
			strings.ContainsFunc(o.salt, func(r rune) bool { return !strings.ContainsRune(hashSaltAlphabet, r) }) {
			return usageError{fmt.Errorf("--salt %q: %w", o.salt, secrets.ErrCryptSalt)}
		}
	}
	return nil
}

// readHashPassword reads the password: on a terminal with a prompt without
// echo (twice if confirm), else the first line of stdin. It refuses an
// empty password.
func readHashPassword(ctx context.Context, stdin io.Reader, confirm bool) ([]byte, error) {
	var pw []byte
	if f, ok := stdin.(*os.File); ok && isTerminalInput(f) {
		var err error
		if pw, err = promptTerminalPassword(ctx, f.Name(), confirm); err != nil {
			return nil, err
		}
	} else {
		line, err := bufio.NewReader(stdin).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		pw = trimFinalLineBreak(line)
	}
	if len(pw) == 0 {
		return nil, errors.New("empty password; refusing to hash it. Pipe a non-empty password on standard input " +
			"(printf '%s\\n' \"$PASSWORD\" | trio hash-password) or type one at the prompt")
	}
	return pw, nil
}

// promptTerminalPassword asks on the terminal at path, twice if confirm.
// Prompts go to the terminal itself, as getpass does, so they show even
// when stderr is redirected.
func promptTerminalPassword(ctx context.Context, path string, confirm bool) ([]byte, error) {
	again := ""
	if confirm {
		again = "Confirm password: "
	}
	pw, err := secrets.PromptPassword(ctx, path, "Password: ", again)
	if errors.Is(err, secrets.ErrPasswordMismatch) {
		return nil, errPasswordsDiffer
	}
	return pw, err
}

// errPasswordsDiffer means the two typed passwords differ.
var errPasswordsDiffer = errors.New("the two passwords differ; type the same password twice")
