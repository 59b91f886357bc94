package report

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// pagingReader serves every list one item per page, as an API server may (a page holds at most limit items), and
// counts the calls per kind.
type pagingReader struct {
	client.Reader
	calls map[string]int
}

func (p *pagingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := (&client.ListOptions{}).ApplyOptions(opts)
	if o.Limit <= 0 {
		return errors.New("unbounded list")
	}
	if err := p.Reader.List(ctx, list, client.InNamespace(o.Namespace)); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	start := 0
	if o.Continue != "" {
		if start, err = strconv.Atoi(o.Continue); err != nil {
			return err
		}
	}
	end := min(start+1, len(items))
	if err := meta.SetList(list, items[start:end]); err != nil {
		return err
	}
	list.SetContinue("")
	if end < len(items) {
		list.SetContinue(strconv.Itoa(end))
	}
	p.calls[kindOf(list)]++
	return nil
}

func TestReadPages(t *testing.T) {
	objs := []client.Object{}
	for _, ns := range []corev1.Namespace{optedIn("shop"), namespace("legacy")} {
		objs = append(objs, &ns)
	}
	for _, s := range []appsv1.StatefulSet{statefulSet("shop", "db", 3), statefulSet("shop", "cache", 2), statefulSet("legacy", "queue", 1)} {
		objs = append(objs, &s)
	}
	for _, d := range []appsv1.Deployment{deployment("shop", "web", 3), deployment("legacy", "old", 1)} {
		objs = append(objs, &d)
	}
	for _, p := range []policyv1.PodDisruptionBudget{pdb("shop", "db", intstr.FromInt32(1), pdbStatus{}), pdb("shop", "web", intstr.FromInt32(1), pdbStatus{})} {
		objs = append(objs, &p)
	}
	tests := map[string]struct {
		scope            Scope
		wantStatefulSets []string
		wantDeployments  []string
		wantPDBs         int
	}{
		"opted-in namespaces": {wantStatefulSets: []string{"shop/cache", "shop/db"}, wantDeployments: []string{"shop/web"}, wantPDBs: 2},
		"all namespaces": {scope: Scope{AllNamespaces: true}, wantStatefulSets: []string{"legacy/queue", "shop/cache", "shop/db"},
			wantDeployments: []string{"legacy/old", "shop/web"}, wantPDBs: 2},
		"one namespace": {scope: Scope{Namespaces: []string{"legacy"}}, wantStatefulSets: []string{"legacy/queue"}, wantDeployments: []string{"legacy/old"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &pagingReader{Reader: fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build(), calls: map[string]int{}}
			in, err := Read(context.Background(), r, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			var statefulSets, deployments []string
			for _, s := range in.StatefulSets {
				statefulSets = append(statefulSets, s.Namespace+"/"+s.Name)
			}
			for _, d := range in.Deployments {
				deployments = append(deployments, d.Namespace+"/"+d.Name)
			}
			sort.Strings(statefulSets)
			sort.Strings(deployments)
			if diff := cmp.Diff(tc.wantStatefulSets, statefulSets); diff != "" {
				t.Errorf("StatefulSets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDeployments, deployments); diff != "" {
				t.Errorf("Deployments (-want +got):\n%s", diff)
			}
			if len(in.PDBs) != tc.wantPDBs {
				t.Errorf("%d PDBs, want %d", len(in.PDBs), tc.wantPDBs)
			}
			// One item per page: every StatefulSet read is one more page, continued from the last.
			if got, want := r.calls["statefulsets"], len(tc.wantStatefulSets); got != want {
				t.Errorf("%d statefulset list calls, want one per page: %d", got, want)
			}
		})
	}
}
