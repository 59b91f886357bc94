package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// webhookProc is a webhook server in a process of its own against the test API server: `ha-webhook serve`, or the
// benchmark's own webhook process (child.go).
type webhookProc struct {
	cmd    *exec.Cmd
	exited chan error
	logs   *bytes.Buffer
	// started is when the process was started (exec), for the time to ready.
	started time.Time
	// base is its webhook server's https://host:port; healthURL its /readyz; metricsAddr its metrics endpoint,
	// empty when disabled.
	base        string
	healthURL   string
	metricsAddr string
	// pprof is its /debug/pprof address, empty when it serves none.
	pprof string
}

// procAddrs are a webhook process's free loopback ports: its webhook server, health endpoint and, when wanted, metrics
// endpoint (empty: off).
type procAddrs struct {
	webhookPort int
	health      string
	metrics     string
}

func freeAddrs(metrics bool) (procAddrs, error) {
	ports := make([]int, 3)
	for i := range ports {
		var err error
		if ports[i], err = testenv.FreePort(); err != nil {
			return procAddrs{}, err
		}
	}
	a := procAddrs{webhookPort: ports[0], health: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}
	if metrics {
		a.metrics = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))
	}
	return a, nil
}

// serveCommand is `bin serve` on addrs, with the test environment's serving certificate and kubeconfig.
func (b *bench) serveCommand(ctx context.Context, bin string, a procAddrs) *exec.Cmd {
	metricsFlag := a.metrics
	if metricsFlag == "" {
		metricsFlag = "0"
	}
	return exec.CommandContext(ctx, bin, "serve",
		"--kubeconfig", b.env.Kubeconfig,
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(a.webhookPort), "--webhook-cert-path", b.env.CertDir,
		"--metrics-bind-address", metricsFlag, "--health-probe-bind-address", a.health,
		"--shutdown-delay", "0s", "--client-idle-timeout", "0s", "--zap-log-level", "error")
}

// launch starts cmd, a webhook server listening on addrs, without waiting for it to be ready.
func launch(cmd *exec.Cmd, a procAddrs) (*webhookProc, error) {
	p := &webhookProc{cmd: cmd, exited: make(chan error, 1), logs: &bytes.Buffer{},
		base:      "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(a.webhookPort)),
		healthURL: "http://" + a.health + "/readyz", metricsAddr: a.metrics}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// launchReady starts cmd and waits until it is ready (its caches have synced); it is stopped when it is not.
func launchReady(ctx context.Context, cmd *exec.Cmd, a procAddrs) (*webhookProc, error) {
	p, err := launch(cmd, a)
	if err != nil {
		return nil, err
	}
	if err := testenv.WaitReady(ctx, p.healthURL, p.exited); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, p.logs.String())
	}
	return p, nil
}

// startWebhook starts bin serve on free ports, with the test environment's serving certificate, and waits until it
// is ready (its caches have synced). metrics enables its metrics endpoint (the memory measurement leaves it off);
// pprof serves Go's /debug/pprof too, for -api-cpuprofile.
func (b *bench) startWebhook(ctx context.Context, bin string, metrics, pprof bool) (*webhookProc, error) {
	a, err := freeAddrs(metrics)
	if err != nil {
		return nil, err
	}
	cmd := b.serveCommand(ctx, bin, a)
	var pprofAddr string
	if pprof {
		port, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		pprofAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd.Args = append(cmd.Args, "--pprof-bind-address", pprofAddr)
	}
	p, err := launchReady(ctx, cmd, a)
	if p != nil {
		p.pprof = pprofAddr
	}
	return p, err
}

// pid is the process's id.
func (p *webhookProc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the process to exit (killing it after 10 s).
func (p *webhookProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// warm sends each target's request to the process for d, closed loop, and fails on any wrong answer.
func (b *bench) warm(ctx context.Context, p *webhookProc, targets []*target, d time.Duration) error {
	for _, t := range targets {
		w := target{name: t.name, body: t.body, check: t.check}
		w.url = p.base + strings.TrimPrefix(t.url, b.base)
		w.client = newClient(b.tlsConf, b.o.conc, nil)
		s := closedLoop(ctx, &w, b.o.conc, d)
		w.client.CloseIdleConnections()
		if s.errors > 0 {
			return fmt.Errorf("warming the separate ha-webhook with %s: %d errors, first: %s", t.name, s.errors, s.firstErr)
		}
	}
	return nil
}

// measureRSS starts `ha-webhook serve` (bin) as its own process against the test API server, waits until it is
// ready (its caches have synced), sends each warm target's request to it for a second, and reads VmRSS and VmHWM
// (peak) from /proc. The process holds only ha-webhook: no load generator, no API server, no benchmark bookkeeping.
func (b *bench) measureRSS(ctx context.Context, bin string, warm []*target) (rssMiB, hwmMiB float64, err error) {
	p, err := b.startWebhook(ctx, bin, false, false)
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	if err := b.warm(ctx, p, warm, time.Second); err != nil {
		return 0, 0, err
	}
	time.Sleep(500 * time.Millisecond)
	status, err := procStatus(p.cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	return status["VmRSS"], status["VmHWM"], nil
}

// rssRuns measures the filled cache's resident memory o.rssRuns times for each binary (the current one, and the
// baseline's when there is one), one process at a time, alternating and swapping the order every run (ABBA) so
// that drift on a shared machine falls on both alike.
func (b *bench) rssRuns(ctx context.Context, bins binaries, warm []*target) (cur, base rssSample, err error) {
	measure := func(bin string, s *rssSample) error {
		rss, hwm, err := b.measureRSS(ctx, bin, warm)
		if err == nil {
			s.rss, s.hwm = append(s.rss, rss), append(s.hwm, hwm)
		}
		return err
	}
	for r := range b.o.rssRuns {
		order := []string{bins.current, bins.baseline}
		samples := []*rssSample{&cur, &base}
		if r%2 == 1 {
			order[0], order[1], samples[0], samples[1] = order[1], order[0], samples[1], samples[0]
		}
		for i, bin := range order {
			if bin == "" {
				continue
			}
			if err := measure(bin, samples[i]); err != nil {
				return cur, base, err
			}
		}
		b.p.printf("  run %d: current VmRSS %.1f MiB (peak %.1f)%s", r+1, last(cur.rss), last(cur.hwm), baselineNote(bins, base))
	}
	return cur, base, nil
}

func baselineNote(bins binaries, base rssSample) string {
	if bins.baseline == "" {
		return ""
	}
	return fmt.Sprintf(", baseline %.1f MiB (peak %.1f)", last(base.rss), last(base.hwm))
}

// rssSample is the VmRSS and VmHWM of several processes, in MiB.
type rssSample struct{ rss, hwm []float64 }

func last(l []float64) float64 {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// median of l (0 for none).
func median(l []float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
