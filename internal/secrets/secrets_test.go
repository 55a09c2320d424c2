package secrets

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseSecrets_Values(t *testing.T) {
	inline, err := EncryptString([]byte("from-inline"), []byte("pw"), "inline", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		want       map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"comments only", "# nothing yet\n", map[string]string{}},
		{"document marker only", "---\n", map[string]string{}},
		{"plain", "---\n# db\ndb_password: s3cret\napp_key: 'k: v'\n", map[string]string{"db_password": "s3cret", "app_key": "k: v"}},
		{"scalars as written", "pin: 0123\nflag: yes\nratio: 1.50\n", map[string]string{"pin": "0123", "flag": "yes", "ratio": "1.50"}},
		{"block scalar", "cert: |\n  line1\n  line2\n", map[string]string{"cert": "line1\nline2\n"}},
		{"alias", "a: &x shared\nb: *x\n", map[string]string{"a": "shared", "b": "shared"}},
		{"inline vault", "plain: p\n" + inline + "\n", map[string]string{"plain": "p", "inline": "from-inline"}},
		{"ansible encrypt_string output", string(readTestdata(t, "ansible-encrypt-string.yml")), map[string]string{"db_password": "s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			password := "pw"
			if strings.Contains(tt.name, "ansible") {
				password = testPassword
			}
			got, err := ParseSecrets([]byte(tt.text), []byte(password))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ParseSecrets = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSecrets_Errors(t *testing.T) {
	inline, err := EncryptString([]byte("v"), []byte("pw"), "inline", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text, password string
		want                 error
	}{
		{"list at top", "- a\n- b\n", "pw", ErrSecretsFormat},
		{"scalar at top", "just text\n", "pw", ErrSecretsFormat},
		{"nested mapping", "db:\n  password: x\n", "pw", ErrSecretsFormat},
		{"list value", "hosts: [a, b]\n", "pw", ErrSecretsFormat},
		{"null value", "db_password:\n", "pw", ErrSecretsFormat},
		{"duplicate name", "a: 1\na: 2\n", "pw", ErrSecretsFormat},
		{"two documents", "a: 1\n---\nb: 2\n", "pw", ErrSecretsFormat},
		{"merge key", "base: &b {x: 1}\n<<: *b\n", "pw", ErrSecretsFormat},
		{"mapping as key", "? {a: 1}\n: v\n", "pw", ErrSecretsFormat},
		{"bad yaml", "a: 'unclosed\n", "pw", ErrSecretsFormat},
		{"tab indentation", "a:\n\t- b\n", "pw", ErrSecretsFormat},
		{"inline without password", inline, "", ErrEmptyPassword},
		{"inline wrong password", inline, "nope", ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecrets([]byte(tt.text), []byte(tt.password))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseSecrets error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("ParseSecrets returned %v with an error", got)
			}
		})
	}
}

func TestParseSecrets_ErrorNamesLine(t *testing.T) {
	_, err := ParseSecrets([]byte("a: 1\nb:\n  c: 2\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("error = %v, want one naming line 3 and \"b\"", err)
	}
}

// TestSetSecret_InPlace checks that only the entry changes, byte for byte.
func TestSetSecret_InPlace(t *testing.T) {
	inline, err := EncryptString([]byte("old"), []byte("pw"), "api_token", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text, key, value, want string
	}{
		{
			name:  "replace keeps comments and blank lines",
			text:  "# secrets for guestbook\n\n# the db user\ndb_password: old\n\n# app\napp_key: k   # keep me\n",
			key:   "db_password",
			value: "n3w",
			want:  "# secrets for guestbook\n\n# the db user\ndb_password: n3w\n\n# app\napp_key: k   # keep me\n",
		},
		{
			name:  "line comment on the entry is kept",
			text:  "a: old # rotated yearly\nb: x\n",
			key:   "a",
			value: "new",
			want:  "a: new # rotated yearly\nb: x\n",
		},
		{
			name:  "append a new name",
			text:  "a: 1\n# trailing comment\n",
			key:   "b",
			value: "2",
			want:  "a: 1\n# trailing comment\nb: \"2\"\n",
		},
		{
			name:  "append without final newline",
			text:  "a: 1",
			key:   "b",
			value: "x",
			want:  "a: 1\nb: x\n",
		},
		{
			name:  "empty document",
			text:  "",
			key:   "a",
			value: "x",
			want:  "a: x\n",
		},
		{
			name:  "multi-line block value replaced, comment after it kept",
			text:  "cert: |\n  line1\n  line2\n\n# next\nkey: v\n",
			key:   "cert",
			value: "one",
			want:  "cert: one\n\n# next\nkey: v\n",
		},
		{
			name:  "inline vault becomes plain",
			text:  "a: 1\n" + inline + "\nb: 2\n",
			key:   "api_token",
			value: "fresh",
			want:  "a: 1\napi_token: fresh\nb: 2\n",
		},
		{
			name:  "value that needs quoting",
			text:  "a: 1\n",
			key:   "a",
			value: "x: y # z",
			want:  "a: 'x: y # z'\n",
		},
		{
			name:  "multi-line value",
			text:  "a: 1\nb: 2\n",
			key:   "a",
			value: "l1\nl2",
			want:  "a: |-\n    l1\n    l2\nb: 2\n",
		},
		{
			name:  "indented comment after a plain value is kept",
			text:  "a: 1\n  # about a\nb: 2\n",
			key:   "a",
			value: "3",
			want:  "a: \"3\"\n  # about a\nb: 2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetSecret([]byte(tt.text), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("SetSecret =\n%s\nwant\n%s", got, tt.want)
			}
			parsed, err := ParseSecrets(got, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if parsed[tt.key] != tt.value {
				t.Errorf("after SetSecret %s = %q, want %q", tt.key, parsed[tt.key], tt.value)
			}
		})
	}
}

// TestSetSecret_Reencode covers layouts that are rewritten whole.
func TestSetSecret_Reencode(t *testing.T) {
	tests := []struct {
		name, text, key, value string
		want                   map[string]string
	}{
		{"flow mapping", "# keep me\n{a: 1, b: 2}\n", "a", "x", map[string]string{"a": "x", "b": "2"}},
		{"anchor on the replaced value", "a: &s shared\nb: *s\n", "a", "x", map[string]string{"a": "x", "b": "shared"}},
		{"indented top level", "  a: 1\n  b: 2\n", "b", "x", map[string]string{"a": "1", "b": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetSecret([]byte(tt.text), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ParseSecrets(got, nil)
			if err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, got)
			}
			if !maps.Equal(parsed, tt.want) {
				t.Errorf("after SetSecret: %v, want %v\n%s", parsed, tt.want, got)
			}
			if strings.Contains(tt.text, "# keep me") && !strings.Contains(string(got), "# keep me") {
				t.Errorf("the comment was dropped:\n%s", got)
			}
		})
	}
}

func TestSetSecret_Errors(t *testing.T) {
	tests := []struct{ name, text, key string }{
		{"empty name", "a: 1\n", ""},
		{"invalid document", "- a\n", "a"},
		{"nested value", "a:\n  b: 1\n", "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SetSecret([]byte(tt.text), tt.key, "v"); !errors.Is(err, ErrSecretsFormat) {
				t.Errorf("SetSecret error = %v, want ErrSecretsFormat", err)
			}
		})
	}
}
