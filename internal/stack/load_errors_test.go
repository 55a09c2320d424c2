package stack_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/stack"
)

// TestParse_Errors places every mistake at the key or value it concerns:
// want lists each error line after "FILE:".
func TestParse_Errors(t *testing.T) {
	for _, c := range []struct {
		name  string
		src   string
		setup func(t testing.TB, dir string)
		want  []string
	}{
		// Unknown keys, at every level, with the closest known key.
		{"unknown top-level key", withMinimal("webb:", "  listen: 127.0.0.1:80"),
			nil, []string{`6:1: webb: unknown key; did you mean "web"?`}},
		{"unknown top-level key far from any", withMinimal("colour: red"),
			nil, []string{`6:1: colour: unknown key; known keys here: `}},
		{"unknown versions key", withMinimal("versions:", "  ngnix: \"1.24\""),
			nil, []string{`7:3: versions.ngnix: unknown key; did you mean "nginx"?`}},
		{"unknown web key", withMinimal("web:", "  listn: 127.0.0.1:80"),
			nil, []string{`7:3: web.listn: unknown key; did you mean "listen"?`}},
		{"unknown web.static key", withMinimal("web:", "  static:", "    maxage: 1h"),
			nil, []string{`8:5: web.static.maxage: unknown key; did you mean "max_age"?`}},
		{"unknown app key", withMinimal("app:", "  indx: index.php"),
			nil, []string{`7:3: app.indx: unknown key; did you mean "index"?`}},
		{"unknown db key", withMinimal("  pasword: x"),
			nil, []string{`6:3: db.pasword: unknown key; did you mean "password"?`}},
		{"unknown db key far from any", withMinimal("  charset: utf8mb4"),
			nil, []string{`6:3: db.charset: unknown key; known keys here: `}},
		{"unknown secrets key", withMinimal("secrets:", "  valut: secrets.vault"),
			nil, []string{`7:3: secrets.valut: unknown key; did you mean "vault"?`}},

		// Keys given twice: the second is the mistake.
		{"duplicate top-level key", y("name: shop", "name: shop2", "db: {database: shop, user: shop, password: x}"),
			nil, []string{`2:1: name: key given twice; keep one`}},
		{"duplicate nested key", withMinimal("  user: other"),
			nil, []string{`6:3: db.user: key given twice; keep one`}},
		{"duplicate map key", withMinimal("app:", "  env:", "    FOO: a", "    FOO: b"),
			nil, []string{`9:5: app.env.FOO: key given twice; keep one`}},

		// Wrong types.
		{"string for int", withMinimal("app:", "  workers: five"),
			nil, []string{`7:12: app.workers: expected a whole number, found "five"`}},
		{"quoted number for int", withMinimal("  port: \"3308\""),
			nil, []string{`6:9: db.port: expected a whole number, found "3308"`}},
		{"float for int", withMinimal("web:", "  replicas: 1.5"),
			nil, []string{`7:13: web.replicas: expected a whole number, found 1.5`}},
		{"list for map", withMinimal("app:", "  env: [A, B]"),
			nil, []string{`7:8: app.env: expected a mapping of keys, found a list`}},
		{"block list for map", withMinimal("  settings:", "    - datadir"),
			nil, []string{`7:5: db.settings: expected a mapping of keys, found a list`}},
		{"list for section", withMinimal("web: [a, b]"),
			nil, []string{`6:6: web: expected a mapping of keys, found a list`}},
		{"scalar for section", withMinimal("secrets: vault.yml"),
			nil, []string{`6:10: secrets: expected a mapping of keys, found "vault.yml"`}},
		{"map for string", withMinimal("web:", "  server_name: {host: a}"),
			nil, []string{`7:16: web.server_name: expected a string, found a mapping`}},
		{"list for string", withMinimal("app:", "  php:", "    memory_limit: [1, 2]"),
			nil, []string{`8:19: app.php.memory_limit: expected a string, found a list`}},
		{"yes for bool", withMinimal("web:", "  static:", "    gzip: yes"),
			nil, []string{`8:11: web.static.gzip: expected true or false, found "yes"`}},
		{"map for duration", withMinimal("web:", "  static:", "    max_age: {h: 1}"),
			nil, []string{`8:14: web.static.max_age: expected a duration such as 1h or 30d, found a mapping`}},
		{"list for address", withMinimal("web:", "  listen: [127.0.0.1, 80]"),
			nil, []string{`7:11: web.listen: expected host:port, found a list`}},
		{"list for value", withMinimal("  root_password: [a]"),
			nil, []string{`6:18: db.root_password: expected a plain value or {secret: NAME}, found a list`}},

		// Addresses and ports.
		{"host name", withMinimal("web:", "  listen: example.com:80"),
			nil, []string{`7:11: web.listen: "example.com:80": the host must be an IP address such as 127.0.0.1 or 0.0.0.0`}},
		{"port 0", withMinimal("web:", "  listen: 127.0.0.1:0"),
			nil, []string{`7:11: web.listen: "127.0.0.1:0": the port must be a number from 1 to 65535`}},
		{"port 70000", withMinimal("web:", "  listen: 127.0.0.1:70000"),
			nil, []string{`7:11: web.listen: "127.0.0.1:70000": the port must be a number from 1 to 65535`}},
		{"port by name", withMinimal("web:", "  listen: 127.0.0.1:http"),
			nil, []string{`7:11: web.listen: "127.0.0.1:http": the port must be a number from 1 to 65535`}},
		{"missing port", withMinimal("web:", "  listen: 127.0.0.1"),
			nil, []string{`7:11: web.listen: "127.0.0.1" is not host:port; write it like 127.0.0.1:8080`}},
		{"port alone", withMinimal("web:", "  listen: 8080"),
			nil, []string{`7:11: web.listen: "8080" is not host:port; write it like 127.0.0.1:8080`}},
		{"db port 70000", withMinimal("  port: 70000"),
			nil, []string{`6:9: db.port: 70000 is not a port; use 1-65535 (default 3307)`}},
		{"db port negative", withMinimal("  port: -1"),
			nil, []string{`6:9: db.port: -1 is not a port; use 1-65535 (default 3307)`}},
		{"db port is the web port", withMinimal("  port: 9000", "web:", "  listen: 0.0.0.0:9000"),
			nil, []string{`6:9: db.port: 9000 is also web.listen's port ({file}:8:11); give each its own`}},
		{"default db port is the web port", withMinimal("web:", "  listen: 127.0.0.1:3307"),
			nil, []string{`2:1: db.port: 3307 is also web.listen's port ({file}:7:11); give each its own`}},

		// Required keys.
		{"no name", y("db:", "  database: shop", "  user: shop", "  password: x"),
			nil, []string{"1: name: missing; give the stack a short name such as `name: shop`"}},
		{"empty name", y(`name: ""`, "db: {database: shop, user: shop, password: x}"),
			nil, []string{"1:7: name: missing; give the stack a short name such as `name: shop`"}},
		{"no db section", y("name: shop"), nil, []string{
			"1: db.database: missing; name the app's database, as MARIADB_DATABASE does",
			"1: db.user: missing; name the app's database user, as MARIADB_USER does",
			"1: db.password: missing; write {secret: db_password} and keep the value in the vault",
		}},
		{"no database", y("name: shop", "db:", "  user: shop", "  password: x"),
			nil, []string{"2:1: db.database: missing; name the app's database, as MARIADB_DATABASE does"}},
		{"no user", y("name: shop", "db:", "  database: shop", "  password: x"),
			nil, []string{"2:1: db.user: missing; name the app's database user, as MARIADB_USER does"}},
		{"no password", y("name: shop", "db:", "  database: shop", "  user: shop"),
			nil, []string{"2:1: db.password: missing; write {secret: db_password} and keep the value in the vault"}},
		{"empty password", y("name: shop", "db:", "  database: shop", "  user: shop", "  password:"),
			nil, []string{"5:3: db.password: missing; write {secret: db_password} and keep the value in the vault"}},

		// Names.
		{"uppercase stack name", y("name: Shop", "db: {database: shop, user: shop, password: x}"),
			nil, []string{`1:7: name: "Shop": use lowercase letters, digits and '-', starting with a letter, at most 32 characters`}},
		{"stack name starting with a digit", y("name: 1shop", "db: {database: shop, user: shop, password: x}"),
			nil, []string{`1:7: name: "1shop": use lowercase letters`}},
		{"stack name too long", y("name: "+strings.Repeat("a", 33), "db: {database: shop, user: shop, password: x}"),
			nil, []string{`1:7: name: "` + strings.Repeat("a", 33) + `": use lowercase letters`}},
		{"db user root", y("name: shop", "db:", "  database: shop", "  user: root", "  password: x"),
			nil, []string{"4:9: db.user: the app must not use root; pick another name (root is set with db.root_password)"}},
		{"database with a dash", y("name: shop", "db:", "  database: my-shop", "  user: shop", "  password: x"),
			nil, []string{`3:13: db.database: "my-shop": use letters, digits and _ (at most 64)`}},
		{"database too long", y("name: shop", "db:", "  database: "+strings.Repeat("d", 65), "  user: shop", "  password: x"),
			nil, []string{`3:13: db.database: "` + strings.Repeat("d", 65) + `": use letters, digits and _ (at most 64)`}},
		{"user with a dash", y("name: shop", "db:", "  database: shop", "  user: app-user", "  password: x"),
			nil, []string{`4:9: db.user: "app-user": use letters, digits and _`}},
		{"bad version", withMinimal("versions:", "  php: latest"),
			nil, []string{`7:8: versions.php: "latest" is not a version; write the upstream version to pin, such as "1.22"`}},

		// Files and directories the stack refers to.
		{"web root missing", withMinimal("web:", "  root: htdocs"),
			nil, []string{"7:9: web.root: directory htdocs does not exist; create it or fix the path"}},
		{"default web root missing", y(minimal...),
			func(t testing.TB, dir string) { rmAll(t, dir, "public") },
			[]string{"1: web.root: directory public does not exist; create it or fix the path"}},
		{"web root is a file", withMinimal("web:", "  root: htdocs"),
			func(t testing.TB, dir string) { touch(t, dir, "htdocs") },
			[]string{"7:9: web.root: htdocs is a file; this key wants a directory"}},
		{"app root missing", withMinimal("app:", "  root: src"),
			nil, []string{"7:9: app.root: directory src does not exist; create it or fix the path"}},
		{"app root is a file", withMinimal("app:", "  root: src"),
			func(t testing.TB, dir string) { touch(t, dir, "src") },
			[]string{"7:9: app.root: src is a file; this key wants a directory"}},
		{"front controller missing", withMinimal("app:", "  index: front.php"),
			nil, []string{"7:10: app.index: the front controller front.php is missing in .; create it or set app.index"}},
		{"default front controller missing", withMinimal("app:", "  root: src"),
			func(t testing.TB, dir string) { mkdir(t, dir, "src") },
			[]string{"6:1: app.index: the front controller index.php is missing in src; create it or set app.index"}},
		{"front controller not php", withMinimal("app:", "  index: index.html"),
			func(t testing.TB, dir string) { touch(t, dir, "index.html") },
			[]string{`7:10: app.index: "index.html" must be a .php file name inside app.root`}},
		{"front controller in a subdirectory", withMinimal("app:", "  index: sub/index.php"),
			func(t testing.TB, dir string) { touch(t, dir, "sub/index.php") },
			[]string{`7:10: app.index: "sub/index.php" must be a .php file name inside app.root`}},
		{"schema missing", withMinimal("  schema: schema.sql"),
			nil, []string{"6:11: db.schema: file schema.sql does not exist; create it or fix the path"}},
		{"schema is a directory", withMinimal("  schema: schema.sql"),
			func(t testing.TB, dir string) { mkdir(t, dir, "schema.sql") },
			[]string{"6:11: db.schema: schema.sql is a directory; this key wants a file"}},
		{"migrations missing", withMinimal("  migrations: migrations"),
			nil, []string{"6:15: db.migrations: directory migrations does not exist; create it or fix the path"}},
		{"migrations is a file", withMinimal("  migrations: migrations"),
			func(t testing.TB, dir string) { touch(t, dir, "migrations") },
			[]string{"6:15: db.migrations: migrations is a file; this key wants a directory"}},
		{"vault missing", withMinimal("secrets:", "  vault: secrets.vault"),
			nil, []string{"7:10: secrets.vault: file secrets.vault does not exist; create it or fix the path"}},
		{"vault is a directory", withMinimal("secrets:", "  vault: secrets.vault"),
			func(t testing.TB, dir string) { mkdir(t, dir, "secrets.vault") },
			[]string{"7:10: secrets.vault: secrets.vault is a directory; this key wants a file"}},

		// app.env and app.php.
		{"env sets DB_", withMinimal("app:", "  env:", "    DB_HOST: 10.0.0.1"),
			nil, []string{"8:14: app.env.DB_HOST: DB_* variables are set by trio from the db section; remove it here"}},
		{"env name starts with a digit", withMinimal("app:", "  env:", "    1FOO: x"),
			nil, []string{"8:11: app.env.1FOO: not a valid environment variable name; use letters, digits and _"}},
		{"env name with a dash", withMinimal("app:", "  env:", "    FOO-BAR: x"),
			nil, []string{"8:14: app.env.FOO-BAR: not a valid environment variable name; use letters, digits and _"}},
		{"env without value", withMinimal("app:", "  env:", "    FOO:"),
			nil, []string{"8:5: app.env.FOO: has no value; give one or remove the key"}},
		{"php setting with a newline", withMinimal("app:", "  php:", `    memory_limit: "1\n[x]"`),
			nil, []string{"8:19: app.php.memory_limit: php.ini settings cannot contain newlines or brackets"}},
		{"bad health path", withMinimal("app:", "  health: healthz"),
			nil, []string{`7:11: app.health: "healthz" must be a path starting with /`}},

		// db.settings.
		{"settings datadir", withMinimal("  settings:", "    datadir: /tmp/db"),
			nil, []string{"7:14: db.settings.datadir: trio sets datadir itself; remove it here"}},
		{"settings port", withMinimal("  settings:", "    port: 3306"),
			nil, []string{"7:11: db.settings.port: trio sets port itself; remove it here"}},
		{"settings socket", withMinimal("  settings:", "    socket: /tmp/s"),
			nil, []string{"7:13: db.settings.socket: trio sets socket itself; remove it here"}},
		{"settings bind-address with dash and case", withMinimal("  settings:", "    Bind-Address: 0.0.0.0"),
			nil, []string{"7:19: db.settings.Bind-Address: trio sets Bind-Address itself; remove it here"}},
		{"settings pid-file, user, log_error, tmpdir", withMinimal("  settings:", "    pid-file: a", "    user: b", "    log_error: c", "    tmpdir: d"), nil, []string{
			"7:15: db.settings.pid-file: trio sets pid-file itself",
			"8:11: db.settings.user: trio sets user itself",
			"9:16: db.settings.log_error: trio sets log_error itself",
			"10:13: db.settings.tmpdir: trio sets tmpdir itself",
		}},
		{"settings with a newline", withMinimal("  settings:", `    sql_mode: "STRICT\nport=3306"`),
			nil, []string{"7:15: db.settings.sql_mode: MariaDB settings cannot contain newlines or brackets"}},
		{"settings with a section", withMinimal("  settings:", `    "[client]": x`),
			nil, []string{"7:17: db.settings.[client]: MariaDB settings cannot contain newlines or brackets"}},

		// {secret: NAME}.
		{"secret name with a space", y("name: shop", "db:", "  database: shop", "  user: shop", `  password: {secret: "db password"}`),
			nil, []string{`5:13: db.password: secret name "db password" may hold only letters, digits, '_', '-' and '.'`}},
		{"secret name with a slash", y("name: shop", "db:", "  database: shop", "  user: shop", "  password: {secret: db/password}"),
			nil, []string{`5:13: db.password: secret name "db/password" may hold only letters`}},
		{"secret with an extra key", y("name: shop", "db:", "  database: shop", "  user: shop", "  password: {secret: db_password, default: x}"),
			nil, []string{"5:13: db.password: expected a plain value or {secret: NAME}"}},
		{"secret with another key", y("name: shop", "db:", "  database: shop", "  user: shop", "  password: {vault: db_password}"),
			nil, []string{"5:13: db.password: expected a plain value or {secret: NAME}"}},
		{"secret with an empty name", y("name: shop", "db:", "  database: shop", "  user: shop", `  password: {secret: ""}`),
			nil, []string{"5:13: db.password: expected a plain value or {secret: NAME}"}},
		{"secret in block style", y("name: shop", "db:", "  database: shop", "  user: shop", "  password:", "    secret: [a]"),
			nil, []string{"6:5: db.password: expected a plain value or {secret: NAME}"}},
		{"secret without a vault", y("name: shop", "db:", "  database: shop", "  user: shop", "  password: {secret: db_password}"),
			nil, []string{"5:3: db.password: names a secret but secrets.vault is not set; add `secrets: {vault: secrets.vault}` and create it with `trio vault create`"}},
		{"env secret without a vault", withMinimal("app:", "  env:", "    API_KEY: {secret: api_key}"),
			nil, []string{"8:5: app.env.API_KEY: names a secret but secrets.vault is not set"}},
		{"inline vault value", y("name: shop", "db:", "  database: shop", "  user: shop", "  password: !vault |", "    $ANSIBLE_VAULT;1.1;AES256", "    6162"),
			nil, []string{"5:13: db.password: inline !vault values are not read here; put the value in the vault file named by secrets.vault and write {secret: NAME}"}},

		// Durations and sizes.
		{"duration in weeks", withMinimal("web:", "  static:", "    max_age: 1w"),
			nil, []string{`8:14: web.static.max_age: "1w" is not a duration; write it like 30s, 10m, 12h or 30d`}},
		{"duration without unit", withMinimal("web:", "  static:", "    immutable_max_age: 30"),
			nil, []string{`8:24: web.static.immutable_max_age: "30" is not a duration; write it like 30s, 10m, 12h or 30d`}},
		{"negative duration", withMinimal("web:", "  static:", "    max_age: -5s"),
			nil, []string{`8:14: web.static.max_age: "-5s" is not a duration`}},
		{"negative days", withMinimal("web:", "  static:", "    max_age: -1d"),
			nil, []string{`8:14: web.static.max_age: "-1d" is not a duration`}},
		{"fractional days", withMinimal("web:", "  static:", "    max_age: 1.5d"),
			nil, []string{`8:14: web.static.max_age: "1.5d" is not a duration`}},
		{"size with a space", withMinimal("web:", "  max_body_size: 10 MB"),
			nil, []string{`7:18: web.max_body_size: "10 MB" is not a size; write it like 8m, 512k or 1g`}},
		{"fractional size", withMinimal("web:", "  max_body_size: 1.5m"),
			nil, []string{`7:18: web.max_body_size: "1.5m" is not a size`}},

		// Counts.
		{"seventeen web replicas", withMinimal("web:", "  replicas: 17"),
			nil, []string{"7:13: web.replicas: at most 16 instances per tier on one host"}},
		{"nine db replicas", withMinimal("  replicas: 9"),
			nil, []string{"6:13: db.replicas: at most 8 replicas on one host"}},
		{"a db read port on the web port", withMinimal("  replicas: 1", "  read_port: 8080"),
			nil, []string{"7:14: db.read_port: port 8080 is also web.listen's; give each its own"}},
		{"a bad wait point", withMinimal("  replication: {wait_point: SOMETIMES}"),
			nil, []string{"6:29: db.replication.wait_point: \"SOMETIMES\": use AFTER_SYNC"}},
		{"negative web replicas", withMinimal("web:", "  replicas: -1"),
			nil, []string{"7:13: web.replicas: must be at least 1"}},
		{"negative db replicas", withMinimal("  replicas: -1"),
			nil, []string{"6:13: db.replicas: cannot be negative"}},
		{"too many workers", withMinimal("app:", "  workers: 2000"),
			nil, []string{"7:12: app.workers: must be from 1 to 1024"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := stackDir(t)
			if c.setup != nil {
				c.setup(t, dir)
			}
			_, file, err := parse(t, dir, c.src)
			assertErrors(t, file, err, c.want...)
		})
	}
}

// TestParse_UnknownKeyListsKnownKeys: with no key close enough to suggest,
// the message lists the keys of that level, sorted.
func TestParse_UnknownKeyListsKnownKeys(t *testing.T) {
	for _, c := range []struct {
		src  string
		want []string
	}{
		{withMinimal("colour: red"), []string{"app", "db", "name", "secrets", "versions", "web"}},
		{withMinimal("  charset: utf8mb4"), []string{"database", "migrations", "password", "port", "replicas", "root_password", "schema", "settings", "user"}},
		{withMinimal("web:", "  static:", "    etag: on"), []string{"gzip", "immutable_max_age", "max_age"}},
	} {
		_, _, err := parse(t, stackDir(t), c.src)
		if err == nil {
			t.Fatalf("%q: no error", c.src)
		}
		_, list, ok := strings.Cut(err.Error(), "known keys here: ")
		if !ok {
			t.Fatalf("err = %v, want a list of known keys", err)
		}
		known := strings.Split(list, ", ")
		if !slices.IsSorted(known) {
			t.Errorf("known keys %q are not sorted", known)
		}
		for _, k := range c.want {
			if !slices.Contains(known, k) {
				t.Errorf("known keys %q lack %q", known, k)
			}
		}
	}
}

func TestParse_ReportsEveryErrorSortedByLine(t *testing.T) {
	dir := stackDir(t)
	src := y(
		"name: Shop",                 // 1
		"web:",                       // 2
		"  listen: example.com:80",   // 3
		"  static:",                  // 4
		"    maxage: 1h",             // 5
		"app:",                       // 6
		"  workers: many",            // 7
		"  env:",                     // 8
		"    DB_PASSWORD: x",         // 9
		"db:",                        // 10
		"  database: shop",           // 11
		"  user: root",               // 12
		"  password: {secret: \"\"}", // 13
	)
	_, file, err := parse(t, dir, src)
	assertErrors(t, file, err,
		`1:7: name: "Shop": use lowercase letters`,
		`3:11: web.listen: "example.com:80": the host must be an IP address`,
		`5:5: web.static.maxage: unknown key; did you mean "max_age"?`,
		`7:12: app.workers: expected a whole number, found "many"`,
		`9:18: app.env.DB_PASSWORD: DB_* variables are set by trio`,
		`12:9: db.user: the app must not use root`,
		`13:13: db.password: expected a plain value or {secret: NAME}`,
	)
	var first *stack.Error
	if !errors.As(err, &first) || first.Path != "name" || first.Pos.Line != 1 || first.Pos.Col != 7 {
		t.Errorf("errors.As found %+v, want the name error at 1:7", first)
	}
	if got := len(err.(stack.Errors).Unwrap()); got != 7 {
		t.Errorf("Unwrap gives %d errors, want 7", got)
	}
}

func TestParse_FiveMistakesFiveLines(t *testing.T) {
	dir := stackDir(t)
	// The mistakes are written out of key order; the report is in line order.
	src := y(
		"db:",                    // 1
		"  port: 0.5",            // 2
		"  user: root",           // 3
		"  database: shop",       // 4
		"  password: x",          // 5
		"app:",                   // 6
		"  health: up",           // 7
		"name: shop",             // 8
		"web:",                   // 9
		"  listen: 127.0.0.1",    // 10
		"  max_body_size: large", // 11
	)
	_, file, err := parse(t, dir, src)
	assertErrors(t, file, err,
		`2:9: db.port: expected a whole number, found 0.5`,
		`3:9: db.user: the app must not use root`,
		`7:11: app.health: "up" must be a path starting with /`,
		`10:11: web.listen: "127.0.0.1" is not host:port`,
		`11:18: web.max_body_size: "large" is not a size`,
	)
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("%d lines, want 5:\n%v", n, err)
	}
}

func TestParse_EmptyFile(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n"} {
		_, file, err := parse(t, stackDir(t), src)
		if err == nil {
			t.Fatalf("%q: no error", src)
		}
		want := file + ":1: the file is empty; start from `trio init`"
		if err.Error() != want {
			t.Errorf("%q:\n got: %v\nwant: %s", src, err, want)
		}
	}
}

func TestParse_SyntaxError(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
	}{
		{"unclosed list", y("name: shop", "web:", "  listen: ["), "3: YAML syntax: did not find expected node content; check the indentation and quoting on this line and the one before"},
		{"tab indentation", y("name: shop", "\tweb: {}"), "2: YAML syntax: found a tab character that violates indentation"},
		{"unclosed quote", y("name: shop", "db:", `  password: "abc`, "  user: shop"), "3: YAML syntax: found unexpected end of stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, file, err := parse(t, stackDir(t), c.src)
			assertErrors(t, file, err, c.want)
		})
	}
}
