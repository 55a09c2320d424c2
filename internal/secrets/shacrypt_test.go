package secrets

import (
	"errors"
	"strings"
	"testing"
)

// sha512CryptVectors are the SHA-512 test vectors published with Drepper's
// specification ("Unix crypt using SHA-256 and SHA-512").
var sha512CryptVectors = []struct {
	salt     string
	rounds   int
	password string
	want     string
}{
	{"saltstring", 0, "Hello world!",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"saltstringsaltstring", 10000, "Hello world!",
		"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"toolongsaltstring", 5000, "This is just a test",
		"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"anotherlongsaltstring", 1400, "a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"short", 77777, "we have a short salt string but not a short password",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"asaltof16chars..", 123456, "a short string",
		"$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"},
	{"roundstoolow", 10, "the minimum number is still observed",
		"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
}

func TestHashSHA512Crypt_SpecVectors(t *testing.T) {
	for _, v := range sha512CryptVectors {
		got, err := HashSHA512Crypt([]byte(v.password), v.salt, v.rounds)
		if err != nil {
			t.Fatal(err)
		}
		if got != v.want {
			t.Errorf("HashSHA512Crypt(%q, %q, %d) =\n%s\nwant\n%s", v.password, v.salt, v.rounds, got, v.want)
		}
		if !VerifySHA512Crypt(v.want, []byte(v.password)) {
			t.Errorf("VerifySHA512Crypt(%q) = false for its own password", v.want)
		}
	}
}

func TestHashSHA512Crypt_Rounds(t *testing.T) {
	tests := []struct {
		rounds     int
		wantPrefix string
	}{
		{0, "$6$salt$"},
		{5000, "$6$rounds=5000$salt$"},
		{999, "$6$rounds=1000$salt$"},
	}
	for _, tt := range tests {
		got, err := HashSHA512Crypt([]byte("pw"), "salt", tt.rounds)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, tt.wantPrefix) || len(got) != len(tt.wantPrefix)+86 {
			t.Errorf("rounds %d: hash %q, want prefix %q and 86 hash characters", tt.rounds, got, tt.wantPrefix)
		}
	}
	a, _ := HashSHA512Crypt([]byte("pw"), "salt", 0)
	b, _ := HashSHA512Crypt([]byte("pw"), "salt", 5000)
	if a[len(a)-86:] != b[len(b)-86:] {
		t.Error("rounds 0 and 5000 give different digests; 0 must mean the default 5000")
	}
}

func TestHashSHA512Crypt_Errors(t *testing.T) {
	tests := []struct {
		salt   string
		rounds int
		want   error
	}{
		{"sa$lt", 0, ErrCryptSalt},
		{"sa:lt", 0, ErrCryptSalt},
		{"sält", 0, ErrCryptSalt},
		{"sa lt", 0, ErrCryptSalt},
		{"salt", -1, ErrCryptRounds},
	}
	for _, tt := range tests {
		if _, err := HashSHA512Crypt([]byte("pw"), tt.salt, tt.rounds); !errors.Is(err, tt.want) {
			t.Errorf("HashSHA512Crypt(salt %q, rounds %d) error = %v, want %v", tt.salt, tt.rounds, err, tt.want)
		}
	}
}

func TestNewSHA512Crypt_RandomSalt(t *testing.T) {
	a, err := NewSHA512Crypt([]byte("pw"), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSHA512Crypt([]byte("pw"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two hashes of the same password are equal: the salt is not random")
	}
	for _, h := range []string{a, b} {
		parts := strings.Split(h, "$")
		if len(parts) != 4 || parts[1] != "6" || len(parts[2]) != 16 || len(parts[3]) != 86 {
			t.Errorf("hash %q is not $6$<16-char salt>$<86 chars>", h)
		}
		if strings.Trim(parts[2], cryptAlphabet) != "" {
			t.Errorf("salt %q has characters outside ./0-9A-Za-z", parts[2])
		}
		if !VerifySHA512Crypt(h, []byte("pw")) {
			t.Errorf("VerifySHA512Crypt(%q) = false for its own password", h)
		}
	}
	c, err := NewSHA512Crypt([]byte("pw"), 2000)
	if err != nil || !strings.HasPrefix(c, "$6$rounds=2000$") || !VerifySHA512Crypt(c, []byte("pw")) {
		t.Errorf("NewSHA512Crypt(rounds 2000) = %q, %v", c, err)
	}
}

func TestVerifySHA512Crypt_Rejects(t *testing.T) {
	good := sha512CryptVectors[0].want
	tests := []struct{ name, hash, password string }{
		{"wrong password", good, "Hello world"},
		{"empty password", good, ""},
		{"changed digest", good[:len(good)-1] + "2", "Hello world!"},
		{"changed salt", strings.Replace(good, "saltstring", "saltstrinG", 1), "Hello world!"},
		{"md5-crypt", "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1", "Hello world!"},
		{"sha256-crypt", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF5B5/n4s.", "Hello world!"},
		{"empty hash", "", "Hello world!"},
		{"no digest", "$6$saltstring", "Hello world!"},
		{"bad rounds", "$6$rounds=x$saltstring$abc", "Hello world!"},
		{"rounds below the minimum", "$6$rounds=10$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.", "the minimum number is still observed"},
	}
	for _, tt := range tests {
		if VerifySHA512Crypt(tt.hash, []byte(tt.password)) {
			t.Errorf("%s: VerifySHA512Crypt(%q, %q) = true", tt.name, tt.hash, tt.password)
		}
	}
}
