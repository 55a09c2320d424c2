package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Facts of the ansible-vault format, versions 1.1 and 1.2 with AES256.
const (
	vaultMagic     = "$ANSIBLE_VAULT"
	vaultCipher    = "AES256"
	version11      = "1.1"
	version12      = "1.2"
	defaultLabel   = "default" // Ansible writes a 1.1 header for this vault id
	keyLen         = 32        // AES-256 key, and the HMAC-SHA256 key after it
	ivLen          = aes.BlockSize
	saltLen        = 32
	hmacLen        = sha256.Size
	lineWidth      = 80
	bodySeparators = 2 // salt \n hmac \n ciphertext
)

// kdfIterations is ansible's PBKDF2 iteration count. It is a variable only
// so that an active fuzzing run can make each try cheap.
var kdfIterations = 10000

// Vault is a parsed ansible-vault envelope: the header fields and the three
// parts of the body. It holds no key material.
type Vault struct {
	// Version is the format version from the header, "1.1" or "1.2".
	Version string
	// Label is the vault-id label from the header's fourth field, which
	// 1.2 headers carry; "" without one.
	Label string

	salt       []byte
	mac        []byte
	ciphertext []byte
}

// IsEncrypted reports whether data looks like an ansible-vault file, by the
// same rule as Ansible: ASCII only and starting with $ANSIBLE_VAULT.
func IsEncrypted(data []byte) bool {
	if !bytes.HasPrefix(data, []byte(vaultMagic)) {
		return false
	}
	for _, b := range data {
		if b >= 0x80 {
			return false
		}
	}
	return true
}

// Encrypt encrypts plaintext with password into an ansible-vault file. An
// empty label (or Ansible's "default") writes a 1.1 header, any other label
// a 1.2 header carrying it.
func Encrypt(plaintext, password []byte, label string) ([]byte, error) {
	if len(password) == 0 {
		return nil, fmt.Errorf("encrypt vault: %w", ErrEmptyPassword)
	}
	if IsEncrypted(plaintext) {
		return nil, fmt.Errorf("encrypt vault: %w", ErrAlreadyEncrypted)
	}
	v := &Vault{Version: version11}
	if label != "" && label != defaultLabel {
		if !validLabel(label) {
			return nil, fmt.Errorf("encrypt vault: label %q: %w", label, ErrLabel)
		}
		v.Version, v.Label = version12, label
	}
	v.salt = make([]byte, saltLen)
	if _, err := rand.Read(v.salt); err != nil {
		return nil, fmt.Errorf("encrypt vault: %w", err)
	}
	if err := v.seal(plaintext, password); err != nil {
		return nil, fmt.Errorf("encrypt vault: %w", err)
	}
	return v.encode(), nil
}

// Decrypt decrypts an ansible-vault file and returns its plaintext and the
// vault-id label of a 1.2 header ("" for 1.1).
func Decrypt(data, password []byte) (plaintext []byte, label string, err error) {
	v, err := parse(data)
	if err != nil {
		return nil, "", fmt.Errorf("decrypt vault: %w", err)
	}
	plaintext, err = v.open(password)
	if err != nil {
		return nil, "", fmt.Errorf("decrypt vault: %w", err)
	}
	return plaintext, v.Label, nil
}

// Parse checks the structure of an ansible-vault file without a password,
// for example to read its label. It is stricter than Ansible: it rejects
// versions other than 1.1 and 1.2 (Ansible ignores the version) and bodies
// that cannot be a whole number of AES blocks.
func Parse(data []byte) (*Vault, error) {
	v, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse vault: %w", err)
	}
	return v, nil
}

// Open decrypts the vault with password after checking its HMAC.
func (v *Vault) Open(password []byte) ([]byte, error) {
	plaintext, err := v.open(password)
	if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	return plaintext, nil
}

// parse is Parse without the operation in its errors.
func parse(data []byte) (*Vault, error) {
	if !bytes.HasPrefix(data, []byte(vaultMagic)) {
		return nil, ErrNotVault
	}
	header, body, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Split(strings.TrimSpace(string(header)), ";")
	if len(fields) < 3 || len(fields) > 4 || fields[0] != vaultMagic {
		return nil, fmt.Errorf("header %q: %w", truncate(header, 60), ErrHeader)
	}
	v := &Vault{Version: strings.TrimSpace(fields[1])}
	if v.Version != version11 && v.Version != version12 {
		return nil, fmt.Errorf("version %q: %w", truncate([]byte(v.Version), 20), ErrVersion)
	}
	if c := strings.TrimSpace(fields[2]); c != vaultCipher {
		return nil, fmt.Errorf("cipher %q: %w", truncate([]byte(c), 20), ErrCipher)
	}
	// Ansible reads a label from any header with a fourth field.
	if len(fields) == 4 {
		v.Label = strings.TrimSpace(fields[3])
	}
	if err := v.decodeBody(body); err != nil {
		return nil, err
	}
	return v, nil
}

// open is Open without the operation in its errors.
func (v *Vault) open(password []byte) ([]byte, error) {
	if len(password) == 0 {
		return nil, ErrEmptyPassword
	}
	cipherKey, macKey, iv, err := deriveKeys(password, v.salt)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, macKey)
	m.Write(v.ciphertext)
	if !hmac.Equal(m.Sum(nil), v.mac) {
		return nil, ErrDecrypt
	}
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return nil, err
	}
	padded := make([]byte, len(v.ciphertext))
	cipher.NewCTR(block, iv).XORKeyStream(padded, v.ciphertext)
	return unpad(padded)
}

// seal encrypts plaintext into v with a key derived from password and v.salt.
func (v *Vault) seal(plaintext, password []byte) error {
	cipherKey, macKey, iv, err := deriveKeys(password, v.salt)
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return err
	}
	// Ansible pads to whole blocks even though CTR does not need it, and
	// checks the padding on the way back, so we must do the same.
	v.ciphertext = pad(plaintext)
	cipher.NewCTR(block, iv).XORKeyStream(v.ciphertext, v.ciphertext)
	m := hmac.New(sha256.New, macKey)
	m.Write(v.ciphertext)
	v.mac = m.Sum(nil)
	return nil
}

// encode renders the envelope as Ansible writes it: header line, then the
// doubly hex-encoded body in lines of 80 characters, each ending in "\n".
func (v *Vault) encode() []byte {
	inner := strings.Join([]string{
		hex.EncodeToString(v.salt),
		hex.EncodeToString(v.mac),
		hex.EncodeToString(v.ciphertext),
	}, "\n")
	outer := hex.EncodeToString([]byte(inner))

	var b strings.Builder
	b.WriteString(vaultMagic + ";" + v.Version + ";" + vaultCipher)
	if v.Version == version12 && v.Label != "" {
		b.WriteString(";" + v.Label)
	}
	b.WriteByte('\n')
	for len(outer) > 0 {
		n := min(lineWidth, len(outer))
		b.WriteString(outer[:n])
		b.WriteByte('\n')
		outer = outer[n:]
	}
	return []byte(b.String())
}

// decodeBody undoes the two hex layers of the body lines.
func (v *Vault) decodeBody(body []byte) error {
	var joined []byte
	for line := range bytes.Lines(body) {
		joined = append(joined, bytes.TrimSpace(line)...)
	}
	if len(joined) == 0 {
		return fmt.Errorf("no encrypted data after the header: %w", ErrCorrupt)
	}
	inner, err := decodeHex(joined, "body")
	if err != nil {
		return err
	}
	parts := bytes.SplitN(inner, []byte("\n"), bodySeparators+1)
	if len(parts) != bodySeparators+1 {
		return fmt.Errorf("body has %d of 3 fields (salt, hmac, ciphertext): %w", len(parts), ErrCorrupt)
	}
	if v.salt, err = decodeHex(parts[0], "salt"); err != nil {
		return err
	}
	if v.mac, err = decodeHex(parts[1], "hmac"); err != nil {
		return err
	}
	if v.ciphertext, err = decodeHex(parts[2], "ciphertext"); err != nil {
		return err
	}
	switch {
	case len(v.salt) == 0:
		return fmt.Errorf("empty salt: %w", ErrCorrupt)
	case len(v.mac) != hmacLen:
		return fmt.Errorf("hmac is %d bytes, want %d: %w", len(v.mac), hmacLen, ErrCorrupt)
	case len(v.ciphertext) == 0 || len(v.ciphertext)%aes.BlockSize != 0:
		// Padding makes every ciphertext a positive multiple of the block
		// size, so anything else was cut short or extended.
		return fmt.Errorf("ciphertext is %d bytes, not a multiple of %d: %w",
			len(v.ciphertext), aes.BlockSize, ErrCorrupt)
	}
	return nil
}

// deriveKeys splits one PBKDF2-HMAC-SHA256 output into the AES key, the HMAC
// key and the CTR initial counter, in that order.
func deriveKeys(password, salt []byte) (cipherKey, macKey, iv []byte, err error) {
	k, err := pbkdf2.Key(sha256.New, string(password), salt, kdfIterations, 2*keyLen+ivLen)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("derive key: %w", err)
	}
	return k[:keyLen], k[keyLen : 2*keyLen], k[2*keyLen:], nil
}

// pad applies PKCS#7 padding to a whole number of AES blocks, into a new slice.
func pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	return append(out, bytes.Repeat([]byte{byte(n)}, n)...)
}

// unpad strips PKCS#7 padding.
func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, ErrPadding
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, ErrPadding
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, ErrPadding
		}
	}
	return b[:len(b)-n], nil
}

// decodeHex decodes one hex field, naming it in the error.
func decodeHex(s []byte, field string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("%s has odd length %d, the file is truncated: %w", field, len(s), ErrCorrupt)
	}
	out := make([]byte, len(s)/2)
	if _, err := hex.Decode(out, s); err != nil {
		return nil, fmt.Errorf("%s is not hex (%v): %w", field, err, ErrCorrupt)
	}
	return out, nil
}

// validLabel reports whether label can sit in a 1.2 header and be named on
// an ansible-vault command line as --vault-id label@source.
func validLabel(label string) bool {
	for _, r := range label {
		if r <= ' ' || r >= 0x7f || r == ';' || r == '@' {
			return false
		}
	}
	return label != ""
}

// truncate shortens b for an error message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
