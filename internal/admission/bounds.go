package admission

import (
	"fmt"
	"strings"

	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Bounds on what an admission response may carry besides the patch. The handlers already keep their own texts
// short; these limits hold whatever they (or the decoders they call, whose errors quote the input) produce, so a
// request crafted with a 10 KB name, kind or annotation never has it echoed whole into the API server's answer,
// its logs or a terminal.
const (
	// MaxMessageLine is far above any line a valid object can produce (names are at most 253 characters, label
	// values 63; the handlers quote annotation values at 40).
	MaxMessageLine  = 1024
	MaxMessageLines = 20
	MaxMessage      = 8192
	// MaxWarnings bounds the warnings of one response (a pod may have hundreds of containers); each warning is
	// at most text.MaxWarningLength.
	MaxWarnings = 20
	// MaxAuditAnnotation bounds each audit annotation value written to the audit log.
	MaxAuditAnnotation = 256
)

// Bound truncates the status message (per line, in lines and in total), the warnings (each and their
// number) and the audit annotation values of resp.
// The server applies it to every answer, after controller-runtime's panic recovery (whose message quotes the panic).
func Bound(resp cradmission.Response) cradmission.Response {
	if resp.Result != nil && resp.Result.Message != "" {
		resp.Result.Message = boundMessage(resp.Result.Message)
	}
	if len(resp.Warnings) > 0 {
		w := make([]string, 0, min(len(resp.Warnings), MaxWarnings))
		for i, s := range resp.Warnings {
			if i == MaxWarnings-1 && len(resp.Warnings) > MaxWarnings {
				w = append(w, fmt.Sprintf("… and %d more", len(resp.Warnings)-i))
				break
			}
			w = append(w, text.Truncate(s, text.MaxWarningLength))
		}
		resp.Warnings = w
	}
	for k, v := range resp.AuditAnnotations {
		resp.AuditAnnotations[k] = text.Truncate(v, MaxAuditAnnotation)
	}
	return resp
}

func boundMessage(m string) string {
	if len(m) <= MaxMessageLine && !strings.Contains(m, "\n") {
		return m
	}
	lines := strings.Split(m, "\n")
	if len(lines) > MaxMessageLines {
		lines = append(lines[:MaxMessageLines-1:MaxMessageLines-1], fmt.Sprintf("… and %d more lines", len(lines)-MaxMessageLines+1))
	}
	for i, l := range lines {
		lines[i] = text.Truncate(l, MaxMessageLine)
	}
	return text.Truncate(strings.Join(lines, "\n"), MaxMessage)
}
