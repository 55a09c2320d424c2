package apt

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExecRunner_SeparatesOutputsAndExitCode(t *testing.T) {
	stdout, stderr, err := ExecRunner(context.Background(), "sh", "-c", "echo out; echo err >&2; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v, want *ExitError with code 3", err)
	}
	if string(stdout) != "out\n" || string(stderr) != "err\n" || string(ee.Stderr) != "err\n" {
		t.Errorf("stdout %q, stderr %q, ExitError.Stderr %q", stdout, stderr, ee.Stderr)
	}
	if !strings.Contains(ee.Error(), "sh -c echo out; echo err >&2; exit 3: exit status 3: err") {
		t.Errorf("Error() = %q", ee.Error())
	}
}

func TestExecRunner_MissingProgram(t *testing.T) {
	_, _, err := ExecRunner(context.Background(), "trio-no-such-program")
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("err = %v, want exec.ErrNotFound", err)
	}
	if !errors.Is(aptError(err), ErrNoApt) {
		t.Errorf("aptError did not add ErrNoApt")
	}
}

func TestExecStreamer_StatusFdAndOutput(t *testing.T) {
	var lines []string
	script := `echo "$DEBIAN_FRONTEND"; echo "pmstatus:nginx:50.0000:Unpacking nginx" >&3; echo oops >&2; echo "dlstatus:1:100.0000:done" >&3; exit 100`
	out, err := ExecStreamer(context.Background(), []string{"DEBIAN_FRONTEND=noninteractive"},
		func(l string) { lines = append(lines, l) }, "sh", "-c", script)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 100 {
		t.Fatalf("err = %v, want exit 100", err)
	}
	if string(out) != "noninteractive\noops\n" {
		t.Errorf("output = %q", out)
	}
	want := []string{"pmstatus:nginx:50.0000:Unpacking nginx", "dlstatus:1:100.0000:done"}
	if !slices.Equal(lines, want) {
		t.Errorf("status lines = %q, want %q", lines, want)
	}
}

func TestExecStreamer_DaemonHoldingPipesDoesNotHang(t *testing.T) {
	// Like a maintainer script starting a service that keeps the inherited
	// descriptors: the command exits, its child lives on.
	start := time.Now()
	out, err := ExecStreamer(context.Background(), nil, nil, "sh", "-c", "sleep 6 & echo started")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "started\n" {
		t.Errorf("output = %q", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: waited for the background child", d)
	}
}

func TestExecStreamer_CancelInterrupts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := ExecStreamer(ctx, nil, nil, "sh", "-c", "trap 'exit 130' INT; while :; do sleep 0.05; done")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}
