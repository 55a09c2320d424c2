package stack_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/stack"
)

// y joins lines into a YAML document, so that a case's line numbers can be
// read off its position in the list.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// minimal is the smallest valid trio.yaml; withMinimal appends lines to it,
// so the first appended line is line 6.
var minimal = []string{
	"name: shop",
	"db:",
	"  database: shop",
	"  user: shop",
	"  password: hunter2",
}

func withMinimal(extra ...string) string { return y(append(slices.Clone(minimal), extra...)...) }

// stackDir makes a directory holding what a minimal stack refers to: the
// default web root public/ and the front controller index.php.
func stackDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	mkdir(t, dir, "public")
	touch(t, dir, "index.php")
	return dir
}

func mkdir(t testing.TB, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
}

func touch(t testing.TB, dir, name string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("<?php\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rmAll(t testing.TB, dir, name string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// parse parses src as dir/trio.yaml and returns the file name errors use.
func parse(t testing.TB, dir, src string) (*stack.Stack, string, error) {
	t.Helper()
	file := filepath.Join(dir, stack.FileName)
	st, err := stack.Parse(file, []byte(src))
	return st, file, err
}

func mustParse(t testing.TB, dir, src string) *stack.Stack {
	t.Helper()
	st, _, err := parse(t, dir, src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return st
}

// assertErrors checks that err lists exactly want, in order: each entry is
// the start of one line after "FILE:", and "{file}" in it stands for FILE.
func assertErrors(t testing.TB, file string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %d:\n%s", len(want), strings.Join(want, "\n"))
	}
	var errs stack.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, not stack.Errors: %v", err, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(errs) {
		t.Errorf("Error() has %d lines for %d errors", len(lines), len(errs))
	}
	for i := 0; i < max(len(lines), len(want)); i++ {
		var got, w string
		if i < len(lines) {
			got = lines[i]
		}
		if i < len(want) {
			w = file + ":" + strings.ReplaceAll(want[i], "{file}", file)
		}
		if w == "" || !strings.HasPrefix(got, w) {
			t.Errorf("error %d:\n got: %s\nwant: %s...", i+1, got, w)
		}
	}
	for i, e := range errs {
		if e.Pos.File != file {
			t.Errorf("error %d names file %q, want %q", i+1, e.Pos.File, file)
		}
	}
}

func TestParse_MinimalGetsDefaults(t *testing.T) {
	dir := stackDir(t)
	st, file, err := parse(t, dir, y(minimal...))
	if err != nil {
		t.Fatal(err)
	}
	gzip := st.Web.Static.Gzip != nil && *st.Web.Static.Gzip
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"File", st.File, file},
		{"Dir", st.Dir, dir},
		{"name", st.Name, "shop"},
		{"versions.nginx", st.Versions.Nginx, "1.22"},
		{"versions.php", st.Versions.PHP, "8.2"},
		{"versions.mariadb", st.Versions.MariaDB, "10.11"},
		{"versions.haproxy", st.Versions.HAProxy, "2.6"},
		{"web.listen", st.Web.Listen.String(), "127.0.0.1:8080"},
		{"web.listen loopback", st.Web.Listen.Loopback(), true},
		{"web.server_name", st.Web.ServerName, "_"},
		{"web.root", st.Web.Root, "public"},
		{"web.replicas", st.Web.Replicas, 1},
		{"web.max_body_size", st.Web.MaxBodySize, "8m"},
		{"web.static.max_age", st.Web.Static.MaxAge.Duration, time.Hour},
		{"web.static.max_age seconds", st.Web.Static.MaxAge.Seconds(), int64(3600)},
		{"web.static.max_age set", st.Web.Static.MaxAge.Set, false},
		{"web.static.immutable_max_age", st.Web.Static.ImmutableMaxAge.Duration, 365 * 24 * time.Hour},
		{"web.static.gzip", gzip, true},
		{"app.root", st.App.Root, "."},
		{"app.index", st.App.Index, "index.php"},
		{"app.replicas", st.App.Replicas, 1},
		{"app.workers", st.App.Workers, 5},
		{"app.health", st.App.Health, "/"},
		{"db.database", st.DB.Database, "shop"},
		{"db.user", st.DB.User, "shop"},
		{"db.password plain", st.DB.Password.Plain, "hunter2"},
		{"db.password secret", st.DB.Password.IsSecret(), false},
		{"db.root_password set", st.DB.RootPassword.IsSet(), false},
		{"db.port", st.DB.Port, 3307},
		{"db.port constant", st.DB.Port, stack.DefaultDBPort},
		{"db.replicas", st.DB.Replicas, 0},
		{"secrets.vault", st.Secrets.Vault, ""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestParse_ValidValues(t *testing.T) {
	for _, c := range []struct {
		name  string
		lines []string
		setup func(t testing.TB, dir string)
		check func(t testing.TB, st *stack.Stack)
	}{
		{
			name:  "listen localhost",
			lines: []string{"web:", "  listen: localhost:8081"},
			check: func(t testing.TB, st *stack.Stack) {
				if got := st.Web.Listen.String(); got != "127.0.0.1:8081" {
					t.Errorf("listen = %s, want 127.0.0.1:8081", got)
				}
			},
		},
		{
			name:  "listen all interfaces",
			lines: []string{"web:", "  listen: 0.0.0.0:80"},
			check: func(t testing.TB, st *stack.Stack) {
				if st.Web.Listen.String() != "0.0.0.0:80" || st.Web.Listen.Loopback() {
					t.Errorf("listen = %s (loopback %t), want 0.0.0.0:80, not loopback", st.Web.Listen, st.Web.Listen.Loopback())
				}
			},
		},
		{
			name:  "listen IPv6",
			lines: []string{"web:", "  listen: \"[::1]:8443\""},
			check: func(t testing.TB, st *stack.Stack) {
				if st.Web.Listen.String() != "[::1]:8443" || !st.Web.Listen.Loopback() {
					t.Errorf("listen = %s, want [::1]:8443", st.Web.Listen)
				}
			},
		},
		{
			name: "durations",
			lines: []string{
				"web:", "  static:", "    max_age: 30s", "    immutable_max_age: 30d",
			},
			check: func(t testing.TB, st *stack.Stack) {
				if d := st.Web.Static.MaxAge; d.Duration != 30*time.Second || !d.Set {
					t.Errorf("max_age = %+v, want 30s, set", d)
				}
				if d := st.Web.Static.ImmutableMaxAge; d.Duration != 30*24*time.Hour || d.Seconds() != 2592000 {
					t.Errorf("immutable_max_age = %v, want 720h", d.Duration)
				}
			},
		},
		{
			name:  "zero max_age is kept, not defaulted",
			lines: []string{"web:", "  static:", "    max_age: 0s", "    gzip: false"},
			check: func(t testing.TB, st *stack.Stack) {
				if d := st.Web.Static.MaxAge; d.Duration != 0 || !d.Set {
					t.Errorf("max_age = %+v, want 0, set", d)
				}
				if st.Web.Static.Gzip == nil || *st.Web.Static.Gzip {
					t.Errorf("gzip = %v, want false", st.Web.Static.Gzip)
				}
			},
		},
		{
			name:  "max_body_size as a bare number",
			lines: []string{"web:", "  max_body_size: 1024"},
			check: func(t testing.TB, st *stack.Stack) {
				if st.Web.MaxBodySize != "1024" {
					t.Errorf("max_body_size = %q", st.Web.MaxBodySize)
				}
			},
		},
		{
			name: "everything written",
			lines: []string{
				"versions: {nginx: \"1.24\", php: \"8.3\", mariadb: \"11.4\", haproxy: \"2.8\"}",
				"web:",
				"  listen: 127.0.0.1:9000",
				"  server_name: shop.example",
				"  root: www",
				"  max_body_size: 1g",
				"  static: {max_age: 10m, immutable_max_age: 12h}",
				"app:",
				"  root: src",
				"  index: front.php",
				"  workers: 1024",
				"  health: /healthz",
				"  env:",
				"    APP_ENV: prod",
				"    _private: x",
				"    API_KEY: {secret: api-key.v2}",
				"  php: {memory_limit: 256M}",
				"secrets:",
				"  vault: secrets.vault",
			},
			setup: func(t testing.TB, dir string) {
				mkdir(t, dir, "www")
				touch(t, dir, "src/front.php")
				touch(t, dir, "secrets.vault")
			},
			check: func(t testing.TB, st *stack.Stack) {
				if st.Versions != (stack.Versions{Nginx: "1.24", PHP: "8.3", MariaDB: "11.4", HAProxy: "2.8"}) {
					t.Errorf("versions = %+v", st.Versions)
				}
				if st.Web.Static.MaxAge.Duration != 10*time.Minute || st.Web.Static.ImmutableMaxAge.Duration != 12*time.Hour {
					t.Errorf("static = %+v", st.Web.Static)
				}
				if st.App.Workers != 1024 || st.App.Health != "/healthz" || st.App.Index != "front.php" {
					t.Errorf("app = %+v", st.App)
				}
				if v := st.App.Env["API_KEY"]; v.Secret != "api-key.v2" || v.Plain != "" {
					t.Errorf("API_KEY = %+v, want secret api-key.v2", v)
				}
				if st.App.PHP["memory_limit"] != "256M" {
					t.Errorf("app.php = %v", st.App.PHP)
				}
				if got := st.Path(st.Web.Root); got != filepath.Join(st.Dir, "www") {
					t.Errorf("Path(web.root) = %s", got)
				}
			},
		},
		{
			name:  "db settings that trio does not own",
			lines: []string{"  port: 3310", "  settings:", "    innodb_buffer_pool_size: 256M", "    max-connections: 50"},
			check: func(t testing.TB, st *stack.Stack) {
				if st.DB.Port != 3310 || st.DB.Settings["max-connections"] != "50" {
					t.Errorf("db = %+v", st.DB)
				}
			},
		},
		{
			name:  "schema and migrations",
			lines: []string{"  schema: db/schema.sql", "  migrations: db/migrations"},
			setup: func(t testing.TB, dir string) {
				touch(t, dir, "db/schema.sql")
				mkdir(t, dir, "db/migrations")
			},
			check: func(t testing.TB, st *stack.Stack) {
				if st.DB.Schema != "db/schema.sql" || st.DB.Migrations != "db/migrations" {
					t.Errorf("db = %+v", st.DB)
				}
			},
		},
		{
			name:  "absolute web root",
			lines: []string{"web:", "  root: {abs}"},
			check: func(t testing.TB, st *stack.Stack) {
				if !filepath.IsAbs(st.Web.Root) || st.Path(st.Web.Root) != filepath.Clean(st.Web.Root) {
					t.Errorf("web.root = %s, Path = %s", st.Web.Root, st.Path(st.Web.Root))
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := stackDir(t)
			if c.setup != nil {
				c.setup(t, dir)
			}
			src := withMinimal(c.lines...)
			src = strings.ReplaceAll(src, "{abs}", filepath.Join(dir, "public"))
			c.check(t, mustParse(t, dir, src))
		})
	}
}

// TestParse_SecretValues reads {secret: NAME} where a vault is named, and
// lists which keys come from the vault and which hold plain credentials.
func TestParse_SecretValues(t *testing.T) {
	dir := stackDir(t)
	touch(t, dir, "secrets.vault")
	st := mustParse(t, dir, y(
		"name: shop",
		"secrets: {vault: secrets.vault}",
		"db:",
		"  database: shop",
		"  user: shop",
		"  password: {secret: db_password}",
		"  root_password: toor",
		"app:",
		"  env:",
		"    Z_TOKEN: {secret: z.token}",
		"    APP_ENV: prod",
		"    A_KEY:",
		"      secret: A-key_1",
	))
	if v := st.DB.Password; !v.IsSecret() || v.Secret != "db_password" || v.Plain != "" || !v.IsSet() {
		t.Errorf("db.password = %#v", v)
	}
	if p := st.DB.Password.Pos; p.Line != 6 || p.Col != 13 {
		t.Errorf("db.password at %s, want line 6 col 13", p)
	}
	if got, want := st.SecretRefs(), []string{"db.password", "app.env.A_KEY", "app.env.Z_TOKEN"}; !slices.Equal(got, want) {
		t.Errorf("SecretRefs = %q, want %q", got, want)
	}
	if got, want := st.PlainCredentials(), []string{"db.root_password"}; !slices.Equal(got, want) {
		t.Errorf("PlainCredentials = %q, want %q", got, want)
	}

	plain := mustParse(t, stackDir(t), y(minimal...))
	if refs := plain.SecretRefs(); len(refs) != 0 {
		t.Errorf("SecretRefs of a plain stack = %q", refs)
	}
	if got, want := plain.PlainCredentials(), []string{"db.password"}; !slices.Equal(got, want) {
		t.Errorf("PlainCredentials = %q, want %q", got, want)
	}
}

func TestLoad_ReadsFile(t *testing.T) {
	dir := stackDir(t)
	path := filepath.Join(dir, stack.FileName)
	if err := os.WriteFile(path, []byte(y(minimal...)), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.File != path || st.Dir != dir || st.Name != "shop" {
		t.Errorf("File %s, Dir %s, Name %s", st.File, st.Dir, st.Name)
	}
}

func TestLoad_MissingFile(t *testing.T) {
	_, err := stack.Load(filepath.Join(t.TempDir(), stack.FileName))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "read stack file: ") {
		t.Errorf("err = %v, want a wrapped fs.ErrNotExist", err)
	}
}

// TestLoad_RelativePath resolves a relative path against the working
// directory, and shows file names in errors as the user typed them.
func TestLoad_RelativePath(t *testing.T) {
	dir := stackDir(t)
	t.Chdir(dir)
	if err := os.WriteFile(stack.FileName, []byte(withMinimal("web:", "  listen: 127.0.0.1")), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(stack.FileName)
	if st != nil {
		t.Errorf("Load returned a stack along with errors")
	}
	want := `trio.yaml:7:11: web.listen: "127.0.0.1" is not host:port; write it like 127.0.0.1:8080`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}

	if err := os.WriteFile(stack.FileName, []byte(y(minimal...)), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = stack.Load(stack.FileName)
	if err != nil {
		t.Fatal(err)
	}
	if st.File != filepath.Join(dir, stack.FileName) || st.Dir != dir {
		t.Errorf("File %s, Dir %s; want them absolute", st.File, st.Dir)
	}
	if p := st.Pos("name"); p.String() != "trio.yaml:1:7" {
		t.Errorf("Pos(name) = %s, want trio.yaml:1:7", p)
	}
}

func TestLoad_FindsFile(t *testing.T) {
	dir := t.TempDir()
	_, err := stack.Find(dir, "")
	if !errors.Is(err, stack.ErrNotFound) || !strings.Contains(err.Error(), "trio init") {
		t.Errorf("Find in an empty dir: %v, want ErrNotFound with a hint", err)
	}
	touch(t, dir, "other.yaml")
	got, err := stack.Find(dir, "other.yaml")
	if err != nil || got != filepath.Join(dir, "other.yaml") {
		t.Errorf("Find(other.yaml) = %s, %v", got, err)
	}
}
