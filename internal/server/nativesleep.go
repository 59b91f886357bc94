package server

import (
	"context"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// nativeSleepSince is the first Kubernetes minor with lifecycle.preStop.sleep on by default (beta in 1.30, GA 1.34).
var nativeSleepSince = version.MajorMinor(1, 30)

// NativeSleepDetector answers whether the API server supports the native preStop sleep action, from its version,
// read at start-up and re-read periodically (a control plane upgrade turns it on without restarting the webhook).
type NativeSleepDetector struct {
	discovery discovery.ServerVersionInterface
	interval  time.Duration
	supported atomic.Bool
}

// NewNativeSleepDetector reads the server version once; an error here fails start-up rather than guessing.
func NewNativeSleepDetector(d discovery.ServerVersionInterface, interval time.Duration) (*NativeSleepDetector, error) {
	n := &NativeSleepDetector{discovery: d, interval: interval}
	supported, err := n.detect()
	if err != nil {
		return nil, err
	}
	n.supported.Store(supported)
	return n, nil
}

// Supported is safe for concurrent use.
func (n *NativeSleepDetector) Supported() bool { return n.supported.Load() }

func (n *NativeSleepDetector) detect() (bool, error) {
	info, err := n.discovery.ServerVersion()
	if err != nil {
		return false, err
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return false, err
	}
	return v.AtLeast(nativeSleepSince), nil
}

// Start re-checks until ctx ends; it is a manager Runnable. A failed re-check keeps the last answer.
func (n *NativeSleepDetector) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("native-sleep")
	t := time.NewTicker(n.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			supported, err := n.detect()
			if err != nil {
				log.Error(err, "re-reading the API server version; keeping the last answer", "supported", n.Supported())
				continue
			}
			if supported != n.Supported() {
				log.Info("native preStop sleep support changed", "supported", supported)
			}
			n.supported.Store(supported)
		}
	}
}
