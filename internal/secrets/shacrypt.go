package secrets

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// The SHA-crypt scheme for SHA-512, as published by Ulrich Drepper
// ("Unix crypt using SHA-256 and SHA-512") and implemented by glibc.
const (
	sha512CryptPrefix = "$6$"
	roundsPrefix      = "rounds="
	defaultRounds     = 5000
	minRounds         = 1000
	maxRounds         = 999999999
	maxSaltLen        = 16
	newSaltLen        = 16
	// cryptAlphabet is crypt's base-64 alphabet, in value order.
	cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// HashSHA512Crypt hashes password with sha512-crypt ("$6$"). Rounds 0 uses
// the default 5000 and leaves "rounds=" out of the result, as glibc does;
// any other count is clamped to 1000..999999999 and written out. As the
// spec says, only the first 16 characters of salt count. The salt must use
// crypt's alphabet ./0-9A-Za-z, which libxcrypt (Debian's crypt) insists on.
func HashSHA512Crypt(password []byte, salt string, rounds int) (string, error) {
	if rounds < 0 {
		return "", fmt.Errorf("hash password: rounds %d: %w", rounds, ErrCryptRounds)
	}
	if strings.ContainsFunc(salt, func(r rune) bool { return !strings.ContainsRune(cryptAlphabet, r) }) {
		return "", fmt.Errorf("hash password: salt %q: %w", salt, ErrCryptSalt)
	}
	return sha512Crypt(password, salt, rounds, rounds != 0), nil
}

// NewSHA512Crypt hashes password with sha512-crypt and a fresh random
// 16-character salt. Rounds work as in HashSHA512Crypt.
func NewSHA512Crypt(password []byte, rounds int) (string, error) {
	// rand.Text would be simpler, but its alphabet is not crypt's.
	salt := make([]byte, newSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	for i, b := range salt {
		salt[i] = cryptAlphabet[b&0x3f] // 256 is a multiple of 64: no bias
	}
	return HashSHA512Crypt(password, string(salt), rounds)
}

// VerifySHA512Crypt reports whether password matches a sha512-crypt hash.
// Like crypt(3) it hashes password with the settings in hash and compares
// the whole strings, in constant time.
func VerifySHA512Crypt(hash string, password []byte) bool {
	rest, ok := strings.CutPrefix(hash, sha512CryptPrefix)
	if !ok {
		return false
	}
	rounds, custom := defaultRounds, false
	if r, after, ok := strings.Cut(rest, "$"); ok && strings.HasPrefix(r, roundsPrefix) {
		n, err := strconv.ParseUint(strings.TrimPrefix(r, roundsPrefix), 10, 64)
		if err != nil {
			return false
		}
		rounds, custom, rest = int(min(n, maxRounds)), true, after
	}
	salt, _, ok := strings.Cut(rest, "$")
	if !ok || strings.ContainsAny(salt, ":\n\x00") {
		return false
	}
	got := sha512Crypt(password, salt, rounds, custom)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

// sha512Crypt is the algorithm itself, step numbers from the spec.
func sha512Crypt(password []byte, salt string, rounds int, custom bool) string {
	if len(salt) > maxSaltLen {
		salt = salt[:maxSaltLen]
	}
	if rounds == 0 {
		rounds = defaultRounds
	}
	rounds = min(max(rounds, minRounds), maxRounds)
	p, s := password, []byte(salt)

	// Steps 4-8: digest B of password, salt, password.
	b := digest(p, s, p)

	// Steps 1-3 and 9-12: digest A.
	h := sha512.New()
	h.Write(p)
	h.Write(s)
	writeRepeated(h, b, len(p))
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(p)
		}
	}
	a := h.Sum(nil)

	// Steps 13-16: the P sequence, from the password repeated len(p) times.
	h.Reset()
	for range len(p) {
		h.Write(p)
	}
	pSeq := repeatTo(h.Sum(nil), len(p))

	// Steps 17-20: the S sequence, from the salt repeated 16+A[0] times.
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	sSeq := repeatTo(h.Sum(nil), len(s))

	// Step 21: the rounds, each feeding on the one before.
	c := a
	for i := range rounds {
		h.Reset()
		if i%2 != 0 {
			h.Write(pSeq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sSeq)
		}
		if i%7 != 0 {
			h.Write(pSeq)
		}
		if i%2 != 0 {
			h.Write(c)
		} else {
			h.Write(pSeq)
		}
		c = h.Sum(c[:0])
	}

	// Step 22: the result string.
	var out strings.Builder
	out.WriteString(sha512CryptPrefix)
	if custom {
		out.WriteString(roundsPrefix + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt + "$")
	encodeSHA512Crypt(&out, c)
	return out.String()
}

// digest returns SHA-512 of the parts in order.
func digest(parts ...[]byte) []byte {
	h := sha512.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// writeRepeated writes n bytes of b repeated over and over.
func writeRepeated(h hash.Hash, b []byte, n int) {
	for ; n > len(b); n -= len(b) {
		h.Write(b)
	}
	h.Write(b[:n])
}

// repeatTo returns n bytes of b repeated over and over.
func repeatTo(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}

// encodeSHA512Crypt writes the 64-byte digest in crypt's base-64, which
// takes the bytes in a fixed shuffled order, three at a time, low bits first.
func encodeSHA512Crypt(out *strings.Builder, d []byte) {
	for i := range 21 {
		x, y, z := d[i], d[i+21], d[i+42]
		switch i % 3 {
		case 1:
			x, y, z = y, z, x
		case 2:
			x, y, z = z, x, y
		}
		encode24(out, x, y, z, 4)
	}
	encode24(out, 0, 0, d[63], 2)
}

// encode24 writes n characters for the 24-bit group hi:mid:lo.
func encode24(out *strings.Builder, hi, mid, lo byte, n int) {
	w := uint(hi)<<16 | uint(mid)<<8 | uint(lo)
	for range n {
		out.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}
