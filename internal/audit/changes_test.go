package audit

import (
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ha-webhook/ha-webhook/internal/report"
)

func TestChanges(t *testing.T) {
	protected := func() *cluster { return newCluster().deployment("web", 2).pdb("web", "1") }
	recreated := func() report.Report {
		r := protected().without("web").report()
		r.Workloads[0].UID = types.UID("another")
		return r
	}
	tests := map[string]struct {
		prev, cur report.Report
		// want is "name: gained rules" or "name: fixed" per change.
		want []string
	}{
		"its PDB deleted": {
			prev: protected().report(), cur: protected().without("web").report(),
			want: []string{"web: pdb-missing"},
		},
		"its PDB back": {
			prev: protected().without("web").report(), cur: protected().report(),
			want: []string{"web: fixed"},
		},
		"no change": {prev: protected().report(), cur: protected().report()},
		"a new workload is no change: its creation was admitted": {
			prev: newCluster().report(), cur: newCluster().deployment("web", 1).report(),
		},
		"a recreated workload (another UID) is no change": {
			prev: protected().report(), cur: recreated(),
		},
		"a further violation is a change": {
			prev: newCluster().deployment("web", 2).report(), cur: newCluster().deployment("web", 1).report(),
			want: []string{"web: min-replicas"},
		},
		"a violation lost while another stays is no change": {
			prev: newCluster().deployment("web", 1).report(), cur: newCluster().deployment("web", 2).report(),
		},
		"sorted by name": {
			prev: newCluster().deployment("b", 2).pdb("b", "1").deployment("a", 2).pdb("a", "1").report(),
			cur:  newCluster().deployment("b", 2).deployment("a", 2).report(),
			want: []string{"a: pdb-missing", "b: pdb-missing"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, c := range Changes(tc.prev, tc.cur) {
				s := c.Workload.Name + ": "
				if c.Fixed {
					s += "fixed"
				}
				for i, v := range c.Gained {
					if i > 0 {
						s += ","
					}
					s += v.Rule
				}
				got = append(got, s)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
		})
	}
}

// TestChangesSinceKeepsEveryChangeOnce: a writer that saw only some audits still gets each change once, in order.
func TestChangesSinceKeepsEveryChangeOnce(t *testing.T) {
	a := New(Config{}, nil, logr.Discard())
	publish := func(r report.Report) int64 {
		res := &Result{Report: r}
		a.publish(res)
		return res.Seq
	}
	c := newCluster().deployment("web", 2).pdb("web", "1").deployment("api", 2).pdb("api", "1")
	base := publish(c.report())
	publish(c.without("web").report())                // web loses its PDB
	publish(c.without("web").without("api").report()) // then api
	changes, latest, lost := a.ChangesSince(base)
	var got []string
	for _, ch := range changes {
		got = append(got, ch.Workload.Name)
	}
	if d := cmp.Diff([]string{"web", "api"}, got); d != "" || latest != 3 || lost {
		t.Errorf("ChangesSince(%d) = %v, latest %d, lost %v; diff:\n%s", base, got, latest, lost, d)
	}
	if again, _, _ := a.ChangesSince(latest); len(again) != 0 {
		t.Errorf("ChangesSince(latest) repeats %d changes", len(again))
	}
}
