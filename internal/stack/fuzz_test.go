package stack

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds trio.yaml files, secret references above all, to the
// loader: it must never panic, every error must be placed in the file, and
// no error may quote a plain credential.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"name: a\ndb: {database: a, user: a, password: {secret: db_password}}\nsecrets: {vault: v}\n",
		"name: a\ndb: {database: a, user: a, password: hunter2}\n",
		"name: a\napp: {env: {K: {secret: k}, J: plain}}\ndb: {database: a, user: a, password: {secret: p}}\n",
		"db:\n  password: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    6162\n",
		"db: {password: {secret: }}\n",
		"db: {password: {secret: a, extra: b}}\n",
		"users: {deploy: {password: {secret: d}, ssh_keys: [x]}}\n",
		"name: a\ntls: {cert: {secret: c}, key: {secret: k}}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		st, err := Parse("/nonexistent/trio.yaml", []byte(src))
		if err == nil {
			_ = st.SecretRefs()
			_ = st.PlainCredentials()
			return
		}
		var es Errors
		if !errors.As(err, &es) {
			t.Fatalf("error of type %T, want Errors: %v", err, err)
		}
		for _, e := range es {
			if e.Pos.File == "" {
				t.Fatalf("error without a place: %v", e)
			}
			credential := strings.HasSuffix(e.Path, "password") || strings.HasPrefix(e.Path, "app.env.") || strings.HasPrefix(e.Path, "tls.")
			if credential && strings.Contains(e.Msg, "hunter2") {
				t.Fatalf("an error about a credential quotes its value: %v", e)
			}
		}
	})
}
