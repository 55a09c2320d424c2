package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/trio-stack/trio/internal/stack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenEnv is a fixed host layout so the goldens do not depend on where
// the test runs.
var goldenEnv = Env{
	Run:      "/srv/app/.trio/run",
	Data:     "/srv/app/.trio/data",
	Logs:     "/srv/app/.trio/logs",
	Tmp:      "/srv/app/.trio/tmp",
	Secrets:  "/run/trio/0123abcd",
	Releases: "/srv/app/.trio/releases",
	WebUser:  "www-data",
	DBUser:   "mysql",
	LBUser:   "haproxy",
}

// TestRender_Golden renders every testdata/*.txtar: the archive's input
// files (trio.yaml and the files it names) make a stack, and each section
// named INSTANCE/FILE is what that instance's file must be.
func TestRender_Golden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no goldens in testdata/: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			want := map[string][]byte{}
			var inputs []txtar.File
			for _, f := range ar.Files {
				if isOutput(f.Name) {
					want[f.Name] = f.Data
					continue
				}
				inputs = append(inputs, f)
				writeFile(t, filepath.Join(dir, f.Name), f.Data)
			}
			env := goldenEnv
			if strings.Contains(string(ar.Comment), "as: user") {
				env.WebUser, env.DBUser, env.LBUser = "", "", ""
			}
			st, err := stack.Load(filepath.Join(dir, "trio.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			configs, err := Render(st, env)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]byte{}
			for _, c := range configs {
				for name, data := range c.Files {
					got[c.Instance.String()+"/"+name] = bytes.ReplaceAll(data, []byte(dir), []byte("/srv/app"))
				}
			}
			if *update {
				out := &txtar.Archive{Comment: ar.Comment, Files: inputs}
				for _, c := range configs {
					for _, name := range c.Names() {
						key := c.Instance.String() + "/" + name
						out.Files = append(out.Files, txtar.File{Name: key, Data: got[key]})
					}
				}
				if err := os.WriteFile(path, txtar.Format(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for name, data := range got {
				if w, ok := want[name]; !ok {
					t.Errorf("%s rendered but not in the golden; run go test -update", name)
				} else if !bytes.Equal(w, data) {
					t.Errorf("%s differs from the golden (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, data, w)
				}
			}
			for name := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("%s is in the golden but was not rendered", name)
				}
			}
		})
	}
}

func isOutput(name string) bool {
	for _, t := range stack.Tiers {
		if strings.HasPrefix(name, t.String()+"-") && strings.Contains(name, "/") {
			return true
		}
	}
	return false
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestRender_Pure(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "trio.yaml"), []byte("name: a\ndb: {database: a, user: a, password: x}\n"))
	writeFile(t, filepath.Join(dir, "index.php"), nil)
	writeFile(t, filepath.Join(dir, "public/x.css"), nil)
	st, err := stack.Load(filepath.Join(dir, "trio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Render(st, goldenEnv)
	b, _ := Render(st, goldenEnv)
	for i := range a {
		for name := range a[i].Files {
			if !bytes.Equal(a[i].Files[name], b[i].Files[name]) {
				t.Errorf("%s/%s differs between two renders of the same model", a[i].Instance, name)
			}
		}
	}
}

func TestRender_NoCredentialInConfigs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "trio.yaml"), []byte("name: a\napp: {env: {API_KEY: {secret: api}}}\ndb: {database: a, user: a, password: hunter2-plain, root_password: rootpw-plain}\nsecrets: {vault: v}\n"))
	writeFile(t, filepath.Join(dir, "index.php"), nil)
	writeFile(t, filepath.Join(dir, "v"), nil)
	writeFile(t, filepath.Join(dir, "public/x.css"), nil)
	st, err := stack.Load(filepath.Join(dir, "trio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	configs, err := Render(st, goldenEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		for name, data := range c.Files {
			for _, secret := range []string{"hunter2-plain", "rootpw-plain", "API_KEY"} {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("%s/%s contains %q; credentials belong in the private include", c.Instance, name, secret)
				}
			}
		}
	}
}

func TestPHPFPMSecrets_Quotes(t *testing.T) {
	got, err := PHPFPMSecrets(stack.Instance{Tier: stack.TierApp}, map[string]string{"DB_PASSWORD": `a"b\c${HOME}`})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `env[DB_PASSWORD] = "a\"b\\c\${HOME}"`) {
		t.Errorf("value not escaped for PHP-FPM's ini parser:\n%s", got)
	}
	if _, err := PHPFPMSecrets(stack.Instance{Tier: stack.TierApp}, map[string]string{"X": "a\nb"}); err == nil {
		t.Error("a line break in a value was accepted")
	}
}
