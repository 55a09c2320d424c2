package apt

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestProgramVersion_RecordedOutputs(t *testing.T) {
	a := replayApt(t, "testdata/cmd")
	want := map[Component]string{Nginx: "1.22.1", PHP: "8.2.36", MariaDB: "10.11.19", HAProxy: "2.6.12"}
	for c, prefix := range bookwormVersions {
		got, err := a.ProgramVersion(context.Background(), c, prefix)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got != want[c] {
			t.Errorf("ProgramVersion(%s) = %q, want %q", c, got, want[c])
		}
	}
}

func TestProgram_Names(t *testing.T) {
	p, err := PHP.Program("8.2")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "php-fpm8.2" || p.Package != "php8.2-fpm" || strings.Join(p.Args, " ") != "-v" {
		t.Errorf("php program = %+v", p)
	}
	if p, _ := MariaDB.Program("10.11"); p.Name != "mariadbd" || p.Args[0] != "--version" {
		t.Errorf("mariadb program = %+v", p)
	}
}

func TestProgram_ParseVersionOutputRejectsGarbage(t *testing.T) {
	p, _ := Nginx.Program("1.22")
	_, err := p.ParseVersionOutput("Segmentation fault\n")
	if err == nil || !strings.Contains(err.Error(), `nginx -v printed no version: "Segmentation fault"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestProgramMatches(t *testing.T) {
	tests := []struct {
		pkg, got string
		want     bool
	}{
		{"1.22.1-9+deb12u11", "1.22.1", true},
		{"1:10.11.19-0+deb12u1", "10.11.19", true},
		{"8.2.36-1~deb12u1", "8.2.36", true},
		{"2.6.12-1+deb12u4", "2.6.12", true},
		{"1.22.1+dfsg-1", "1.22.1", true},
		{"1.22.1-9", "1.22", false},
		{"1.22.1-9", "1.22.10", false},
		{"1.22.1-9", "1.24.0", false},
		{"1.22.1-9", "", false},
	}
	for _, tt := range tests {
		if got := ProgramMatches(tt.pkg, tt.got); got != tt.want {
			t.Errorf("ProgramMatches(%q, %q) = %v, want %v", tt.pkg, tt.got, got, tt.want)
		}
	}
}

func TestVerifyProgram_StrayBinaryOnPath(t *testing.T) {
	a := replayApt(t, "testdata/cmd")
	l := bookwormLock(t)
	if err := a.VerifyProgram(context.Background(), l, Nginx); err != nil {
		t.Fatalf("VerifyProgram(recorded nginx) = %v", err)
	}
	a.LookPath = func(string) (string, error) { return "/usr/local/sbin/nginx", nil }
	a.Run = func(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
		return nil, []byte("nginx version: nginx/1.25.3\n"), nil
	}
	err := a.VerifyProgram(context.Background(), l, Nginx)
	if !errors.Is(err, ErrProgramMismatch) {
		t.Fatalf("err = %v, want ErrProgramMismatch", err)
	}
	want := "/usr/local/sbin/nginx reports 1.25.3, trio.lock pins nginx 1.22.1-9+deb12u11; remove the other nginx from PATH"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\ndoes not contain %q", err, want)
	}
}

func TestProgramVersion_NotInstalled(t *testing.T) {
	a := &Apt{LookPath: func(file string) (string, error) {
		return "", errors.New(`exec: "haproxy": executable file not found in $PATH`)
	}}
	_, err := a.ProgramVersion(context.Background(), HAProxy, "2.6")
	if err == nil || !strings.Contains(err.Error(), "haproxy not found on PATH or in /usr/sbin; run `trio up` to install haproxy") {
		t.Fatalf("err = %v", err)
	}
}
