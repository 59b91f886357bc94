package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/printer"
)

// Write prints the report in format (printer.Text or printer.JSON).
func Write(w io.Writer, r Report, format string) error {
	if r.Results == nil {
		r.Results = []Result{}
	}
	return printer.Write(w, format, r, r.writeText)
}

// WriteJSON prints the report as one JSON object: {"results":[…]}, in input order.
func WriteJSON(w io.Writer, r Report) error { return Write(w, r, printer.JSON) }

// WriteText prints one block per object, then a summary line.
func WriteText(w io.Writer, r Report) error { return Write(w, r, printer.Text) }

func (r Report) writeText(b *strings.Builder) error {
	denied, warned := 0, 0
	for _, res := range r.Results {
		if !res.Allowed {
			denied++
		}
		if len(res.Warnings) > 0 {
			warned++
		}
		fmt.Fprintf(b, "%s %s/%s: %s\n", res.Kind, res.Namespace, res.Name, status(res))
		fmt.Fprintf(b, "  source: %s\n", res.Source)
		res.Verdict.Write(b, "  ")
		for _, fix := range res.Fixes {
			fmt.Fprintf(b, "  fix: %s\n", fix)
		}
		if res.NotMutated != "" {
			fmt.Fprintf(b, "  pods left alone: %s\n", res.NotMutated)
		}
		for _, m := range res.Mutations {
			value, err := compactJSON(m.Value)
			if err != nil {
				return err
			}
			if m.Container != "" {
				fmt.Fprintf(b, "  inject: container %q %s: %s\n", m.Container, m.Field, value)
			} else {
				fmt.Fprintf(b, "  inject: pod %s: %s\n", m.Field, value)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Results) == 0 {
		b.WriteString("No Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods or PodDisruptionBudgets found.\n")
	} else {
		fmt.Fprintf(b, "%d checked: %d denied, %d with warnings.\n", len(r.Results), denied, warned)
	}
	return nil
}

func status(res Result) string {
	switch {
	case !res.Allowed:
		return "DENIED"
	case res.Validated && len(res.Violations) > 0 && res.Mode == policy.ModeAudit:
		return "allowed in audit mode (enforce mode denies it)"
	case res.Validated:
		return "allowed"
	}
	return "allowed (only Deployments and StatefulSets are validated)"
}

func compactJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}
