package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// writer commits numbered rows through the app's account in a loop,
// retrying what fails, and remembers every acknowledged commit.
type writer struct {
	d    *sql.DB
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	acks    []ack
	lastErr error
	// maxBlocked is the longest time writes kept failing.
	maxBlocked time.Duration
}

type ack struct {
	id int
	at time.Time
	// afterError: the commits before this one failed.
	afterError bool
}

func startWriter(d *sql.DB, first int) *writer {
	w := &writer{d: d, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(first)
	return w
}

func (w *writer) run(id int) {
	defer close(w.done)
	var failingSince time.Time
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := w.d.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", id, fmt.Sprintf("row %d", id))
		cancel()
		var me *mysql.MySQLError
		if err == nil || errors.As(err, &me) && me.Number == 1062 { // 1062: an earlier try did commit
			w.mu.Lock()
			w.acks = append(w.acks, ack{id: id, at: time.Now(), afterError: !failingSince.IsZero()})
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
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// waitRows waits until n more rows are acknowledged.
func (w *writer) waitRows(t testing.TB, n int) {
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

// firstAfter waits for the first commit acknowledged after t0 that
// followed failed ones: the first write through the endpoint after an
// outage.
func (w *writer) firstAfter(t testing.TB, t0 time.Time, timeout time.Duration) ack {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		for _, a := range w.acks {
			if a.at.After(t0) && a.afterError {
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

// finish stops the writer and returns the acknowledged ids.
func (w *writer) finish() []int {
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
		ids[i] = a.id
	}
	return ids
}

// missing returns the acknowledged ids that s does not have.
func missing(t testing.TB, s *testNode, acked []int) []int {
	t.Helper()
	rows, err := s.admin.Query("SELECT id FROM app.t")
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

// spread is min, median and max.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %s, median %s, max %s", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
