// Package policy is what ha-webhook enforces and how strictly: the mode (enforce or audit, globally and per
// namespace), the pod mutation's options and the workload rules' options. `serve`, `check` and `report` bind the
// same flags with Options.AddFlags and check them with Options.Validate, so a setting means the same everywhere.
package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Options are the mode, the mutation and the rules, as every subcommand reads them.
type Options struct {
	// Mode is the global mode; a namespace's ha-webhook.io/mode label overrides it.
	Mode   Mode
	Mutate mutate.Options
	Rules  validate.Options
}

// DefaultOptions are the documented defaults of `ha-webhook serve`.
func DefaultOptions() Options {
	return Options{Mode: ModeEnforce, Mutate: mutate.DefaultOptions(), Rules: validate.DefaultOptions()}
}

// Validate rejects contradictory options, every problem on its own line, named by its flag.
func (o Options) Validate() error {
	var errs []error
	if _, err := ParseMode(string(o.Mode)); err != nil {
		errs = append(errs, fmt.Errorf("--%s: %w", FlagMode, err))
	}
	for _, err := range []error{o.Mutate.Validate(), o.Rules.Validate()} {
		if err != nil {
			errs = append(errs, errors.New(fieldsAsFlags.Replace(err.Error())))
		}
	}
	return errors.Join(errs...)
}

// fieldsAsFlags renames the option fields that mutate and validate name in their errors to the flags bound to them.
var fieldsAsFlags = strings.NewReplacer(
	"MaxTerminationGracePeriodSeconds", "--"+FlagMaxTerminationGracePeriod,
	"MaxPreStopSleepSeconds", "--"+FlagMaxPreStopSleep,
	"PreStopSleepSeconds", "--"+FlagPreStopSleep,
	"MinReplicas", "--"+FlagMinReplicas,
)
