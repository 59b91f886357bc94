package audit

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got), go test -update rewrites it:\n%s", path, d)
	}
}

// cluster is a small, editable set of objects in namespace shop, opted in.
type cluster struct {
	deployments []appsv1.Deployment
	pdbs        []policyv1.PodDisruptionBudget
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	pods        []corev1.Pod
	services    []corev1.Service
	namespaces  []corev1.Namespace
}

func newCluster() *cluster {
	return &cluster{namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels: map[string]string{names.LabelEnabled: "true"}}}}}
}

func (c *cluster) deployment(name string, replicas int32, annotations ...string) *cluster {
	d := fixture.Deployment(name, fixture.Replicas(replicas))
	d.UID = types.UID("uid-" + name)
	d.Generation = 1
	for i := 0; i+1 < len(annotations); i += 2 {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[annotations[i]] = annotations[i+1]
	}
	c.deployments = append(c.deployments, *d)
	return c
}

func (c *cluster) pdb(name, maxUnavailable string) *cluster {
	p := fixture.PDB(name, fixture.SelectApp(name), nil, fixture.IntOrStr(maxUnavailable))
	p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	c.pdbs = append(c.pdbs, *p)
	return c
}

func (c *cluster) without(pdb string) *cluster {
	out := *c
	out.pdbs = nil
	for _, p := range c.pdbs {
		if p.Name != pdb {
			out.pdbs = append(out.pdbs, p)
		}
	}
	return &out
}

func (c *cluster) report() report.Report {
	return report.Build(report.Input{
		Namespaces: c.namespaces, Deployments: c.deployments, PDBs: c.pdbs, HPAs: c.hpas, Pods: c.pods,
		Services: c.services,
	}, report.DefaultOptions())
}
