package secrets

import (
	"bytes"
	"errors"
	"flag"
	"maps"
	"testing"
)

// decryptErrors are the errors Decrypt may return; anything else is a bug.
var decryptErrors = []error{
	ErrNotVault, ErrHeader, ErrVersion, ErrCipher, ErrCorrupt, ErrDecrypt, ErrPadding, ErrEmptyPassword,
}

// FuzzDecrypt feeds arbitrary files and passwords to Decrypt, which must
// fail with one of its documented errors and never panic, and checks that
// Encrypt then Decrypt gives back any input.
func FuzzDecrypt(f *testing.F) {
	// testdata/fuzz/FuzzDecrypt holds more seeds, among them vaults that
	// ansible-vault wrote.
	f.Add(mustEncrypt(f, []byte("db_password: s3cret\n"), []byte("pw"), "prod"), []byte("pw"))
	f.Add([]byte("$ANSIBLE_VAULT;1.1;AES256\n3030\n"), []byte("pw"))
	cheapKDFWhileFuzzing(f)
	f.Fuzz(func(t *testing.T, data, password []byte) {
		plain, label, err := Decrypt(data, password)
		if err != nil {
			if !isOneOf(err, decryptErrors) {
				t.Fatalf("Decrypt returned an undocumented error: %v", err)
			}
			if plain != nil || label != "" {
				t.Fatalf("Decrypt returned %q, %q with an error", plain, label)
			}
		}
		if len(password) == 0 || IsEncrypted(data) {
			return
		}
		enc, err := Encrypt(data, password, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		back, label, err := Decrypt(enc, password)
		if err != nil || !bytes.Equal(back, data) || label != "fuzz" {
			t.Fatalf("round trip = %q, %q, %v; want %q, fuzz", back, label, err, data)
		}
	})
}

// FuzzParseSecrets feeds arbitrary text to ParseSecrets, which must not
// panic, and checks that SetSecret on any valid document sets the one name
// and leaves every other secret as it was.
func FuzzParseSecrets(f *testing.F) {
	f.Add([]byte("db_password: s3cret\n"), "db_password", "n3w")
	f.Add([]byte("# c\na: 1 # x\n\nb: |\n  two\n  lines\n"), "b", "x: y")
	f.Add([]byte("{a: 1}\n"), "c", "multi\nline")
	cheapKDFWhileFuzzing(f)
	f.Fuzz(func(t *testing.T, text []byte, name, value string) {
		before, err := ParseSecrets(text, []byte(testPassword))
		if err != nil {
			if !errors.Is(err, ErrSecretsFormat) && !isOneOf(err, decryptErrors) {
				t.Fatalf("ParseSecrets returned an undocumented error: %v", err)
			}
			return
		}
		if name == "" {
			return
		}
		out, err := SetSecret(text, name, value)
		if err != nil {
			// The YAML encoder cannot write every string (invalid
			// UTF-8, for one); that must be an error, not a bad file.
			if !errors.Is(err, ErrSecretsFormat) {
				t.Fatalf("SetSecret returned an undocumented error: %v", err)
			}
			return
		}
		after, err := ParseSecrets(out, []byte(testPassword))
		if err != nil {
			t.Fatalf("SetSecret wrote a document that does not parse: %v\n%s", err, out)
		}
		if after[name] != value {
			t.Fatalf("after SetSecret %q = %q, want %q\n%s", name, after[name], value, out)
		}
		delete(after, name)
		delete(before, name)
		if !maps.Equal(after, before) {
			t.Fatalf("SetSecret changed other secrets: %v, was %v\n%s", after, before, out)
		}
	})
}

// cheapKDFWhileFuzzing cuts the PBKDF2 iterations to 1 while inputs are
// being generated (-test.fuzz): instrumented, 10000 iterations take tens of
// milliseconds, and the parsers are the target, not the key derivation.
// Plain test runs keep the real count, so the ansible-made seeds decrypt.
func cheapKDFWhileFuzzing(f *testing.F) {
	fl := flag.Lookup("test.fuzz")
	if fl == nil || fl.Value.String() == "" {
		return
	}
	saved := kdfIterations
	kdfIterations = 1
	f.Cleanup(func() { kdfIterations = saved })
}

// isOneOf reports whether err wraps any of targets.
func isOneOf(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
