package e2e

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

//go:embed kwok-stages.yaml
var kwokStages []byte

// Cluster is a whole local control plane: etcd and kube-apiserver (testenv), kube-controller-manager,
// kube-scheduler, kwok managing fake nodes, and ha-webhook serving and registered. Everything listens on 127.0.0.1.
type Cluster struct {
	Env *testenv.Env
	// Clientset talks to the API server with a rate limit high enough for the drill's harness.
	Clientset kubernetes.Interface
	// LogDir holds each component's log.
	LogDir string

	procs         []*process
	stopWebhook   context.CancelFunc
	webhookExited <-chan error
	webhookErr    error
	webhookDone   bool
}

// StartCluster starts the control plane and ha-webhook. Binaries come from hack/testbin.sh (built on first use).
func StartCluster(ctx context.Context, logf func(string, ...any)) (c *Cluster, err error) {
	env, err := testenv.Start("kube-controller-manager", "kube-scheduler", "kwok")
	if err != nil {
		return nil, err
	}
	logf("etcd and kube-apiserver up")
	c = &Cluster{Env: env}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if c.LogDir, err = os.MkdirTemp("", "ha-webhook-drill-"); err != nil {
		return c, err
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 200, 400
	if c.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return c, err
	}

	// ha-webhook first: the fleet's pods must be admitted through it.
	scfg, err := env.ServerConfig()
	if err != nil {
		return c, err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stopWebhook = cancel
	if c.webhookExited, err = env.RunServer(wctx, scfg); err != nil {
		return c, fmt.Errorf("starting ha-webhook: %w", err)
	}
	if err := env.Register(ctx, env.WebhookOptions()); err != nil {
		return c, err
	}
	logf("ha-webhook serving and registered")

	stages := filepath.Join(c.LogDir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o600); err != nil {
		return c, err
	}
	kcmPort, err := testenv.FreePort()
	if err != nil {
		return c, err
	}
	schedPort, err := testenv.FreePort()
	if err != nil {
		return c, err
	}
	kc := env.Kubeconfig
	for _, p := range []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			// nodeipam needs a cluster CIDR, nodelifecycle would taint kwok's nodes, and serviceaccount-token needs a
			// signing key: none of them matter to a drain.
			"--controllers=*,-nodeipam,-nodelifecycle,-serviceaccount-token",
			"--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(kcmPort),
		}},
		{"kube-scheduler", []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(schedPort),
		}},
		{"kwok", []string{
			"--kubeconfig=" + kc,
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
			// Pod IPs are bookkeeping only: nothing ever dials them.
			"--cidr=10.0.0.0/16", "--node-ip=10.255.0.1",
			"--config=" + stages,
		}},
	} {
		proc, err := startProcess(filepath.Join(env.Assets, p.name), p.args, filepath.Join(c.LogDir, p.name+".log"))
		if err != nil {
			return c, fmt.Errorf("starting %s: %w", p.name, err)
		}
		c.procs = append(c.procs, proc)
	}
	// The controller manager is up once its service account controller has created the default ServiceAccount.
	if err := c.waitFor(ctx, "kube-controller-manager to create ServiceAccount default/default", time.Minute, func(ctx context.Context) (bool, error) {
		_, err := c.Clientset.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return c, err
	}
	logf("kube-controller-manager, kube-scheduler and kwok started")
	return c, nil
}

// waitFor polls cond every 100ms until it holds, then returns nil; on timeout it names what it waited for and which
// component logs to read.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		for _, p := range c.procs {
			if exited, err := p.exited(); exited {
				return fmt.Errorf("waiting for %s: %s exited (%v); last lines of %s:\n%s", what, filepath.Base(p.cmd.Path), err, p.log, tail(p.log, 30))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (component logs in %s)", timeout, what, c.LogDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// CheckComponents reports a component that has exited.
func (c *Cluster) CheckComponents() error {
	for _, p := range c.procs {
		if exited, err := p.exited(); exited {
			return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", filepath.Base(p.cmd.Path), err, p.log, tail(p.log, 30))
		}
	}
	if c.webhookDone {
		return fmt.Errorf("ha-webhook exited: %v", c.webhookErr)
	}
	select {
	case err := <-c.webhookExited:
		c.webhookDone, c.webhookErr = true, err
		return fmt.Errorf("ha-webhook exited: %v", err)
	default:
	}
	return nil
}

// Stop ends every component, the webhook, and the control plane; the logs stay (see RemoveLogs).
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop()
	}
	if c.stopWebhook != nil {
		c.stopWebhook()
		if c.webhookExited != nil && !c.webhookDone {
			select {
			case <-c.webhookExited:
			case <-time.After(30 * time.Second):
				errs = append(errs, errors.New("ha-webhook did not stop within 30s"))
			}
		}
	}
	if c.Env != nil {
		errs = append(errs, c.Env.Stop())
	}
	return errors.Join(errs...)
}

// RemoveLogs deletes the component logs (call it when the drill passed).
func (c *Cluster) RemoveLogs() error {
	if c.LogDir == "" {
		return nil
	}
	return os.RemoveAll(c.LogDir)
}

// kwokNodeAnnotation marks the nodes kwok manages.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// NewNode is a fake node kwok manages, labelled for its pool.
func NewNode(name, pool string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokNodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok", poolLabel: pool,
			},
		},
		Spec: corev1.NodeSpec{},
	}
}

// process is a control-plane component started by the drill.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProcess(bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (p *process) stop() {
	if exited, _ := p.exited(); exited {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
