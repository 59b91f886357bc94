package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Bounds on what an admission response may carry besides the patch. The handlers already keep their own texts
// short; these limits hold whatever they (or the decoders they call, whose errors quote the input) produce, so a
// request crafted with a 10 KB name, kind or annotation never has it echoed whole into the API server's answer,
// its logs or a terminal.
const (
	// maxMessageLine is far above any line a valid object can produce (names are at most 253 characters, label
	// values 63; the handlers quote annotation values at 40).
	maxMessageLine  = 1024
	maxMessageLines = 20
	maxMessage      = 8192
	// maxWarning and maxWarnings: kubectl prints a warning of up to 120 characters whole (DESIGN §3).
	maxWarning  = 120
	maxWarnings = 20
	// maxAuditAnnotation bounds each audit annotation value written to the audit log.
	maxAuditAnnotation = 256
	// maxContentType bounds the Content-Type header controller-runtime quotes in its "wrong content type" error.
	maxContentType = 128
)

// boundedHandler applies the response bounds to every answer of h.
type boundedHandler struct{ admission.Handler }

func (b boundedHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return boundResponse(b.Handler.Handle(ctx, req))
}

// boundResponse truncates the status message (per line, in lines and in total), the warnings (each and their
// number) and the audit annotation values of resp.
func boundResponse(resp admission.Response) admission.Response {
	if resp.Result != nil && resp.Result.Message != "" {
		resp.Result.Message = boundMessage(resp.Result.Message)
	}
	if len(resp.Warnings) > 0 {
		w := make([]string, 0, min(len(resp.Warnings), maxWarnings))
		for i, s := range resp.Warnings {
			if i == maxWarnings-1 && len(resp.Warnings) > maxWarnings {
				w = append(w, fmt.Sprintf("… and %d more", len(resp.Warnings)-i))
				break
			}
			w = append(w, text.Truncate(s, maxWarning))
		}
		resp.Warnings = w
	}
	for k, v := range resp.AuditAnnotations {
		resp.AuditAnnotations[k] = text.Truncate(v, maxAuditAnnotation)
	}
	return resp
}

func boundMessage(m string) string {
	if len(m) <= maxMessageLine && !strings.Contains(m, "\n") {
		return m
	}
	lines := strings.Split(m, "\n")
	if len(lines) > maxMessageLines {
		lines = append(lines[:maxMessageLines-1:maxMessageLines-1], fmt.Sprintf("… and %d more lines", len(lines)-maxMessageLines+1))
	}
	for i, l := range lines {
		lines[i] = text.Truncate(l, maxMessageLine)
	}
	return text.Truncate(strings.Join(lines, "\n"), maxMessage)
}

// boundContentType shortens an oversized Content-Type header before controller-runtime's admission.Webhook quotes
// it in its "expected application/json" error; a header that long is never application/json anyway.
func boundContentType(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); len(ct) > maxContentType {
			r.Header.Set("Content-Type", text.Truncate(ct, maxContentType))
		}
		h.ServeHTTP(w, r)
	})
}
