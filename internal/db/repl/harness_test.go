package repl

import (
	"context"
	"testing"

	"github.com/trio-stack/trio/internal/db/dbtest"
)

// The harness runs real mariadbd processes through dbtest, as the host
// target does: data directories made by mariadb-install-db with the
// node's own my.cnf rendered for its role, one socket per node.

// requirePrograms skips the test when MariaDB is not installed, except in
// CI, where a missing program is a failure.
func requirePrograms(t testing.TB) {
	t.Helper()
	dbtest.RequirePrograms(t, "mariadbd", "mariadb-install-db", "mariadb-backup", "mariadb-dump", "mariadb")
}

// testServer is one mariadbd under test, with the role it is rendered for.
type testServer struct {
	*dbtest.Server
	t        testing.TB
	serverID uint32
	role     Role
	opts     SettingsOptions
}

// newServer prepares a node's directories and my.cnf; install or seed its
// data directory before start.
func newServer(t testing.TB, base, name string, serverID uint32, role Role, opts SettingsOptions) *testServer {
	t.Helper()
	return &testServer{
		Server: dbtest.NewServer(t, base, name, Settings(role, serverID, opts)),
		t:      t, serverID: serverID, role: role, opts: opts,
	}
}

// node is how the package under test sees the server.
func (s *testServer) node() Node {
	return Node{Name: s.Name, Socket: s.Socket(), Host: "127.0.0.1", Port: s.Port}
}

func (s *testServer) member() Member { return Member{Node: s.node(), DB: s.Admin} }

// restart starts the server again as role (a changed my.cnf).
func (s *testServer) restart(role Role) {
	s.t.Helper()
	s.role = role
	s.Reconfigure(Settings(role, s.serverID, s.opts))
	s.Start()
}

func (s *testServer) status() NodeStatus {
	s.t.Helper()
	st, err := Status(context.Background(), s.Admin)
	if err != nil {
		s.t.Fatalf("%s: %v", s.Name, err)
	}
	return st
}

func (s *testServer) checksums() map[string]int64 {
	s.t.Helper()
	m, err := TableChecksums(context.Background(), s.Admin, "app")
	if err != nil {
		s.t.Fatalf("%s: %v", s.Name, err)
	}
	return m
}
