package report

import (
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/printer"
)

// Write prints the report in format (printer.Text or printer.JSON).
func Write(w io.Writer, r Report, format string) error {
	return printer.Write(w, format, r, r.writeText)
}

// WriteJSON prints the report as one indented JSON object.
func WriteJSON(w io.Writer, r Report) error { return Write(w, r, printer.JSON) }

// WriteText prints one block per namespace — its Deployments and StatefulSets with their verdicts, pods without
// injections, PDBs that would stall a drain, PDB warnings, Services a drain would cut — then the summary.
func WriteText(w io.Writer, r Report) error { return Write(w, r, printer.Text) }

func (r Report) writeText(b *strings.Builder) error {
	fmt.Fprintf(b, "ha-webhook report: %s\n", r.Scope)
	var quiet []string
	for _, ns := range r.Namespaces {
		var nb strings.Builder
		if !writeNamespace(&nb, r, ns) {
			quiet = append(quiet, ns.Name)
			continue
		}
		b.WriteString("\n" + nb.String())
	}
	if len(quiet) > 0 {
		fmt.Fprintf(b, "\nNothing to report in %s: %s\n", plural(len(quiet), "namespace", "namespaces"), strings.Join(quiet, ", "))
	}
	if len(r.Namespaces) == 0 {
		b.WriteString("\nNo namespace in scope: opt one in with kubectl label namespace NAME " + names.LabelEnabled +
			"=true, or use --all-namespaces.\n")
	}
	s := r.Summary
	fmt.Fprintf(b, "\n%s, %s (%d with violations), %s without ha-webhook's injections, %s.\n",
		plural(s.Namespaces, "namespace", "namespaces"), plural(s.Workloads, "workload", "workloads"),
		s.WorkloadsWithViolations, plural(s.UninjectedPods, "serving pod", "serving pods"),
		plural(s.PDBWarnings, "PDB warning", "PDB warnings"))
	b.WriteString(strings.ToUpper(s.Text[:1]) + s.Text[1:] + ".\n")
	return nil
}

// writeNamespace prints a namespace's block; it returns false when there is nothing to print.
func writeNamespace(b *strings.Builder, r Report, ns Namespace) bool {
	state := "not opted in"
	if ns.OptedIn {
		state = "opted in, " + string(ns.Mode) + " mode"
	}
	fmt.Fprintf(b, "Namespace %s (%s)\n", ns.Name, state)
	empty := true
	for _, w := range r.Workloads {
		if w.Namespace != ns.Name {
			continue
		}
		empty = false
		status := "ok"
		if n := len(w.Violations); n > 0 {
			status = plural(n, "violation", "violations")
		}
		fmt.Fprintf(b, "  %s %s: %s (%d/%d ready)\n", w.Kind, w.Name, status, w.ReadyReplicas, w.Replicas)
		w.Verdict.Write(b, "    ")
	}
	for _, g := range podGroups(r.UninjectedPods, ns.Name) {
		empty = false
		of := ""
		if g.owner != "" {
			of = " of " + g.owner
		}
		if len(g.pods) == 1 {
			fmt.Fprintf(b, "  Pod %s%s: serves traffic without ha-webhook's injections\n", g.pods[0], of)
		} else {
			fmt.Fprintf(b, "  %d pods%s serve traffic without ha-webhook's injections: %s\n", len(g.pods), of, nameList(g.pods, 4))
		}
		fmt.Fprintf(b, "    missing: %s\n", g.missing)
		fmt.Fprintf(b, "    fix: %s\n", g.fix)
	}
	var findings [][3]string // what, why, fix
	for _, p := range r.StallingPDBs {
		if p.Namespace == ns.Name {
			findings = append(findings, [3]string{"PodDisruptionBudget " + p.Name + ": would stall a drain", p.Why, p.Fix})
		}
	}
	for _, p := range r.PDBWarnings {
		if p.Namespace == ns.Name {
			// The block names the PDB already.
			why := strings.TrimPrefix(p.Why, "PDB "+p.Name+": ")
			findings = append(findings, [3]string{"PodDisruptionBudget " + p.Name + ": warning: " + p.Rule, why, p.Fix})
		}
	}
	for _, s := range r.CutServices {
		if s.Namespace == ns.Name {
			findings = append(findings, [3]string{"Service " + s.Name + ": a drain would cut its traffic", s.Why, s.Fix})
		}
	}
	for _, f := range findings {
		empty = false
		fmt.Fprintf(b, "  %s: %s\n", f[0], f[1])
		fmt.Fprintf(b, "    fix: %s\n", f[2])
	}
	return !empty
}

// podGroup is the uninjected pods of one owner that lack the same things.
type podGroup struct {
	owner, missing, fix string
	pods                []string
}

// podGroups groups a namespace's uninjected pods by owner, what they lack and their fix, in order of first pod.
func podGroups(pods []Pod, namespace string) []*podGroup {
	var out []*podGroup
	index := map[string]*podGroup{}
	for _, p := range pods {
		if p.Namespace != namespace {
			continue
		}
		missing := describeInjections(p.Missing)
		key := p.Owner + "\x00" + missing + "\x00" + p.Fix
		g, ok := index[key]
		if !ok || p.Owner == "" {
			g = &podGroup{owner: p.Owner, missing: missing, fix: p.Fix}
			index[key] = g
			out = append(out, g)
		}
		g.pods = append(g.pods, p.Name)
	}
	return out
}

// nameList joins up to n names, then says how many more there are.
func nameList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// describeInjections renders what the webhook would inject, briefly (the JSON output carries the full values):
// `readinessProbe (container "app"), preStop sleep 15s (container "app"), terminationGracePeriodSeconds 45`.
func describeInjections(in []mutate.Injection) string {
	parts := make([]string, 0, len(in))
	for _, m := range in {
		what := m.Field
		switch v := m.Value.(type) {
		case *corev1.Probe:
			switch {
			case v.HTTPGet != nil:
				what += fmt.Sprintf(" httpGet %s port %s", v.HTTPGet.Path, v.HTTPGet.Port.String())
			case v.TCPSocket != nil:
				what += " tcpSocket port " + v.TCPSocket.Port.String()
			}
		case *corev1.LifecycleHandler:
			switch {
			case v.Sleep != nil:
				what += fmt.Sprintf(" sleep %ds", v.Sleep.Seconds)
			case v.Exec != nil:
				what += " exec " + strings.Join(v.Exec.Command, " ")
			}
		default:
			what += fmt.Sprintf(" %v", v)
		}
		if m.Container != "" {
			what += fmt.Sprintf(" (container %q)", m.Container)
		}
		parts = append(parts, what)
	}
	return strings.Join(parts, ", ")
}
