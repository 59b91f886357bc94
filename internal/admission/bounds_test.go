package admission

import (
	"strings"
	"testing"
	"unicode/utf8"

	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

func TestBoundResponse(t *testing.T) {
	long := strings.Repeat("n", 10240)
	resp := cradmission.Denied("Deployment " + long + " would lose traffic:\n" + strings.Repeat("line\n", 50) + long)
	for range 30 {
		resp.Warnings = append(resp.Warnings, "w "+long)
	}
	resp.AuditAnnotations = map[string]string{"exempt": long}
	got := Bound(resp)
	if strings.Contains(got.Result.Message, long) || len(strings.Split(got.Result.Message, "\n")) > MaxMessageLines {
		t.Errorf("message not bounded: %d bytes, %d lines", len(got.Result.Message), len(strings.Split(got.Result.Message, "\n")))
	}
	if !strings.HasSuffix(got.Result.Message, "more lines") {
		t.Errorf("the cut is not marked: …%s", got.Result.Message[len(got.Result.Message)-40:])
	}
	if len(got.Warnings) != MaxWarnings || got.Warnings[MaxWarnings-1] != "… and 11 more" {
		t.Errorf("warnings: %d, last %q", len(got.Warnings), got.Warnings[len(got.Warnings)-1])
	}
	for _, w := range got.Warnings {
		if utf8.RuneCountInString(w) > text.MaxWarningLength {
			t.Errorf("warning of %d runes", utf8.RuneCountInString(w))
		}
	}
	if utf8.RuneCountInString(got.AuditAnnotations["exempt"]) > MaxAuditAnnotation {
		t.Errorf("audit annotation not bounded")
	}

	short := cradmission.Denied("Deployment shop/web would lose traffic:\nspec.replicas: Invalid value: 1: min-replicas")
	short.Warnings = []string{"a", "b"}
	if got := Bound(short); got.Result.Message != short.Result.Message || len(got.Warnings) != 2 {
		t.Errorf("a short answer changed: %+v", got)
	}
}
