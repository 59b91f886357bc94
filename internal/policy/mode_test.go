package policy

import (
	"testing"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

func TestParseMode(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Mode
		wantErr bool
	}{
		"enforce":    {in: "enforce", want: ModeEnforce},
		"audit":      {in: "audit", want: ModeAudit},
		"empty":      {in: "", wantErr: true},
		"upper case": {in: "Audit", wantErr: true},
		"typo":       {in: "audti", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseMode(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseMode(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestModeFor(t *testing.T) {
	tests := map[string]struct {
		global Mode
		labels map[string]string
		want   Mode
	}{
		"no labels":                          {global: ModeEnforce, labels: nil, want: ModeEnforce},
		"namespace in audit":                 {global: ModeEnforce, labels: map[string]string{names.LabelMode: "audit"}, want: ModeAudit},
		"namespace enforces in audit global": {global: ModeAudit, labels: map[string]string{names.LabelMode: "enforce"}, want: ModeEnforce},
		"typo keeps enforce, never weakens":  {global: ModeEnforce, labels: map[string]string{names.LabelMode: "audti"}, want: ModeEnforce},
		"empty label keeps the global":       {global: ModeAudit, labels: map[string]string{names.LabelMode: ""}, want: ModeAudit},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ModeFor(tc.global, tc.labels); got != tc.want {
				t.Errorf("ModeFor(%q, %v) = %q, want %q", tc.global, tc.labels, got, tc.want)
			}
		})
	}
}
