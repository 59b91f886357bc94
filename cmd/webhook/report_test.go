package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/server"
)

// fakeCluster is an opted-in namespace with a compliant-looking pod template but one replica, no PDB and a pod
// created without the webhook, plus a namespace that is not opted in, holding a single-replica Deployment and a
// StatefulSet of 3 whose PDB lacks unhealthyPodEvictionPolicy AlwaysAllow.
func fakeCluster(t *testing.T) connectFunc {
	t.Helper()
	labels := map[string]string{"app": "web"}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{names.LabelEnabled: "true"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
				}},
			},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", Labels: labels},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptr.To[int64](30),
				Containers: []corev1.Container{{Name: "app", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.ServiceSpec{Selector: labels}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "legacy", Name: "old"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "old"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "old"}}},
			},
		},
	}
	queue := map[string]string{"app": "queue"}
	objs = append(objs,
		&appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "legacy", Name: "queue"},
			Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To[int32](3),
				Selector: &metav1.LabelSelector{MatchLabels: queue},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: queue}},
			},
		},
		&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "legacy", Name: "queue"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: queue}},
		},
	)
	c := fake.NewClientBuilder().WithScheme(server.NewScheme()).WithObjects(objs...).Build()
	return func(string) (client.Reader, bool, error) { return c, true, nil }
}

func TestReportCommand(t *testing.T) {
	noCluster := func(string) (client.Reader, bool, error) {
		return nil, false, errors.New("no Kubernetes API server configuration")
	}
	tests := map[string]struct {
		args       []string
		connect    connectFunc // nil: the fake cluster
		wantCode   int
		wantStdout []string
		wantStderr []string // stderr must be empty when nil
	}{
		"text, opted-in namespaces": {
			wantCode: 1,
			wantStdout: []string{
				"ha-webhook report: opted-in namespaces (label ha-webhook.io/enabled=true)",
				"Namespace shop (opted in, enforce mode)",
				"Deployment web: 2 violations (0/1 ready)",
				"Pod web-1: serves traffic without ha-webhook's injections",
				"preStop sleep 15s",
				"Service web: a drain would cut its traffic: 1 backing pod",
				"An upgrade now would stall on 0 PDBs and cut traffic to 1 service.",
			},
		},
		"all namespaces": {
			args: []string{"-A"}, wantCode: 1,
			wantStdout: []string{"Namespace legacy (not opted in)", "Deployment old: 2 violations", "StatefulSet queue: ok (0/3 ready)",
				"PodDisruptionBudget queue: warning: pdb-unhealthy-eviction: ",
				"2 namespaces, 3 workloads (2 with violations), 1 serving pod without ha-webhook's injections, 1 PDB warning."},
		},
		"one namespace": {
			args: []string{"-n", "legacy", "-o", "json"}, wantCode: 1,
			wantStdout: []string{`"scope": "namespaces legacy"`, `"name": "old"`, `"kind": "StatefulSet"`, `"rule": "pdb-unhealthy-eviction"`},
		},
		"mutation flags shape the preview": {
			args: []string{"--prestop-sleep=20"}, wantCode: 1, wantStdout: []string{"preStop sleep 20s", "terminationGracePeriodSeconds 50"},
		},
		"rule flags are applied": {
			args: []string{"--min-replicas=1", "-o", "json"}, wantCode: 1, wantStdout: []string{`"rule": "pdb-missing"`},
		},
		"missing namespace": {
			args: []string{"-n", "nope"}, wantCode: 2, wantStderr: []string{"namespace nope not found"},
		},
		"no cluster": {
			connect: noCluster, wantCode: 2, wantStderr: []string{"ha-webhook report: no Kubernetes API server configuration"},
		},
		"-A with -n":    {args: []string{"-A", "-n", "x"}, wantCode: 2, wantStderr: []string{"exclude each other"}},
		"bad output":    {args: []string{"-o", "yaml"}, wantCode: 2, wantStderr: []string{`--output must be text or json, got "yaml"`}},
		"bad mode":      {args: []string{"--mode", "warn"}, wantCode: 2, wantStderr: []string{`mode must be "enforce" or "audit"`}},
		"positional":    {args: []string{"shop"}, wantCode: 2, wantStderr: []string{`unexpected argument "shop"`}},
		"bad timeout":   {args: []string{"--timeout=0s"}, wantCode: 2, wantStderr: []string{"--timeout must be > 0"}},
		"contradiction": {args: []string{"--max-prestop-sleep=700"}, wantCode: 2, wantStderr: []string{"--max-termination-grace-period (600)"}},
		"help": {
			args: []string{"--help"}, wantCode: 0,
			wantStderr: []string{"Usage: ha-webhook report", "--all-namespaces", "--kubeconfig", "--prestop-sleep", "--min-replicas",
				"deployments,\nstatefulsets, pods"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			connect := tc.connect
			if connect == nil {
				connect = fakeCluster(t)
			}
			var stdout, stderr bytes.Buffer
			code := runReport(context.Background(), tc.args, &stdout, &stderr, connect)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, s := range tc.wantStdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if tc.wantStderr == nil && stderr.Len() > 0 {
				t.Errorf("unexpected stderr:\n%s", stderr.String())
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

func TestReportJSONIsOneObject(t *testing.T) {
	var stdout, stderr bytes.Buffer
	runReport(context.Background(), []string{"-o", "json"}, &stdout, &stderr, fakeCluster(t))
	var got struct {
		Summary struct {
			CutServices int    `json:"cutServices"`
			Text        string `json:"text"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout.String())
	}
	if got.Summary.CutServices != 1 || got.Summary.Text != "an upgrade now would stall on 0 PDBs and cut traffic to 1 service" {
		t.Errorf("summary = %+v", got.Summary)
	}
}

// TestReportConnectErrors goes through the real connect: a kubeconfig that does not exist is a usage error (2), not
// a silent fallback to another cluster.
func TestReportConnectErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope")
	code := run([]string{"report", "--kubeconfig", missing}, strings.NewReader(""), &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "no Kubernetes API server configuration") {
		t.Errorf("exit code %d, stderr:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("report created %s", missing)
	}
}
