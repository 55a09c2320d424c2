package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestEncrypt_RoundTrip(t *testing.T) {
	tests := []struct {
		name, label, wantLabel, wantHeader string
		plaintext                          []byte
	}{
		{"1.1", "", "", "$ANSIBLE_VAULT;1.1;AES256", []byte("db_password: s3cret\n")},
		{"1.2", "prod", "prod", "$ANSIBLE_VAULT;1.2;AES256;prod", []byte("db_password: s3cret\n")},
		{"default label is 1.1 as in ansible", "default", "", "$ANSIBLE_VAULT;1.1;AES256", []byte("x")},
		{"empty plaintext", "", "", "$ANSIBLE_VAULT;1.1;AES256", nil},
		{"one full block", "", "", "$ANSIBLE_VAULT;1.1;AES256", bytes.Repeat([]byte("a"), 16)},
		{"binary", "", "", "$ANSIBLE_VAULT;1.1;AES256", []byte{0, 1, 2, 0xff, '\n', 0x10}},
		{"large", "l", "l", "$ANSIBLE_VAULT;1.2;AES256;l", bytes.Repeat([]byte("0123456789"), 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := mustEncrypt(t, tt.plaintext, []byte("pw"), tt.label)
			if header, _, _ := strings.Cut(string(data), "\n"); header != tt.wantHeader {
				t.Errorf("header = %q, want %q", header, tt.wantHeader)
			}
			got, label, err := Decrypt(data, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) || label != tt.wantLabel {
				t.Errorf("Decrypt = %q, %q; want %q, %q", got, label, tt.plaintext, tt.wantLabel)
			}
		})
	}
}

func TestEncrypt_Layout(t *testing.T) {
	data := mustEncrypt(t, bytes.Repeat([]byte("x"), 100), []byte("pw"), "")
	if !bytes.HasSuffix(data, []byte("\n")) || bytes.HasSuffix(data, []byte("\n\n")) {
		t.Errorf("file must end in exactly one newline:\n%s", data)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, l := range lines[1:] {
		last := i == len(lines)-2
		if len(l) > lineWidth || (!last && len(l) != lineWidth) {
			t.Errorf("body line %d has %d characters, want 80 (the last at most 80)", i+1, len(l))
		}
	}
	v := mustParse(t, data)
	if len(v.salt) != saltLen || len(v.mac) != hmacLen || len(v.ciphertext) != 112 {
		t.Errorf("salt %d, hmac %d, ciphertext %d bytes; want 32, 32, 112",
			len(v.salt), len(v.mac), len(v.ciphertext))
	}
	again := mustEncrypt(t, bytes.Repeat([]byte("x"), 100), []byte("pw"), "")
	if bytes.Equal(data, again) {
		t.Error("two encryptions are identical: the salt is not random")
	}
}

func TestEncrypt_Errors(t *testing.T) {
	tests := []struct {
		name      string
		plaintext []byte
		password  string
		label     string
		want      error
	}{
		{"empty password", []byte("x"), "", "", ErrEmptyPassword},
		{"already encrypted", readTestdata(t, "ansible-1.1.vault"), "pw", "", ErrAlreadyEncrypted},
		{"label with semicolon", []byte("x"), "pw", "a;b", ErrLabel},
		{"label with space", []byte("x"), "pw", "a b", ErrLabel},
		{"label with at", []byte("x"), "pw", "a@b", ErrLabel},
		{"label with newline", []byte("x"), "pw", "a\nb", ErrLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encrypt(tt.plaintext, []byte(tt.password), tt.label)
			if !errors.Is(err, tt.want) {
				t.Errorf("Encrypt error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDecrypt_Testdata decrypts files that ansible-vault wrote, so the
// format is checked even where ansible-vault is not installed.
func TestDecrypt_Testdata(t *testing.T) {
	for file, wantLabel := range map[string]string{"ansible-1.1.vault": "", "ansible-1.2-prod.vault": "prod"} {
		t.Run(file, func(t *testing.T) {
			got, label, err := Decrypt(readTestdata(t, file), []byte(testPassword))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != testdataPlaintext || label != wantLabel {
				t.Errorf("Decrypt = %q, %q; want %q, %q", got, label, testdataPlaintext, wantLabel)
			}
		})
	}
}

// TestSeal_KnownAnswer pins the cipher construction to a value computed by
// ansible's VaultAES256.encrypt with a fixed salt (ansible-core 2.14).
func TestSeal_KnownAnswer(t *testing.T) {
	v := &Vault{Version: version12, Label: "x", salt: []byte("0123456789abcdef0123456789abcdef")}
	if err := v.seal([]byte("hi\n"), []byte("pw")); err != nil {
		t.Fatal(err)
	}
	want := "$ANSIBLE_VAULT;1.2;AES256;x\n" +
		"33303331333233333334333533363337333833393631363236333634363536363330333133323333\n" +
		"3334333533363337333833393631363236333634363536360a386139636433363161376161656666\n" +
		"66396161373464613333656535623635333663366565393438303239393832303762626234613638\n" +
		"6364393736343232660a623131386634663330383736323130656663666633656134316131343239\n" +
		"6437\n"
	if got := string(v.encode()); got != want {
		t.Errorf("encode =\n%s\nwant\n%s", got, want)
	}
}

func TestDecrypt_Errors(t *testing.T) {
	good := mustEncrypt(t, []byte("db_password: s3cret\n"), []byte("pw"), "")
	nonHex := bytes.Clone(good)
	nonHex[len("$ANSIBLE_VAULT;1.1;AES256\n")+5] = 'g'

	// reseal re-encodes good after changing its parts.
	reseal := func(change func(v *Vault)) []byte {
		v := mustParse(t, good)
		change(v)
		return v.encode()
	}
	// withPlain encrypts arbitrary bytes as-is (no padding) under a valid
	// HMAC, which no conforming writer produces.
	withPlain := func(padded []byte) []byte {
		v := mustParse(t, good)
		k, m, iv, err := deriveKeys([]byte("pw"), v.salt)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := aes.NewCipher(k)
		v.ciphertext = make([]byte, len(padded))
		cipher.NewCTR(block, iv).XORKeyStream(v.ciphertext, padded)
		h := hmac.New(sha256.New, m)
		h.Write(v.ciphertext)
		v.mac = h.Sum(nil)
		return v.encode()
	}
	// outer hex-encodes an inner body by hand, for malformed inner fields.
	outer := func(inner string) []byte {
		return []byte("$ANSIBLE_VAULT;1.1;AES256\n" + hex.EncodeToString([]byte(inner)) + "\n")
	}
	mac := strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		data     []byte
		password string
		want     error
	}{
		{"wrong password", good, "not-pw", ErrDecrypt},
		{"empty password", good, "", ErrEmptyPassword},
		{"tampered ciphertext byte", reseal(func(v *Vault) { v.ciphertext[3] ^= 1 }), "pw", ErrDecrypt},
		{"tampered hmac", reseal(func(v *Vault) { v.mac[0] ^= 0x80 }), "pw", ErrDecrypt},
		{"tampered salt", reseal(func(v *Vault) { v.salt[31] ^= 1 }), "pw", ErrDecrypt},
		{"truncated at a block boundary", reseal(func(v *Vault) { v.ciphertext = v.ciphertext[:16] }), "pw", ErrDecrypt},
		{"truncated mid-block", reseal(func(v *Vault) { v.ciphertext = v.ciphertext[:20] }), "pw", ErrCorrupt},
		{"truncated file", good[:len(good)-7], "pw", ErrCorrupt},
		{"truncated to the header", []byte("$ANSIBLE_VAULT;1.1;AES256\n"), "pw", ErrCorrupt},
		{"odd-length hex", append(bytes.Clone(good[:len(good)-1]), "a\n"...), "pw", ErrCorrupt},
		{"non-hex byte", nonHex, "pw", ErrCorrupt},
		{"missing fields", outer("0011\n" + mac), "pw", ErrCorrupt},
		{"inner odd hex", outer("001\n" + mac + "\n" + strings.Repeat("00", 16)), "pw", ErrCorrupt},
		{"empty salt", outer("\n" + mac + "\n" + strings.Repeat("00", 16)), "pw", ErrCorrupt},
		{"short hmac", outer("0011\nabab\n" + strings.Repeat("00", 16)), "pw", ErrCorrupt},
		{"empty ciphertext", outer("0011\n" + mac + "\n"), "pw", ErrCorrupt},
		{"bad padding", withPlain([]byte("0123456789ab\x03\x07\x07\x07")), "pw", ErrPadding},
		{"padding longer than a block", withPlain(bytes.Repeat([]byte{17}, 16)), "pw", ErrPadding},
		{"zero padding byte", withPlain(make([]byte, 16)), "pw", ErrPadding},
		{"empty file", nil, "pw", ErrNotVault},
		{"plain yaml", []byte("db_password: s3cret\n"), "pw", ErrNotVault},
		{"wrong magic", bytes.Replace(good, []byte("VAULT;"), []byte("VAULTX;"), 1), "pw", ErrHeader},
		{"header missing cipher", bytes.Replace(good, []byte(";AES256"), nil, 1), "pw", ErrHeader},
		{"header with extra fields", bytes.Replace(good, []byte(";AES256"), []byte(";AES256;a;b"), 1), "pw", ErrHeader},
		{"unknown version", bytes.Replace(good, []byte(";1.1;"), []byte(";1.3;"), 1), "pw", ErrVersion},
		{"version 1.0", bytes.Replace(good, []byte(";1.1;AES256"), []byte(";1.0;AES"), 1), "pw", ErrVersion},
		{"unknown cipher", bytes.Replace(good, []byte("AES256"), []byte("AES128"), 1), "pw", ErrCipher},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Decrypt(tt.data, []byte(tt.password))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("Decrypt returned plaintext %q with an error", got)
			}
			if !strings.HasPrefix(err.Error(), "decrypt vault: ") {
				t.Errorf("error %q does not start with the operation", err)
			}
		})
	}
}

func TestDecrypt_Tolerance(t *testing.T) {
	good := mustEncrypt(t, []byte("x"), []byte("pw"), "prod")
	tests := map[string][]byte{
		"CRLF line endings":   bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")),
		"no final newline":    bytes.TrimSuffix(good, []byte("\n")),
		"indented body lines": bytes.ReplaceAll(good, []byte("\n"), []byte("\n    ")),
		"upper-case hex":      append(good[:31:31], bytes.ToUpper(good[31:])...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			got, label, err := Decrypt(data, []byte("pw"))
			if err != nil || string(got) != "x" || label != "prod" {
				t.Errorf("Decrypt = %q, %q, %v; want \"x\", \"prod\", nil", got, label, err)
			}
		})
	}
}

func TestIsEncrypted_Rule(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{"$ANSIBLE_VAULT;1.1;AES256\n6162\n", true},
		{"$ANSIBLE_VAULT", true},
		{"$ANSIBLE_VAULT;1.1;AES256\n\xff", false}, // ansible requires ASCII
		{" $ANSIBLE_VAULT;1.1;AES256\n", false},
		{"db_password: x\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsEncrypted([]byte(tt.data)); got != tt.want {
			t.Errorf("IsEncrypted(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

func TestParse_LabelWithoutPassword(t *testing.T) {
	v, err := Parse(readTestdata(t, "ansible-1.2-prod.vault"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "1.2" || v.Label != "prod" {
		t.Errorf("Parse = version %q, label %q; want 1.2, prod", v.Version, v.Label)
	}
	if _, err := v.Open([]byte("wrong")); !errors.Is(err, ErrDecrypt) || !strings.HasPrefix(err.Error(), "open vault: ") {
		t.Errorf("Open with a wrong password: %v, want \"open vault: \" and ErrDecrypt", err)
	}
	if got, err := v.Open([]byte(testPassword)); err != nil || string(got) != testdataPlaintext {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := Parse([]byte("nope")); !errors.Is(err, ErrNotVault) || !strings.HasPrefix(err.Error(), "parse vault: ") {
		t.Errorf("Parse error = %v, want \"parse vault: \" and ErrNotVault", err)
	}
}
