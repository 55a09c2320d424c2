package fcgi

import (
	"context"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"strings"
	"testing"
)

// serve runs Go's own FastCGI server on a unix socket as the peer.
func serve(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go fcgi.Serve(ln, h)
	return sock
}

func TestGet_StatusHeadersAndBody(t *testing.T) {
	big := strings.Repeat("x", 200000) // spans several records
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {
		env := fcgi.ProcessEnv(r)
		switch r.URL.Path {
		case "/health":
			w.Header().Set("X-Script", env["SCRIPT_FILENAME"])
			w.Write([]byte(`{"status":"ok"} ` + r.URL.RawQuery))
		case "/big":
			w.Write([]byte(big))
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	})
	resp, err := Get(context.Background(), "unix", sock, "/health?x=1", map[string]string{"SCRIPT_FILENAME": "index.php"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != `{"status":"ok"} x=1` || resp.Header.Get("X-Script") != "index.php" {
		t.Fatalf("got %d %q %v", resp.Status, resp.Body, resp.Header)
	}
	resp, err = Get(context.Background(), "unix", sock, "/nope", nil)
	if err != nil || resp.Status != 503 {
		t.Fatalf("got %+v, %v; want 503", resp, err)
	}
	resp, err = Get(context.Background(), "unix", sock, "/big", nil)
	if err != nil || len(resp.Body) != len(big) {
		t.Fatalf("big body: %d bytes, %v", len(resp.Body), err)
	}
}

func TestGet_NoServer(t *testing.T) {
	if _, err := Get(context.Background(), "unix", filepath.Join(t.TempDir(), "none.sock"), "/", nil); err == nil {
		t.Fatal("no error without a server")
	}
}

func TestEncodeParams_LongValues(t *testing.T) {
	long := strings.Repeat("v", 300)
	b := encodeParams(map[string]string{"K": long})
	// 1-byte name length, 4-byte value length with the high bit set.
	if b[0] != 1 || b[1]&0x80 == 0 || len(b) != 1+4+1+300 {
		t.Fatalf("bad encoding: % x...", b[:8])
	}
}
