package render

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/trio-stack/trio/internal/stack"
)

type phpData struct {
	Name           string
	User           string
	Pidfile        string
	Socket         string
	SecretsInclude string
	Workers        int
	StartWorkers   int
	MaxSpare       int
	Chdir          string
	Env            [][2]string
	PHP            [][2]string
}

// PHPFPM renders the PHP-FPM config of one app instance. Credentials are
// not in it: they come from a private include that PHPFPMSecrets renders.
func PHPFPM(st *stack.Stack, env Env, inst stack.Instance) (map[string][]byte, error) {
	w := st.App.Workers
	d := phpData{
		Name:         inst.String(),
		User:         env.WebUser,
		Pidfile:      env.Pidfile(inst),
		Socket:       env.AppSocket(inst.Index),
		Workers:      w,
		StartWorkers: min(w, 2),
		MaxSpare:     max(1, min(w, 4)),
		Chdir:        AppDir(st, env, inst),
	}
	if env.Secrets != "" {
		d.SecretsInclude = env.SecretEnvFile(inst)
	}
	for _, kv := range AppEnv(st, env) {
		q, err := iniQuote(kv[1])
		if err != nil {
			return nil, fmt.Errorf("app.env.%s: %w", kv[0], err)
		}
		d.Env = append(d.Env, [2]string{kv[0], q})
	}
	for _, k := range slices.Sorted(maps.Keys(st.App.PHP)) {
		d.PHP = append(d.PHP, [2]string{k, st.App.PHP[k]})
	}
	conf, err := execute("php-fpm.conf.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("php-fpm.conf: %w", err)
	}
	return map[string][]byte{"php-fpm.conf": conf}, nil
}

// AppDir is where an app instance's workers run: its own release link, so
// instances move to a new release one at a time.
func AppDir(st *stack.Stack, env Env, inst stack.Instance) string {
	if env.Releases == "" {
		return st.Path(st.App.Root)
	}
	return filepath.Join(env.Releases, inst.String())
}

// AppEnv is the environment the app sees, minus credentials: the plain
// app.env entries and where the database is.
func AppEnv(st *stack.Stack, env Env) [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(st.App.Env)) {
		if v := st.App.Env[k]; !v.IsSecret() {
			out = append(out, [2]string{k, v.Plain})
		}
	}
	out = append(out,
		[2]string{"DB_HOST", "127.0.0.1"},
		[2]string{"DB_PORT", strconv.Itoa(st.DB.Port)},
		[2]string{"DB_NAME", st.DB.Database},
		[2]string{"DB_USER", st.DB.User},
	)
	if st.DB.Replicas > 0 {
		// Reads that may lag a little go to the replicas.
		out = append(out, [2]string{"DB_READ_HOST", "127.0.0.1"}, [2]string{"DB_READ_PORT", strconv.Itoa(st.DB.ReadPort)})
	}
	if env.Secrets != "" {
		out = append(out, [2]string{"DB_PASSWORD_FILE", env.SecretFile("db_password")})
	}
	return out
}

// PHPFPMSecrets renders the private include of one app instance: the
// credentials, reopening the pool section that php-fpm.conf declares.
// secrets maps app.env keys and DB_PASSWORD to their resolved values.
func PHPFPMSecrets(inst stack.Instance, secrets map[string]string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("; " + Marker + "\n; Private: credentials of " + inst.String() + ".\n[" + inst.String() + "]\n")
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		q, err := iniQuote(secrets[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		fmt.Fprintf(&b, "env[%s] = %s\n", k, q)
	}
	return []byte(b.String()), nil
}

// iniQuote writes a value for PHP-FPM's ini parser, which would otherwise
// expand ${...} and stop at ; or ".
func iniQuote(v string) (string, error) {
	if strings.ContainsAny(v, "\n\r\x00") {
		return "", fmt.Errorf("the value holds a line break, which PHP-FPM cannot pass; remove it")
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(v) + `"`, nil
}
