// Package printer writes what `ha-webhook check` and `ha-webhook report` found, in the formats both offer: text for
// a person, indented JSON for a pipeline. Both commands print violations the same way, from the rule code's own
// validate.Violation.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Output formats.
const (
	Text = "text"
	JSON = "json"
)

// Formats lists the output formats, for usage messages.
var Formats = []string{Text, JSON}

// Write prints v in format: as one indented JSON object, or as the text that writeText builds.
func Write(w io.Writer, format string, v any, writeText func(*strings.Builder) error) error {
	switch format {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // keep the fixes' shell quoting readable
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case Text:
		var b strings.Builder
		if err := writeText(&b); err != nil {
			return err
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	return fmt.Errorf("unknown output format %q: use %s", format, strings.Join(Formats, " or "))
}

// Violations prints one "violation:" line per violation, its fix on the line below, indented by indent.
func Violations(b *strings.Builder, indent string, vs []validate.Violation) {
	for _, v := range vs {
		fmt.Fprintf(b, "%sviolation: %s\n", indent, v.Problem())
		if v.Fix != "" {
			fmt.Fprintf(b, "%s  fix: %s\n", indent, v.Fix)
		}
	}
}

// Warnings prints one "warning:" line per warning, indented by indent.
func Warnings(b *strings.Builder, indent string, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(b, "%swarning: %s\n", indent, w)
	}
}

// Verdict is what `check` and `report` print of the rules' verdict on one workload: the violations that deny it
// (in enforce mode) and the warnings the webhook sends. Its JSON form is part of both commands' -o json.
type Verdict struct {
	Violations []validate.Violation `json:"violations"`
	Warnings   []string             `json:"warnings"`
}

// NewVerdict is the verdict as the webhook answers it; in audit mode the violations are warnings too.
func NewVerdict(v validate.Verdict, audit bool) Verdict {
	return Verdict{
		Violations: append([]validate.Violation{}, v.Violations...),
		Warnings:   append([]string{}, validate.Warnings(v, audit)...),
	}
}

// Write prints the violations and warnings, indented by indent.
func (v Verdict) Write(b *strings.Builder, indent string) {
	Violations(b, indent, v.Violations)
	Warnings(b, indent, v.Warnings)
}
