package secrets

import (
	"errors"
	"strings"
	"testing"
)

func TestEncryptString_Format(t *testing.T) {
	tests := []struct {
		name, label, wantFirst, wantHeader string
	}{
		{"db_password", "", "db_password: !vault |", "          $ANSIBLE_VAULT;1.1;AES256"},
		{"db_password", "prod", "db_password: !vault |", "          $ANSIBLE_VAULT;1.2;AES256;prod"},
		{"", "", "!vault |", "          $ANSIBLE_VAULT;1.1;AES256"},
		{"yes", "", `"yes": !vault |`, "          $ANSIBLE_VAULT;1.1;AES256"},
		{"a: b", "", `'a: b': !vault |`, "          $ANSIBLE_VAULT;1.1;AES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.label, func(t *testing.T) {
			out, err := EncryptString([]byte("s3cret"), []byte("pw"), tt.name, tt.label)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(out, "\n")
			if lines[0] != tt.wantFirst || lines[1] != tt.wantHeader {
				t.Errorf("snippet starts %q, %q; want %q, %q", lines[0], lines[1], tt.wantFirst, tt.wantHeader)
			}
			if strings.HasSuffix(out, "\n") {
				t.Error("snippet ends in a newline; ansible's does not")
			}
			for _, l := range lines[2:] {
				if !strings.HasPrefix(l, strings.Repeat(" ", 10)) || len(l) > 90 {
					t.Errorf("line %q is not 10 spaces and at most 80 hex characters", l)
				}
			}
			in, err := DecryptString([]byte(out), []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if in.Name != tt.name || string(in.Value) != "s3cret" || in.Label != tt.label {
				t.Errorf("DecryptString = %+v, want name %q, value s3cret, label %q", in, tt.name, tt.label)
			}
		})
	}
}

func TestEncryptString_NameOnManyLines(t *testing.T) {
	if _, err := EncryptString([]byte("x"), []byte("pw"), "a\nb", ""); !errors.Is(err, ErrSecretsFormat) {
		t.Errorf("error = %v, want ErrSecretsFormat", err)
	}
}

func TestDecryptString_Testdata(t *testing.T) {
	in, err := DecryptString(readTestdata(t, "ansible-encrypt-string.yml"), []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != "db_password" || string(in.Value) != "s3cret" || in.Label != "" {
		t.Errorf("DecryptString = %+v, want db_password = s3cret", in)
	}
}

func TestDecryptString_Errors(t *testing.T) {
	one, err := EncryptString([]byte("x"), []byte("pw"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, snippet, password string
		want                    error
	}{
		{"no tag", "a: |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", "pw", ErrInlineFormat},
		{"two names", one + "\n" + strings.Replace(one, "a:", "b:", 1), "pw", ErrInlineFormat},
		{"not yaml", "a: [", "pw", ErrInlineFormat},
		{"empty", "", "pw", ErrInlineFormat},
		{"list", "- a\n", "pw", ErrInlineFormat},
		{"wrong password", one, "nope", ErrDecrypt},
		{"damaged", strings.Replace(one, "AES256\n", "AES256\n          0", 1), "pw", ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecryptString([]byte(tt.snippet), []byte(tt.password)); !errors.Is(err, tt.want) {
				t.Errorf("DecryptString error = %v, want %v", err, tt.want)
			}
		})
	}
}
