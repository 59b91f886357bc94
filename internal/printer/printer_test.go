package printer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/validate"
)

func TestWrite(t *testing.T) {
	v := Verdict{
		Violations: []validate.Violation{{Rule: validate.RulePDBMissing, Field: field.NewPath("spec"), Why: "no PDB", Fix: "kubectl create pdb web --selector='a&b'"}},
		Warnings:   []string{"w1"},
	}
	text := func(b *strings.Builder) error { v.Write(b, "  "); return nil }
	tests := map[string]struct {
		format  string
		text    func(*strings.Builder) error
		want    string
		wantErr string
	}{
		"text": {format: Text, text: text, want: "  violation: spec: Required value: pdb-missing: no PDB\n    fix: kubectl create pdb web --selector='a&b'\n  warning: w1\n"},
		// Shell quoting stays readable: no \u0026 for &.
		"json": {format: JSON, text: text, want: `{
  "violations": [
    {
      "rule": "pdb-missing",
      "field": "spec",
      "message": "spec: Required value: pdb-missing: no PDB; fix: kubectl create pdb web --selector='a&b'"
    }
  ],
  "warnings": [
    "w1"
  ]
}
`},
		"unknown format": {format: "yaml", text: text, wantErr: `unknown output format "yaml": use text or json`},
		"the text fails": {format: Text, text: func(*strings.Builder) error { return errors.New("boom") }, wantErr: "boom"},
		"no fix, no fix line": {format: Text, text: func(b *strings.Builder) error {
			Violations(b, "", []validate.Violation{{Rule: "r", Field: field.NewPath("f"), Why: "y"}})
			return nil
		}, want: "violation: f: Required value: r: y\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := Write(&out, tc.format, v, tc.text)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewVerdict(t *testing.T) {
	verdict := validate.Verdict{Violations: []validate.Violation{{Rule: validate.RuleMinReplicas, Why: "one"}}}
	if got := NewVerdict(verdict, false); len(got.Violations) != 1 || len(got.Warnings) != 0 {
		t.Errorf("enforce: %+v", got)
	}
	if got := NewVerdict(verdict, true); len(got.Warnings) != 1 || got.Warnings[0] != "ha-webhook audit: min-replicas: one" {
		t.Errorf("audit: %+v", got)
	}
	if got := NewVerdict(validate.Verdict{}, true); got.Violations == nil || got.Warnings == nil {
		t.Errorf("empty lists must stay [] in JSON, got %+v", got)
	}
}
