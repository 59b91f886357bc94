package chart

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// notMapped are `serve` flags the chart deliberately has no value for.
var notMapped = map[string]string{
	"kubeconfig": "in a cluster the server uses its ServiceAccount",
	// A profiling endpoint is for a debugging session (extraArgs, then kubectl port-forward), never on by values.
	"pprof-bind-address": "a debugging endpoint: pass it with extraArgs",
}

// onlyWhenSet are flags the chart renders only when their value is set.
var onlyWhenSet = map[string]string{
	"webhook-host": "empty means all addresses, the flag's own default",
}

var helpFlag = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)\b`)

// serveFlagNames are the flags the real `ha-webhook serve --help` lists.
func serveFlagNames(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command(webhookBin, "serve", "--help")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("ha-webhook serve --help: %v\n%s", err, out.String())
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		if m := helpFlag.FindStringSubmatch(line); m != nil {
			flags[m[1]] = true
		}
	}
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in ha-webhook serve --help:\n%s", len(flags), out.String())
	}
	return flags
}

// parseArgs turns ["serve", "--name=value", ...] into name → value; every flag must use the --name=value form (so a
// boolean can never swallow the next argument) and appear once.
func parseArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("container args must start with the serve subcommand: %q", args)
	}
	out := map[string]string{}
	for _, a := range args[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			t.Errorf("argument %q is not --name=value", a)
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("flag --%s given twice", name)
		}
		out[name] = value
	}
	return out
}

func deploymentArgs(t *testing.T, set valueSet) []string {
	t.Helper()
	dep := one[appsv1.Deployment](t, mustRender(t, set.namespace, set.values), "Deployment")
	return dep.Spec.Template.Spec.Containers[0].Args
}

// Every flag the chart passes is one `ha-webhook serve` knows, with a value it accepts, and the whole command line
// passes the server's own start-up validation.
func TestServeFlagsAreKnownToTheServer(t *testing.T) {
	known := serveFlagNames(t)
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			args := deploymentArgs(t, set)
			got := parseArgs(t, args)
			for flag := range got {
				if !known[flag] {
					t.Errorf("--%s is not a flag of ha-webhook serve", flag)
				}
			}
			for flag, want := range set.args {
				if v, ok := got[flag]; !ok || v != want {
					t.Errorf("--%s = %q (set: %v), want %q", flag, v, ok, want)
				}
			}

			// The real flag set parses every name and value (--help stops right after parsing, exit 0).
			if out, err := runWebhook(append(args, "--help")...); err != nil {
				t.Errorf("ha-webhook %s --help: %v\n%s", strings.Join(args, " "), err, out)
			}
			// And the server's own validation accepts the combination: it gets as far as loading a kubeconfig.
			missing := filepath.Join(t.TempDir(), "no-such-kubeconfig")
			out, err := runWebhook(append(args, "--kubeconfig="+missing)...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(out, missing) {
				t.Errorf("ha-webhook %s should stop at the missing kubeconfig, got %v:\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// A value exists for every `serve` flag: a flag added to the server without a chart value fails here.
func TestEveryServeFlagHasAValue(t *testing.T) {
	known := serveFlagNames(t)
	wantDefault := maps.Clone(known)
	for flag := range notMapped {
		delete(wantDefault, flag)
	}
	wantAll := maps.Clone(wantDefault)
	for flag := range onlyWhenSet {
		delete(wantDefault, flag)
	}

	names := func(set valueSet) map[string]bool {
		got := map[string]bool{}
		for flag := range parseArgs(t, deploymentArgs(t, set)) {
			got[flag] = true
		}
		return got
	}
	if diff := cmp.Diff(wantDefault, names(valueSets["default"])); diff != "" {
		t.Errorf("flags rendered with default values (-serve --help +chart):\n%s", diff)
	}
	// This set changes every value, and passes --kubeconfig through extraArgs.
	got := names(valueSets["audit with every serve flag changed"])
	delete(got, "kubeconfig")
	if diff := cmp.Diff(wantAll, got); diff != "" {
		t.Errorf("flags rendered with every value set (-serve --help +chart):\n%s", diff)
	}
	t.Logf("serve flags mapped to values: %s", strings.Join(slices.Sorted(maps.Keys(wantAll)), " "))
}

func runWebhook(args ...string) (string, error) {
	cmd := exec.Command(webhookBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), errors.New("ha-webhook did not exit within 30s")
	}
}

func seconds(t *testing.T, d string) int64 {
	t.Helper()
	v, err := time.ParseDuration(d)
	if err != nil {
		t.Fatalf("duration %q: %v", d, err)
	}
	return int64(v / time.Second)
}

// containerPort resolves a probe or Service port (number or name) to the container's port number.
func containerPort(c corev1.Container, p intstr.IntOrString) string {
	if p.Type == intstr.Int {
		return strconv.Itoa(p.IntValue())
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return strconv.Itoa(int(cp.ContainerPort))
		}
	}
	return "no port named " + p.StrVal
}

func labelsSet(m map[string]string) labels.Set { return labels.Set(m) }

func mustSelector(t *testing.T, s *metav1.LabelSelector) labels.Selector {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
