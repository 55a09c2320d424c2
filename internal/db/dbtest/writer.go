package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Writer commits numbered rows into app.t through the app's account in a
// loop and remembers every acknowledged commit: after a failover or a
// switchover, each must be on the new primary.
type Writer struct {
	target atomic.Pointer[sql.DB]
	retry  bool
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	acks    []Ack
	lastErr error
	// maxBlocked is the longest time writes kept failing.
	maxBlocked time.Duration
}

// Ack is one acknowledged commit.
type Ack struct {
	ID int
	At time.Time
	// AfterError: the commits before this one failed.
	AfterError bool
}

// StartWriter starts writing rows numbered from first through d. With
// retry it tries a failed commit again until it goes through; without, the
// first failure stops it. It stops when the test ends, if Finish has not
// stopped it before.
func StartWriter(t testing.TB, d *sql.DB, first int, retry bool) *Writer {
	t.Helper()
	w := &Writer{retry: retry, stop: make(chan struct{}), done: make(chan struct{})}
	w.target.Store(d)
	go w.run(first)
	t.Cleanup(func() { w.Finish() })
	return w
}

// SetTarget points the writer at another connection pool, as an app
// learns of a new primary.
func (w *Writer) SetTarget(d *sql.DB) { w.target.Store(d) }

func (w *Writer) run(id int) {
	defer close(w.done)
	var failingSince time.Time
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := w.target.Load().ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", id, fmt.Sprintf("row %d", id))
		cancel()
		var me *mysql.MySQLError
		if err == nil || errors.As(err, &me) && me.Number == 1062 { // 1062: an earlier try did commit
			w.mu.Lock()
			w.acks = append(w.acks, Ack{ID: id, At: time.Now(), AfterError: !failingSince.IsZero()})
			if !failingSince.IsZero() {
				w.maxBlocked = max(w.maxBlocked, time.Since(failingSince))
				failingSince = time.Time{}
			}
			w.mu.Unlock()
			id++
			continue
		}
		w.mu.Lock()
		w.lastErr = err
		w.mu.Unlock()
		if !w.retry {
			return
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *Writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// WaitRows waits until n more rows are acknowledged.
func (w *Writer) WaitRows(t testing.TB, n int) {
	t.Helper()
	want := w.count() + n
	deadline := time.Now().Add(30 * time.Second)
	for w.count() < want {
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("writer stuck at %d rows (want %d): %v", len(w.acks), want, w.lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FirstAfter waits for the first commit acknowledged after t0 that
// followed failed ones: the first write through the endpoint after an
// outage.
func (w *Writer) FirstAfter(t testing.TB, t0 time.Time, timeout time.Duration) Ack {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		for _, a := range w.acks {
			if a.At.After(t0) && a.AfterError {
				w.mu.Unlock()
				return a
			}
		}
		last := w.lastErr
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no write went through within %s of the kill; last error: %v", timeout, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Finish stops the writer and returns the acknowledged ids.
func (w *Writer) Finish() []int {
	select {
	case <-w.done:
	default:
		close(w.stop)
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]int, len(w.acks))
	for i, a := range w.acks {
		ids[i] = a.ID
	}
	return ids
}

// LastErr is the error of the last commit that failed, or nil.
func (w *Writer) LastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// MaxBlocked is the longest time writes kept failing: a switchover's
// window.
func (w *Writer) MaxBlocked() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxBlocked
}

// Missing returns the acknowledged ids that s does not have.
func Missing(t testing.TB, s *Server, acked []int) []int {
	t.Helper()
	rows, err := s.Admin.Query("SELECT id FROM app.t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	have := map[int]bool{}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		have[id] = true
	}
	var out []int
	for _, id := range acked {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}
