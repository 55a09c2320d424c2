// Command dbbench measures a running trio stack with database replicas:
// failover time and lost writes when the primary is killed (-mode
// failover), or replication lag under a steady write load (-mode lag).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

var (
	trio    = flag.String("trio", "trio", "the trio binary")
	dir     = flag.String("C", ".", "the stack's directory")
	port    = flag.Int("port", 3307, "the write endpoint's port (db.port)")
	mode    = flag.String("mode", "failover", "failover or lag")
	runs    = flag.Int("runs", 10, "failovers to measure")
	seconds = flag.Int("seconds", 30, "how long the lag load runs")
	workers = flag.Int("workers", 8, "concurrent writers for the lag load")
)

type topology struct {
	Primary string
	Nodes   []struct {
		Name        string
		Role        string
		ReadOnly    bool   `json:"read_only"`
		CurrentPos  string `json:"gtid_current_pos"`
		Replication *struct {
			Master     string
			IOThread   string `json:"io_thread"`
			SQLThread  bool   `json:"sql_thread"`
			LagSeconds *int64 `json:"lag_seconds"`
		}
	}
}

func trioJSON(v any, args ...string) error {
	out, err := exec.Command(*trio, append(args, "-C", *dir, "-o", "json")...).Output()
	if err != nil {
		return fmt.Errorf("trio %v: %w", args, err)
	}
	return json.Unmarshal(out, v)
}

func settled(t topology) bool {
	for _, n := range t.Nodes {
		if n.Name == t.Primary {
			if n.ReadOnly {
				return false
			}
			continue
		}
		if n.Replication == nil || n.Replication.Master != t.Primary || n.Replication.IOThread != "Yes" || !n.Replication.SQLThread {
			return false
		}
	}
	return true
}

func waitSettled() topology {
	for {
		var t topology
		if trioJSON(&t, "db", "status") == nil && settled(t) {
			return t
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func primaryPID(name string) int {
	var st struct {
		Instances []struct {
			Name string
			PID  int
		}
	}
	if err := trioJSON(&st, "status"); err != nil {
		fail(err)
	}
	for _, i := range st.Instances {
		if i.Name == name {
			return i.PID
		}
	}
	fail(fmt.Errorf("no instance %s", name))
	return 0
}

func open() *sql.DB {
	db, err := sql.Open("mysql", fmt.Sprintf("guestbook:guestbook-dev-password@tcp(127.0.0.1:%d)/guestbook?timeout=1s&readTimeout=2s&writeTimeout=2s", *port))
	if err != nil {
		fail(err)
	}
	return db
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dbbench:", err)
	os.Exit(1)
}

func failover() {
	db := open()
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(time.Second)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS bench_writes (n BIGINT PRIMARY KEY)"); err != nil {
		fail(err)
	}
	var times []time.Duration
	totalAcked, totalLost := 0, 0
	var n int64
	db.QueryRow("SELECT COALESCE(MAX(n), 0) FROM bench_writes").Scan(&n)
	for r := 1; r <= *runs; r++ {
		t := waitSettled()
		time.Sleep(time.Second) // the anti-flapping interval of the bench stack
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var acked []int64
		var killedAt, firstAfter time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				n++
				_, err := db.ExecContext(ctx, "INSERT INTO bench_writes VALUES (?)", n)
				mu.Lock()
				if err == nil {
					acked = append(acked, n)
					if !killedAt.IsZero() && firstAfter.IsZero() {
						firstAfter = time.Now()
					}
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
		time.Sleep(time.Second)
		pid := primaryPID(t.Primary)
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		syscall.Kill(pid, syscall.SIGKILL)
		for {
			mu.Lock()
			ok := !firstAfter.IsZero()
			mu.Unlock()
			if ok {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
		<-done
		lost := 0
		for _, k := range acked {
			var x int64
			if db.QueryRow("SELECT n FROM bench_writes WHERE n = ?", k).Scan(&x) != nil {
				lost++
			}
		}
		took := firstAfter.Sub(killedAt)
		times = append(times, took)
		totalAcked += len(acked)
		totalLost += lost
		fmt.Printf("run %2d: killed %s, first write after %s, %d acknowledged, %d lost\n", r, t.Primary, took.Round(time.Millisecond), len(acked), lost)
	}
	slices.Sort(times)
	fmt.Printf("failover (kill -9 to first successful write), %d runs: min=%s median=%s max=%s; acknowledged writes %d, lost %d\n",
		len(times), times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), totalAcked, totalLost)
}

func lag() {
	waitSettled()
	db := open()
	db.SetMaxOpenConns(*workers)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS bench_load (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT, pad CHAR(120), KEY (k))"); err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*seconds)*time.Second)
	defer cancel()
	var commits atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				// A sysbench-like write transaction: insert, update, delete.
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					continue
				}
				res, err := tx.Exec("INSERT INTO bench_load (k, pad) VALUES (?, REPEAT('x', 120))", i%1000)
				if err == nil {
					id, _ := res.LastInsertId()
					tx.Exec("UPDATE bench_load SET k = k + 1 WHERE id = ?", id)
					if id%4 == 0 {
						tx.Exec("DELETE FROM bench_load WHERE id = ?", id-2)
					}
				}
				if tx.Commit() == nil {
					commits.Add(1)
				}
			}
		}()
	}
	var lags []int64
	var behind []int64
	for ctx.Err() == nil {
		time.Sleep(time.Second)
		var t topology
		if err := trioJSON(&t, "db", "status"); err != nil {
			continue
		}
		var primarySeq int64
		for _, n := range t.Nodes {
			if n.Name == t.Primary {
				primarySeq = seq(n.CurrentPos)
			}
		}
		for _, n := range t.Nodes {
			if n.Replication != nil && n.Replication.LagSeconds != nil {
				lags = append(lags, *n.Replication.LagSeconds)
				behind = append(behind, max(0, primarySeq-seq(n.CurrentPos)))
			}
		}
	}
	wg.Wait()
	slices.Sort(lags)
	slices.Sort(behind)
	if len(lags) == 0 {
		fail(fmt.Errorf("no lag samples"))
	}
	fmt.Printf("write load: %d workers, %d commits in %ds (%.0f/s)\n", *workers, commits.Load(), *seconds, float64(commits.Load())/float64(*seconds))
	fmt.Printf("replica lag, %d samples: Seconds_Behind_Master median=%ds max=%ds; transactions behind the primary median=%d max=%d\n",
		len(lags), lags[len(lags)/2], lags[len(lags)-1], behind[len(behind)/2], behind[len(behind)-1])
}

// seq reads the sequence number of a single-domain GTID position.
func seq(pos string) int64 {
	var d, s, q int64
	fmt.Sscanf(pos, "%d-%d-%d", &d, &s, &q)
	return q
}

func main() {
	// The driver logs every connection the failover cuts; the figures say enough.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	flag.Parse()
	switch *mode {
	case "failover":
		failover()
	case "lag":
		lag()
	default:
		fail(fmt.Errorf("unknown mode %q", *mode))
	}
}
