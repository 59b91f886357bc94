package audit

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Election is the Lease the writing replica holds.
type Election struct {
	Namespace, Name string
}

// Lease timings: client-go's and controller-runtime's defaults.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// runElected runs fn while this process holds the Lease, and campaigns again when it loses it, until ctx ends.
// controller-runtime's manager-level leader election is not used on purpose: when a renewal fails (an API server
// stalled for longer than the renew deadline) it stops the whole manager, which for ha-webhook would stop every
// replica's webhook server at once, exactly when the cluster needs the webhook to keep answering from its cache. Here
// losing the Lease only stops writing Events and PolicyReports.
func runElected(ctx context.Context, cfg *rest.Config, e Election, log logr.Logger, fn func(context.Context)) error {
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	identity := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, e.Namespace, e.Name,
		resourcelock.ResourceLockConfig{Identity: identity}, cfg, renewDeadline)
	if err != nil {
		return fmt.Errorf("leader election Lease %s/%s: %w", e.Namespace, e.Name, err)
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: leaseDuration,
		RenewDeadline: renewDeadline,
		RetryPeriod:   retryPeriod,
		// On shutdown the next replica takes over at once instead of after leaseDuration.
		ReleaseOnCancel: true,
		Name:            e.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("audit writer: leading; writing Events and PolicyReports", "lease", e.Namespace+"/"+e.Name, "identity", identity)
				fn(ctx)
			},
			OnStoppedLeading: func() { log.Info("audit writer: not leading", "lease", e.Namespace+"/"+e.Name) },
		},
	})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		elector.Run(ctx)
	}
	return nil
}
