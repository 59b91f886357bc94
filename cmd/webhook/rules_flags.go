package main

import (
	"github.com/spf13/pflag"

	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// addRuleFlags binds the Deployment rule options; `check` shares them so both apply the same settings.
func addRuleFlags(fs *pflag.FlagSet, o *validate.Options) {
	fs.Int32Var(&o.MinReplicas, "min-replicas", o.MinReplicas, "fewest effective replicas a Deployment may run (HPA minReplicas counts when an HPA targets it)")
	fs.BoolVar(&o.AllowExemptions, "allow-exemptions", o.AllowExemptions, "honour the ha-webhook.io/exempt annotation (every exemption is still reported)")
}
