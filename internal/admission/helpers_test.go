package admission

import (
	"github.com/google/go-cmp/cmp"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// testOptions are the defaults with the native sleep forced, so tests do not depend on detection.
func testOptions() mutate.Options {
	o := mutate.DefaultOptions()
	o.PreStopMode = mutate.PreStopSleep
	return o
}

func fuzzOptions(mode uint8, native bool) mutate.Options {
	opts := testOptions()
	opts.PreStopMode = []mutate.PreStopMode{mutate.PreStopAuto, mutate.PreStopSleep, mutate.PreStopExec}[int(mode)%3]
	opts.NativeSleepSupported = native
	if mode&4 != 0 { // a tight cap, to reach the clamping paths
		opts.PreStopSleepSeconds, opts.MaxPreStopSleepSeconds, opts.MaxTerminationGracePeriodSeconds = 5, 9, 10
	}
	return opts
}

func pdbs(ps ...*policyv1.PodDisruptionBudget) validate.Cluster { return validate.Cluster{PDBs: ps} }

// comparePaths compares field paths by their rendering (field.Path has unexported fields).
var comparePaths = cmp.Comparer(func(a, b *field.Path) bool { return a.String() == b.String() })

// rules lists the rule IDs of vs, in order.
func rules(vs []validate.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

var port8080 = intstr.FromInt32(8080)
