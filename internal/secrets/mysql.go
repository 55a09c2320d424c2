package secrets

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// MySQLNativeHash returns the mysql_native_password hash of password, as
// MariaDB's PASSWORD() computes it: "*" and the upper-case hex of
// SHA1(SHA1(password)), 41 characters, for use in
// `CREATE USER ... IDENTIFIED BY PASSWORD '*...'`. An empty password gives
// "", as PASSWORD of an empty string does; MariaDB reads that as none.
func MySQLNativeHash(password []byte) string {
	if len(password) == 0 {
		return ""
	}
	inner := sha1.Sum(password)
	outer := sha1.Sum(inner[:])
	return "*" + strings.ToUpper(hex.EncodeToString(outer[:]))
}
