package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// APIServerPID is the process id of this Env's kube-apiserver, found by the port it serves on.
func (e *Env) APIServerPID() (int, error) {
	u, err := url.Parse(e.Config.Host)
	if err != nil {
		return 0, err
	}
	flag := "--secure-port=" + u.Port()
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		for _, a := range args {
			if a == flag {
				return strconv.Atoi(filepath.Base(filepath.Dir(f)))
			}
		}
	}
	return 0, fmt.Errorf("no kube-apiserver process serving port %s", u.Port())
}

// RestartAPIServer stops kube-apiserver with SIGTERM, as a control-plane upgrade or a crash does, waits until it has
// exited, and starts it again with the same command line and environment: the same port, certificates and etcd (which
// keeps running, so the cluster's objects and resource versions survive). It returns once the new process answers
// /readyz. The new process is stopped by Stop.
func (e *Env) RestartAPIServer(ctx context.Context) (APIServerRestart, error) {
	var r APIServerRestart
	pid, err := e.APIServerPID()
	if err != nil {
		return r, err
	}
	args, err := procStrings(pid, "cmdline")
	if err != nil {
		return r, err
	}
	environ, err := procStrings(pid, "environ")
	if err != nil {
		return r, err
	}
	u, err := url.Parse(e.Config.Host)
	if err != nil {
		return r, err
	}
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return r, err
	}
	gone := func() bool { return !serving(u.Host) && !running(pid) }
	// kube-apiserver's graceful termination can outlast its listener by minutes while clients hold watches open;
	// what the cluster's clients see is the port closed at once. Past a bound the process is killed, as a
	// control-plane restart that does not wait would.
	if err := poll(ctx, apiServerStopTimeout, gone); err != nil {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return r, err
		}
		if err := poll(ctx, 10*time.Second, gone); err != nil {
			return r, fmt.Errorf("kube-apiserver (pid %d) did not exit after SIGTERM and SIGKILL: %w", pid, err)
		}
		r.Killed = true
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // as envtest starts it: apart from the test's signals
	e.apiServerLog = &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = e.apiServerLog, e.apiServerLog
	if err := cmd.Start(); err != nil {
		return r, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	e.restarted = append(e.restarted, restartedProc{cmd: cmd, exited: exited})
	hc, err := rest.HTTPClientFor(e.Config)
	if err != nil {
		return r, err
	}
	var last string
	err = poll(ctx, 60*time.Second, func() bool {
		resp, err := hc.Get(u.JoinPath("/readyz").String() + "?verbose")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return r, fmt.Errorf("the restarted kube-apiserver is not ready: %w; the last %s: %s; its log:\n%s", err, u.JoinPath("/readyz"), last, Tail(e.apiServerLog.String(), 4096))
	}
	r.Down = time.Since(start)
	return r, nil
}

// APIServerRestart is what RestartAPIServer did.
type APIServerRestart struct {
	// Down is from the SIGTERM to the new process's first /readyz 200.
	Down time.Duration
	// Killed: the old process had not exited apiServerStopTimeout after SIGTERM and was killed.
	Killed bool
}

// apiServerStopTimeout bounds the wait for kube-apiserver to exit after SIGTERM.
const apiServerStopTimeout = 15 * time.Second

// restartedProc is a kube-apiserver started by RestartAPIServer.
type restartedProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// stopRestarted ends the kube-apiservers RestartAPIServer started, before envtest stops etcd under them.
func (e *Env) stopRestarted() error {
	var errs []error
	for _, p := range e.restarted {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			errs = append(errs, p.cmd.Process.Kill())
			<-p.exited
		}
	}
	e.restarted = nil
	return errors.Join(errs...)
}

func procStrings(pid int, file string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), file))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00"), nil
}

// running: the process exists and is not a zombie waiting to be reaped.
func running(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(raw), ") ")
	return ok && !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func serving(hostPort string) bool {
	c, err := net.DialTimeout("tcp", hostPort, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// poll calls done every 50 ms until it returns true, ctx ends or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
