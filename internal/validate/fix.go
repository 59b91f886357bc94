package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// createPDBCommand is a ready-to-run command creating a PDB that keeps a pod up and lets a drain proceed.
func createPDBCommand(w Workload) string {
	var selector string
	if w.Selector != nil {
		selector = metav1.FormatLabelSelector(w.Selector)
	}
	if selector == "" || selector == "<none>" || selector == "<error>" {
		selector = labels.Set(w.TemplateLabels).String()
	}
	return fmt.Sprintf("kubectl create pdb %s -n %s --selector=%s --max-unavailable=1", w.Name, w.namespace(), shellQuote(selector))
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9=,._/-]+$`)

// shellQuote quotes a selector for a POSIX shell when it holds anything but plain key=value characters.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	// Labels the API server accepts never hold control characters; a manifest read by `check` may. Quoting keeps
	// the message on one line (and the command visibly wrong) rather than breaking it across lines.
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
