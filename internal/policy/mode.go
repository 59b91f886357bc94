package policy

import (
	"fmt"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// Mode says whether violations block (enforce) or only warn (audit).
type Mode string

const (
	ModeEnforce Mode = "enforce"
	ModeAudit   Mode = "audit"
)

// ParseMode accepts exactly "enforce" or "audit".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeEnforce, ModeAudit:
		return Mode(s), nil
	}
	return "", fmt.Errorf("mode must be %q or %q, got %q", ModeEnforce, ModeAudit, s)
}

// ModeFor returns the mode in force for a namespace: its ha-webhook.io/mode label when valid, else the global mode.
// An invalid label value falls back to the global mode rather than to the weaker audit, so a typo never disarms
// enforcement.
func ModeFor(global Mode, namespaceLabels map[string]string) Mode {
	if m, err := ParseMode(namespaceLabels[names.LabelMode]); err == nil {
		return m
	}
	return global
}
