package stack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/stack"
)

func TestStack_PosFallsBackToSection(t *testing.T) {
	dir := stackDir(t)
	touch(t, dir, "v.vault")
	st, file, err := parse(t, dir, y(
		"name: shop",                // 1
		"web:",                      // 2
		"  listen: 127.0.0.1:8081",  // 3
		"  static:",                 // 4
		"    gzip: false",           // 5
		"db:",                       // 6
		"  database: shop",          // 7
		"  user: shop",              // 8
		"  password: {secret: pw}",  // 9
		"  settings:",               // 10
		"    max_connections: 20",   // 11
		"secrets: {vault: v.vault}", // 12
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{"name", "1:7"},        // a scalar: at its value
		{"web", "2:1"},         // a section: at its key
		{"web.listen", "3:11"}, //
		{"web.static", "4:3"},  //
		{"web.static.gzip", "5:11"},
		{"db.password", "9:3"}, // a mapping value: at its key
		{"db.settings.max_connections", "11:22"},
		{"secrets.vault", "12:18"}, // inside a flow mapping
		// Left out: the enclosing section, else line 1.
		{"web.static.max_age", "4:3"},
		{"web.root", "2:1"},
		{"db.port", "6:1"},
		{"db.settings.innodb_buffer_pool_size", "10:3"},
		{"app", "1"},
		{"app.index", "1"},
		{"versions.nginx", "1"},
		{"nosuch.deeply.nested.key", "1"},
		{"", "1"},
	} {
		if got, want := st.Pos(c.path).String(), file+":"+c.want; got != want {
			t.Errorf("Pos(%q) = %s, want %s", c.path, got, want)
		}
	}
	if p := st.Pos("app.health"); p.Line != 1 || p.Col != 0 || p.File != file {
		t.Errorf("Pos(app.health) = %+v, want line 1 of the file, no column", p)
	}
	e := st.Errorf("web.root", "wants %s", "a directory")
	if got, want := e.Error(), file+":2:1: web.root: wants a directory"; got != want {
		t.Errorf("Errorf = %s, want %s", got, want)
	}
}

func TestPos_StringOmitsZeroes(t *testing.T) {
	for _, c := range []struct {
		pos  stack.Pos
		want string
	}{
		{stack.Pos{File: "trio.yaml"}, "trio.yaml"},
		{stack.Pos{File: "trio.yaml", Line: 3}, "trio.yaml:3"},
		{stack.Pos{File: "trio.yaml", Line: 3, Col: 9}, "trio.yaml:3:9"},
	} {
		if got := c.pos.String(); got != c.want {
			t.Errorf("%+v.String() = %s, want %s", c.pos, got, c.want)
		}
	}
	e := &stack.Error{Pos: stack.Pos{File: "trio.yaml", Line: 1}, Msg: "the file is empty"}
	if got := e.Error(); got != "trio.yaml:1: the file is empty" {
		t.Errorf("Error without a path = %s", got)
	}
}

// TestValue_StringHidesPlainValues: a Value may be a password, and anything
// that prints one (logs, %v of a section, plans) must not show it.
func TestValue_StringHidesPlainValues(t *testing.T) {
	const secret = "hunter2-Sup3r"
	plain := stack.Value{Plain: secret, Pos: stack.Pos{File: "trio.yaml", Line: 5, Col: 13}}
	ref := stack.Value{Secret: "db_password"}
	for _, c := range []struct {
		v    stack.Value
		want string
	}{
		{plain, "(plain value)"},
		{ref, "{secret: db_password}"},
		{stack.Value{}, "(unset)"},
	} {
		if got := c.v.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
	db := stack.DB{Database: "shop", User: "shop", Password: plain, RootPassword: plain}
	for _, format := range []string{"%v", "%s", "%+v", "%q"} {
		for _, v := range []any{plain, &plain, db, &db, []stack.Value{plain}, map[string]stack.Value{"K": plain}} {
			if got := fmt.Sprintf(format, v); strings.Contains(got, secret) {
				t.Errorf("Sprintf(%q, %T) = %s: shows the plain value", format, v, got)
			}
		}
	}
	if !plain.IsSet() || plain.IsSecret() || !ref.IsSet() || !ref.IsSecret() || (stack.Value{}).IsSet() {
		t.Error("IsSet/IsSecret disagree with the fields")
	}
}

// TestParse_ErrorsHidePlainValues: error messages about a credential never
// quote what was written.
func TestParse_ErrorsHidePlainValues(t *testing.T) {
	const secret = "hunter2-Sup3r"
	for _, src := range []string{
		y("name: shop", "db:", "  database: shop", "  user: shop", "  password: !vault "+secret),
		y("name: shop", "db:", "  database: shop", "  user: shop", "  password: ["+secret+"]"),
		y("name: shop", "db:", "  database: shop", "  user: shop", "  password: {plain: "+secret+"}"),
		y("name: shop", "db:", "  database: shop", "  user: shop", "  password: x", "  root_password: {secret: a, b: "+secret+"}"),
	} {
		_, _, err := parse(t, stackDir(t), src)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("err = %v; want an error that does not quote the value", err)
		}
	}
}

func TestParseTier_NamesAndErrors(t *testing.T) {
	for _, want := range stack.Tiers {
		got, err := stack.ParseTier(want.String())
		if err != nil || got != want {
			t.Errorf("ParseTier(%q) = %v, %v", want.String(), got, err)
		}
	}
	if got := stack.Tiers; !slices.Equal(got, []stack.Tier{stack.TierDB, stack.TierApp, stack.TierWeb, stack.TierLB}) {
		t.Errorf("Tiers = %v, want db, app, web, lb", got)
	}
	for _, s := range []string{"nginx", "Web", "", "db-0"} {
		if _, err := stack.ParseTier(s); err == nil || !strings.Contains(err.Error(), "use lb, web, app or db") {
			t.Errorf("ParseTier(%q) err = %v", s, err)
		}
	}
	if got := stack.Tier(7).String(); got != "tier(7)" {
		t.Errorf("Tier(7) = %s", got)
	}
}

func TestParseInstance_RoundTrip(t *testing.T) {
	for _, c := range []struct {
		in   string
		want stack.Instance
	}{
		{"web-0", stack.Instance{Tier: stack.TierWeb, Index: 0}},
		{"app-0", stack.Instance{Tier: stack.TierApp, Index: 0}},
		{"db-12", stack.Instance{Tier: stack.TierDB, Index: 12}},
	} {
		got, err := stack.ParseInstance(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseInstance(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if got.String() != c.in {
			t.Errorf("%v.String() = %s, want %s", got, got.String(), c.in)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"web", `"web" is not an instance name such as web-0`},
		{"web-", `"web-" is not an instance name such as web-0`},
		{"web-x", `"web-x" is not an instance name such as web-0`},
		{"web--1", `"web--1" is not an instance name such as web-0`},
		{"nginx-0", `unknown tier "nginx"; use lb, web, app or db`},
		{"", `"" is not an instance name such as web-0`},
	} {
		_, err := stack.ParseInstance(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("ParseInstance(%q) err = %v, want %s", c.in, err, c.want)
		}
	}
}

func TestStack_InstancesInStartOrder(t *testing.T) {
	st := mustParse(t, stackDir(t), y(minimal...))
	if got := names(st.Instances()); !slices.Equal(got, []string{"db-0", "app-0", "web-0"}) {
		t.Errorf("Instances = %q, want db-0 app-0 web-0", got)
	}
	// The loader refuses more than one of each for now; the model already
	// orders them by tier, then index.
	st.Web.Replicas, st.App.Replicas, st.DB.Replicas = 2, 3, 1
	want := []string{"db-0", "db-1", "app-0", "app-1", "app-2", "web-0", "web-1"}
	if got := names(st.Instances()); !slices.Equal(got, want) {
		t.Errorf("Instances = %q, want %q", got, want)
	}
	if st.Replicas(stack.TierDB) != 2 || st.Replicas(stack.Tier(9)) != 0 {
		t.Errorf("Replicas(db) = %d, Replicas(9) = %d", st.Replicas(stack.TierDB), st.Replicas(stack.Tier(9)))
	}
}

func names(is []stack.Instance) []string {
	out := make([]string, len(is))
	for i, in := range is {
		out[i] = in.String()
	}
	return out
}

func TestParseDuration_Units(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"30s", "30s"}, {"10m", "10m0s"}, {"12h", "12h0m0s"}, {"30d", "720h0m0s"}, {"0d", "0s"}, {"1h30m", "1h30m0s"},
	} {
		got, err := stack.ParseDuration(c.in)
		if err != nil || got.String() != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "d", "1w", "-1d", "-5s", "1.5d", "30", "soon"} {
		if _, err := stack.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}

// The cases below are mistakes the loader lets through or reports badly;
// each is described in the report that came with these tests.

func TestParse_ExplicitZeroIsRefused(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"db port 0", withMinimal("  port: 0"), "6:9: db.port: 0 is not a port"},
		{"workers 0", withMinimal("app:", "  workers: 0"), "7:12: app.workers: must be from 1 to 1024"},
		{"web replicas 0", withMinimal("web:", "  replicas: 0"), "7:13: web.replicas: must be at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, file, err := parse(t, stackDir(t), c.src)
			assertErrors(t, file, err, c.want)
		})
	}
}

func TestParse_FrontControllerDirectory(t *testing.T) {
	dir := stackDir(t)
	mkdir(t, dir, "front.php")
	_, file, err := parse(t, dir, withMinimal("app:", "  index: front.php"))
	assertErrors(t, file, err, "7:10: app.index: front.php is a directory")
}

func TestParse_BadSectionIsReportedOnce(t *testing.T) {
	_, file, err := parse(t, stackDir(t), y("name: shop", "db: [shop]"))
	assertErrors(t, file, err, "2:5: db: expected a mapping of keys, found a list")
}
