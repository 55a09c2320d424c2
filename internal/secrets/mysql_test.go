package secrets

import (
	"strings"
	"testing"
)

func TestMySQLNativeHash_Known(t *testing.T) {
	tests := map[string]string{
		// SELECT PASSWORD('password') on MariaDB and MySQL 5.x.
		"password": "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
		"":         "",
	}
	for pw, want := range tests {
		if got := MySQLNativeHash([]byte(pw)); got != want {
			t.Errorf("MySQLNativeHash(%q) = %q, want %q", pw, got, want)
		}
	}
	if got := MySQLNativeHash([]byte("s3cret")); len(got) != 41 || got[0] != '*' || strings.ToUpper(got) != got {
		t.Errorf("MySQLNativeHash = %q, want * and 40 upper-case hex digits", got)
	}
}
