package certmanager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretVolume lays a Secret out as the kubelet's atomic writer (pkg/volume/util/atomic_writer.go) does for the
// chart's `secret` volume (defaultMode 0440): the keys in a fresh ..<timestamp> directory, ..data a symlink to it,
// each key a symlink to ..data/<key>. An update writes a new timestamped directory, swaps ..data with a rename
// (atomic: a reader sees the old files or the new ones, never a mix of key and certificate), then removes the old
// directory. This is what `ha-webhook serve`'s certificate watcher sees in a pod.
type secretVolume struct {
	dir     string
	current string // the timestamped directory ..data points at
}

// publish writes data as the volume's new content.
func (v *secretVolume) publish(data map[string][]byte) error {
	if err := os.MkdirAll(v.dir, 0o755); err != nil {
		return err
	}
	ts, err := os.MkdirTemp(v.dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05.")) // as the kubelet names it
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := os.WriteFile(filepath.Join(ts, k), data[k], 0o440); err != nil {
			return err
		}
	}
	// The user-visible names: created once, they keep pointing through ..data.
	for _, k := range keys {
		link := filepath.Join(v.dir, k)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
				return err
			}
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		return err
	}
	old := v.current
	v.current = filepath.Base(ts)
	if old != "" {
		return os.RemoveAll(filepath.Join(v.dir, old))
	}
	return nil
}

// kubelet keeps a secretVolume in step with a Secret, delay after each change: the kubelet refreshes a mounted
// Secret on its periodic pod sync (syncFrequency, 1 min by default, plus jitter), so in a cluster a pod sees a
// renewed certificate anywhere from about a second to a minute or more after cert-manager wrote it. The delay here
// is short to keep the test bounded; what it shows scales with it.
type kubelet struct {
	c      client.Client
	secret types.NamespacedName
	vol    *secretVolume
	delay  time.Duration
	tl     *timeline
	names  *certNames

	mu        sync.Mutex
	published []byte // tls.crt in the volume
}

// mount writes the Secret's current content, as the kubelet does before the container starts.
func (k *kubelet) mount(ctx context.Context) error {
	var s corev1.Secret
	if err := k.c.Get(ctx, k.secret, &s); err != nil {
		return err
	}
	return k.publish(s.Data, "mounted")
}

func (k *kubelet) publish(data map[string][]byte, verb string) error {
	if err := k.vol.publish(data); err != nil {
		return err
	}
	leaf, err := firstCert(data[corev1.TLSCertKey])
	if err != nil {
		return fmt.Errorf("secret %s tls.crt: %w", k.secret, err)
	}
	k.mu.Lock()
	k.published = data[corev1.TLSCertKey]
	k.mu.Unlock()
	k.tl.logf("kubelet: %s %s into %s (..data -> %s): tls.crt %s, ca.crt %s", verb, k.secret.Name, k.vol.dir,
		k.vol.current, k.names.describe(leaf), k.names.describeBundle(data["ca.crt"]))
	return nil
}

// run polls the Secret (the kubelet's Watch-based secret manager sees a change at once; the volume waits for the
// pod sync) and publishes each new content delay after it appeared, until ctx ends.
func (k *kubelet) run(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var pending []byte
	var due time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var s corev1.Secret
		if err := k.c.Get(ctx, k.secret, &s); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		k.mu.Lock()
		changed := string(s.Data[corev1.TLSCertKey]) != string(k.published)
		k.mu.Unlock()
		switch {
		case !changed:
			pending = nil
		case pending == nil || string(pending) != string(s.Data[corev1.TLSCertKey]):
			pending, due = s.Data[corev1.TLSCertKey], time.Now().Add(k.delay)
			k.tl.logf("kubelet: %s changed; the volume is updated at the next pod sync, in %s", k.secret.Name, k.delay)
		case time.Now().After(due):
			if err := k.publish(s.Data, "updated"); err != nil {
				return err
			}
			pending = nil
		}
	}
}
