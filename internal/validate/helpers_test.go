package validate

import (
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func pdbs(ps ...*policyv1.PodDisruptionBudget) Cluster { return Cluster{PDBs: ps} }

// comparePaths compares field paths by their rendering (field.Path has unexported fields).
var comparePaths = cmp.Comparer(func(a, b *field.Path) bool { return a.String() == b.String() })

// rules lists the rule IDs of vs, in order.
func rules(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

// modeName names the mode whose warnings Warnings(v, audit) lists, as the golden files do.
func modeName(audit bool) string {
	if audit {
		return "audit"
	}
	return "enforce"
}

// dw is the workload of a Deployment.
func dw(d *appsv1.Deployment) Workload { return DeploymentWorkload(d) }
