package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/trio-stack/trio/internal/target"
)

// progress prints steps as they run: a line when a step begins, its
// progress messages indented, and how it ended with its time.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	last string // last progress message, to skip repeats
	tty  bool
	// timings collect step durations for -o json.
	timings []stepTiming
}

type stepTiming struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
	Failed  bool    `json:"failed,omitempty"`
}

func newProgress(w io.Writer) *progress { return &progress{w: w, tty: isTerminal(w)} }

func (p *progress) report(e target.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := ""
	if e.Step != nil {
		name = e.Step.String()
	}
	switch e.Phase {
	case target.PhaseBegin:
		fmt.Fprintf(p.w, "=> %s\n", name)
	case target.PhaseProgress:
		msg := strings.TrimSpace(e.Message)
		if msg == "" || msg == p.last {
			return
		}
		p.last = msg
		fmt.Fprintf(p.w, "   %s\n", msg)
	case target.PhaseDone:
		p.timings = append(p.timings, stepTiming{Step: name, Seconds: e.Elapsed.Seconds()})
		if e.Elapsed > 500*time.Millisecond {
			fmt.Fprintf(p.w, "   done in %s\n", e.Elapsed.Round(100*time.Millisecond))
		}
	case target.PhaseFailed:
		p.timings = append(p.timings, stepTiming{Step: name, Seconds: e.Elapsed.Seconds(), Failed: true})
		fmt.Fprintf(p.w, "   failed after %s\n", e.Elapsed.Round(100*time.Millisecond))
	}
}
