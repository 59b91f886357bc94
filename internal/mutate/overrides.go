package mutate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// overrides are the per-pod annotation settings after bounds checks. A bad value never fails the pod: it is
// replaced by the default and reported as a warning.
type overrides struct {
	sleepSeconds  int64
	readinessPath string
	readinessPort *intstr.IntOrString
	warnings      []string
}

// maxReadinessPathLength keeps a probe path (and any message quoting it) bounded.
const maxReadinessPathLength = 256

func readOverrides(annotations map[string]string, opts Options) overrides {
	ov := overrides{sleepSeconds: opts.PreStopSleepSeconds}
	if raw, ok := annotations[names.AnnotationPreStopSleepSeconds]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && n > 0, err == nil && n > opts.MaxPreStopSleepSeconds:
			// A number too large for int64 is as much "more than the maximum" as any other: clamp it the same way.
			ov.sleepSeconds = opts.MaxPreStopSleepSeconds
			ov.warnings = append(ov.warnings, text.Warnf("%s: using the maximum %d instead of %s",
				names.AnnotationPreStopSleepSeconds, opts.MaxPreStopSleepSeconds, text.Quote(raw)))
		case err != nil || n < 0:
			ov.warnings = append(ov.warnings, text.Warnf("%s: using %d, not a whole number of seconds >= 0: %s",
				names.AnnotationPreStopSleepSeconds, opts.PreStopSleepSeconds, text.Quote(raw)))
		default:
			ov.sleepSeconds = n
		}
	}
	if raw, ok := annotations[names.AnnotationReadinessPath]; ok {
		if err := checkReadinessPath(raw); err != nil {
			ov.warnings = append(ov.warnings, text.Warnf("%s: ignored (%v), probing tcpSocket: %s",
				names.AnnotationReadinessPath, err, text.Quote(raw)))
		} else {
			ov.readinessPath = raw
		}
	}
	if raw, ok := annotations[names.AnnotationReadinessPort]; ok {
		if port, err := parsePort(raw); err != nil {
			ov.warnings = append(ov.warnings, text.Warnf("%s: ignored (%v): %s", names.AnnotationReadinessPort, err, text.Quote(raw)))
		} else {
			ov.readinessPort = &port
		}
	}
	return ov
}

// checkReadinessPath accepts an absolute HTTP path without whitespace or control characters: it becomes an httpGet
// path the kubelet requests, so anything else is either a typo or an attempt to smuggle something in.
func checkReadinessPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New("must start with /")
	}
	if len(p) > maxReadinessPathLength {
		return fmt.Errorf("longer than %d characters", maxReadinessPathLength)
	}
	for _, r := range p {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.IsSpace(r) {
			return errors.New("whitespace or control characters")
		}
	}
	return nil
}

// parsePort accepts a port number 1-65535 or an IANA service name, as a containerPort name must be.
func parsePort(s string) (intstr.IntOrString, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return intstr.IntOrString{}, errors.New("port number must be 1-65535")
		}
		return intstr.FromInt32(int32(n)), nil
	}
	if errs := validation.IsValidPortName(s); len(errs) > 0 {
		return intstr.IntOrString{}, errors.New("not a port number or name")
	}
	return intstr.FromString(s), nil
}
