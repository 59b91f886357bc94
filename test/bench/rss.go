package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// measureRSS starts `ha-webhook serve` as its own process against the test API server, waits until it is ready
// (its caches have synced), sends each warm target's request to it for a second, and reads VmRSS and VmHWM (peak)
// from /proc. The process holds only ha-webhook: no load generator, no API server, no benchmark bookkeeping.
func (b *bench) measureRSS(ctx context.Context, bin string, warm []*target) (rssMiB, hwmMiB float64, err error) {
	port, err := testenv.FreePort()
	if err != nil {
		return 0, 0, err
	}
	health, err := testenv.FreePort()
	if err != nil {
		return 0, 0, err
	}
	healthAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(health))
	cmd := exec.CommandContext(ctx, bin, "serve",
		"--kubeconfig", b.env.Kubeconfig,
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(port), "--webhook-cert-path", b.env.CertDir,
		"--metrics-bind-address", "0", "--health-probe-bind-address", healthAddr,
		"--shutdown-delay", "0s", "--zap-log-level", "error")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	if err := testenv.WaitReady(ctx, "http://"+healthAddr+"/readyz", exited); err != nil {
		return 0, 0, fmt.Errorf("ha-webhook serve: %v\n%s", err, logs.String())
	}
	base := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for _, t := range warm {
		w := target{name: t.name, body: t.body, check: t.check}
		w.url = base + strings.TrimPrefix(t.url, b.base)
		w.client = newClient(b.tlsConf, b.o.conc, nil)
		s := closedLoop(ctx, &w, b.o.conc, time.Second)
		if s.errors > 0 {
			return 0, 0, fmt.Errorf("warming the separate ha-webhook with %s: %d errors, first: %s", t.name, s.errors, s.firstErr)
		}
		w.client.CloseIdleConnections()
	}
	time.Sleep(500 * time.Millisecond)
	status, err := procStatus(cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	return status["VmRSS"], status["VmHWM"], nil
}

// procStatus reads the kB fields of /proc/PID/status in MiB.
func procStatus(pid int) (map[string]float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(val)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if kb, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[key] = kb / 1024
		}
	}
	return out, sc.Err()
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
