package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// Write prints the report in format (OutputText or OutputJSON).
func Write(w io.Writer, r Report, format string) error {
	switch format {
	case OutputText:
		return WriteText(w, r)
	case OutputJSON:
		return WriteJSON(w, r)
	}
	return fmt.Errorf("unknown output format %q: use %s or %s", format, OutputText, OutputJSON)
}

// WriteJSON prints the report as one JSON object: {"results":[…]}, in input order.
func WriteJSON(w io.Writer, r Report) error {
	if r.Results == nil {
		r.Results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep the fixes' shell quoting readable
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints one block per object, then a summary line.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	denied, warned := 0, 0
	for _, res := range r.Results {
		if !res.Allowed {
			denied++
		}
		if len(res.Warnings) > 0 {
			warned++
		}
		fmt.Fprintf(&b, "%s %s/%s: %s\n", res.Kind, res.Namespace, res.Name, status(res))
		fmt.Fprintf(&b, "  source: %s\n", res.Source)
		for _, v := range res.Violations {
			fmt.Fprintf(&b, "  violation: %s\n", v.Problem)
			if v.Fix != "" {
				fmt.Fprintf(&b, "    fix: %s\n", v.Fix)
			}
		}
		for _, warning := range res.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", warning)
		}
		if res.NotMutated != "" {
			fmt.Fprintf(&b, "  pods left alone: %s\n", res.NotMutated)
		}
		for _, m := range res.Mutations {
			value, err := compactJSON(m.Value)
			if err != nil {
				return err
			}
			if m.Container != "" {
				fmt.Fprintf(&b, "  inject: container %q %s: %s\n", m.Container, m.Field, value)
			} else {
				fmt.Fprintf(&b, "  inject: pod %s: %s\n", m.Field, value)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Results) == 0 {
		b.WriteString("No Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs or Pods found.\n")
	} else {
		fmt.Fprintf(&b, "%d checked: %d denied, %d with warnings.\n", len(r.Results), denied, warned)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func status(res Result) string {
	switch {
	case !res.Allowed:
		return "DENIED"
	case res.Validated && len(res.Violations) > 0 && res.Mode == names.ModeAudit:
		return "allowed in audit mode (enforce mode denies it)"
	case res.Validated:
		return "allowed"
	}
	return "allowed (only Deployments are validated)"
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
