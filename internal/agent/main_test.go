package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the programs the agent supervises: with
// TRIO_AGENT_HELPER set it runs one of them instead of the tests. A real
// process beats a fake, and the test binary is the one program every CI
// machine is sure to have.
//
//	TRIO_AGENT_HELPER=listen SOCKET   a server in the shape of nginx: it
//	                                  forks a worker, listens on SOCKET, starts
//	                                  a new worker generation on SIGHUP and
//	                                  exits on SIGQUIT or SIGTERM
//	TRIO_AGENT_HELPER=worker          a worker: sleeps until killed
//	TRIO_AGENT_HELPER=agent RUNDIR    an agent, as `trio agent` runs one
//
// The listen helper also reads:
//
//	HELPER_NAME          its name in messages and in HELPER_ORDER
//	HELPER_DELAY         how long to wait before listening (a slow start)
//	HELPER_RELOAD_DELAY  how long a reload takes before the new worker starts
//	HELPER_IGNORE        signals to ignore, such as "HUP,TERM"
//	HELPER_ORDER         a file to append HELPER_NAME to when told to stop
func TestMain(m *testing.M) {
	switch os.Getenv("TRIO_AGENT_HELPER") {
	case "":
		os.Exit(m.Run())
	case "listen":
		os.Exit(helperListen(os.Args[1]))
	case "worker":
		for {
			time.Sleep(time.Hour)
		}
	case "agent":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if err := New(os.Args[1], "helper", log).Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown TRIO_AGENT_HELPER")
		os.Exit(2)
	}
}

// workerFile is where the listen helper keeps its current worker's pid.
func workerFile(sock string) string { return sock + ".worker" }

func helperListen(sock string) int {
	name := os.Getenv("HELPER_NAME")
	say := func(format string, args ...any) {
		fmt.Printf("%s[%d]: %s\n", name, os.Getpid(), fmt.Sprintf(format, args...))
	}
	// The orphan check: the worker of the previous generation must be gone
	// by the time a new one starts.
	if b, err := os.ReadFile(workerFile(sock)); err == nil {
		var old int
		fmt.Sscan(string(b), &old)
		if info, err := readProc(old); err == nil && info.State != 'Z' {
			say("previous worker %d still alive", old)
		} else {
			say("previous worker %d gone", old)
		}
	}
	ignored := map[os.Signal]bool{}
	for _, s := range strings.Split(os.Getenv("HELPER_IGNORE"), ",") {
		if sig, err := Signal(s).Sys(); err == nil {
			signal.Ignore(sig)
			ignored[sig] = true
		}
	}
	sigs := make(chan os.Signal, 4)
	for _, sig := range []os.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM} {
		if !ignored[sig] {
			signal.Notify(sigs, sig)
		}
	}

	worker, err := startWorker(sock)
	if err != nil {
		say("start worker: %v", err)
		return 1
	}
	say("worker %d", worker.Process.Pid)
	if d, err := time.ParseDuration(os.Getenv("HELPER_DELAY")); err == nil {
		time.Sleep(d)
	}
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		say("listen: %v", err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	say("listening on %s", sock)

	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			if d, err := time.ParseDuration(os.Getenv("HELPER_RELOAD_DELAY")); err == nil {
				time.Sleep(d)
			}
			next, err := startWorker(sock)
			if err != nil {
				say("reload: %v", err)
				continue
			}
			_ = worker.Process.Kill()
			_ = worker.Wait()
			worker = next
			say("reloaded; worker %d", worker.Process.Pid)
		default:
			say("stopping on %v", sig)
			if f := os.Getenv("HELPER_ORDER"); f != "" {
				if fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
					fmt.Fprintln(fh, name)
					fh.Close()
				}
			}
			_ = worker.Process.Kill()
			_ = worker.Wait()
			ln.Close()
			return 0
		}
	}
	return 0
}

func startWorker(sock string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"TRIO_AGENT_HELPER=worker"}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(workerFile(sock), []byte(fmt.Sprint(cmd.Process.Pid)), 0o600); err != nil {
		return nil, err
	}
	return cmd, nil
}
