package repl

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/trio-stack/trio/internal/db/dbtest"
)

// TestBackup_RoundTrip backs up a node both ways and restores each copy
// into a new node: the tables must come back identical.
func TestBackup_RoundTrip(t *testing.T) {
	requirePrograms(t)
	ctx := context.Background()
	base := dbtest.Base(t)
	standalone := SettingsOptions{Standalone: true}

	src := newServer(t, base, "src", 1, Primary, standalone)
	src.Install()
	src.Start()
	if _, err := Promote(ctx, src.Admin, 0); err != nil {
		t.Fatal(err)
	}
	src.CreateAppSchema()
	for _, q := range []string{
		"INSERT INTO app.t (id, v) SELECT seq, CONCAT('row ', seq) FROM seq.seq_1_to_3000",
		"CREATE TABLE app.blobs (id INT PRIMARY KEY, b LONGBLOB, d DECIMAL(20,6)) ENGINE=InnoDB",
		"INSERT INTO app.blobs SELECT seq, RANDOM_BYTES(200), seq / 7 FROM seq.seq_1_to_500",
		"CREATE TABLE app.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64)) ENGINE=InnoDB",
		"CREATE TRIGGER app.t_audit AFTER INSERT ON app.t FOR EACH ROW INSERT INTO app.audit (note) VALUES (NEW.v)",
		"CREATE PROCEDURE app.touch() INSERT INTO app.audit (note) VALUES ('touched')",
		"INSERT INTO app.t (id, v) VALUES (5000, 'fires the trigger')",
	} {
		src.Exec(q)
	}
	want := src.checksums()
	at := src.status().BinlogPos

	for i, method := range []Method{Physical, Logical} {
		t.Run(method.String(), func(t *testing.T) {
			dir := filepath.Join(base, "backup-"+method.String())
			var progress []string
			m, err := Backup(ctx, src.node(), dir, BackupOptions{Method: method, Progress: func(s string) { progress = append(progress, s) }})
			if err != nil {
				t.Fatal(err)
			}
			if Compare(m.GTID, at) != Same || m.ServerVersion == "" || len(m.Files) != 1 || m.Method != method {
				t.Fatalf("manifest %+v, want GTID %s, a version and one file", m, at)
			}
			if _, err := Verify(dir); err != nil {
				t.Fatal(err)
			}

			dst := newServer(t, base, "dst-"+method.String(), uint32(10+i), Primary, standalone)
			switch method {
			case Physical:
				if _, err := LoadDump(ctx, dir, dst.node(), Credentials{}); err == nil {
					t.Fatal("LoadDump took a physical backup")
				}
				if _, err := Restore(ctx, dir, dst.DataDir()); err != nil {
					t.Fatal(err)
				}
				dbtest.ChownMySQL(t, dst.DataDir())
				dst.Start()
				// As a new primary, it numbers on from the backup.
				if err := SetPosition(ctx, dst.Admin, m.GTID); err != nil {
					t.Fatal(err)
				}
				if _, err := Promote(ctx, dst.Admin, 0); err != nil {
					t.Fatal(err)
				}
				conn, err := dst.Admin.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var last string
				if _, err := conn.ExecContext(ctx, "INSERT INTO app.audit (note) VALUES ('restored')"); err != nil {
					t.Fatal(err)
				}
				if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&last); err != nil {
					t.Fatal(err)
				}
				conn.Close()
				if g, _ := MustPosition(last).Domain(0); g.Seq != at[0].Seq+1 {
					t.Fatalf("first transaction after restore is %s, want sequence %d", last, at[0].Seq+1)
				}
				dst.Exec("DELETE FROM app.audit WHERE note = 'restored'")
			case Logical:
				dst.Install()
				dst.Start()
				if _, err := Restore(ctx, dir, filepath.Join(base, "nowhere")); err == nil {
					t.Fatal("Restore took a logical backup")
				}
				if _, err := LoadDump(ctx, dir, dst.node(), Credentials{}); err != nil {
					t.Fatal(err)
				}
			}
			if got := dst.checksums(); !maps.Equal(got, want) {
				t.Fatalf("restored checksums %v, want %v", got, want)
			}
			var routines, triggers, accounts int
			err = dst.Admin.QueryRow(`SELECT
				(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'app'),
				(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'),
				(SELECT COUNT(*) FROM mysql.user WHERE User = 'app')`).Scan(&routines, &triggers, &accounts)
			if err != nil {
				t.Fatal(err)
			}
			if routines != 1 || triggers != 1 || accounts != 1 {
				t.Fatalf("restored %d routines, %d triggers, %d app accounts; want 1 each", routines, triggers, accounts)
			}
			t.Logf("%s backup at %s, %d bytes; progress %q", method, m.GTID, m.Files[0].Size, progress)
		})
	}

	t.Run("LogicalOverTCP", func(t *testing.T) {
		// A node on another machine: no socket, an admin account.
		src.Exec("CREATE USER trioadmin@'127.0.0.1' IDENTIFIED BY 'admin''pw'")
		src.Exec("GRANT ALL PRIVILEGES ON *.* TO trioadmin@'127.0.0.1' WITH GRANT OPTION")
		remote := Node{Name: "remote", Host: "127.0.0.1", Port: src.Port}
		admin := Credentials{User: "trioadmin", Password: "admin'pw"}
		d, err := remote.Open(admin)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		st, err := Status(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Backup(ctx, remote, filepath.Join(base, "backup-tcp"), BackupOptions{Method: Logical, Admin: admin})
		if err != nil {
			t.Fatal(err)
		}
		if Compare(m.GTID, st.BinlogPos) != Same {
			t.Fatalf("backup at %s, node at %s", m.GTID, st.BinlogPos)
		}
		refused := filepath.Join(base, "backup-tcp-physical")
		if _, err := Backup(ctx, remote, refused, BackupOptions{Admin: admin}); err == nil {
			t.Fatal("a physical backup of a node without a socket must be refused")
		}
		if _, err := os.Stat(refused); !os.IsNotExist(err) {
			t.Fatalf("a failed backup left %s behind", refused)
		}
	})

	t.Run("CorruptBackupRefused", func(t *testing.T) {
		dir := filepath.Join(base, "backup-physical")
		path := filepath.Join(dir, physicalFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Skip("the physical backup did not happen")
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(ctx, dir, filepath.Join(base, "corrupt")); !errors.Is(err, ErrChecksum) {
			t.Fatalf("Restore of a corrupt backup: %v, want ErrChecksum", err)
		}
		if _, err := os.Stat(filepath.Join(base, "corrupt")); !os.IsNotExist(err) {
			t.Fatalf("Restore of a corrupt backup left a data directory: %v", err)
		}
	})
}
