package validate

import (
	"bytes"
	"encoding/json"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Violation is one failed rule: where, why it matters, and a ready-to-run fix.
type Violation struct {
	Rule     string
	Field    *field.Path
	BadValue any
	// Why says what goes wrong in a drain or rollout; short enough for a warning.
	Why string
	// Fix is a ready-to-run command or a concrete instruction.
	Fix string
}

// FieldError renders the violation the way kubectl prints validation errors, with the rule ID as Origin.
func (v Violation) FieldError() *field.Error {
	detail := v.Rule + ": " + v.Why
	if v.Fix != "" {
		detail += "; fix: " + v.Fix
	}
	var err *field.Error
	if v.BadValue == nil {
		err = field.Required(v.Field, detail)
	} else {
		err = field.Invalid(v.Field, v.BadValue, detail)
	}
	err.Origin = v.Rule
	return err
}

// Warning is the one-line form used in audit mode and for pre-existing violations, at most text.MaxWarningLength
// long.
func (v Violation) Warning(prefix string) string {
	return text.Warnf("%s%s: %s", prefix, v.Rule, v.Why)
}

// Problem is the field error without the fix, for output that prints the fix on a line of its own.
func (v Violation) Problem() string {
	v.Fix = ""
	return v.FieldError().Error()
}

// MarshalJSON is the violation in `check -o json` and `report -o json`: the rule, the field path and the whole
// kubectl-style line (field path, rule, why it matters, the fix).
// HTML characters are not escaped: the fixes are shell commands (`--selector='a in (b)'`, `&&`) meant to be read.
func (v Violation) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Rule    string `json:"rule"`
		Field   string `json:"field"`
		Message string `json:"message"`
	}{v.Rule, v.Field.String(), v.FieldError().Error()})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// ErrorList converts violations for callers that speak field.ErrorList.
func ErrorList(vs []Violation) field.ErrorList {
	list := make(field.ErrorList, 0, len(vs))
	for _, v := range vs {
		list = append(list, v.FieldError())
	}
	return list
}
