package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// UpgradeOptions shape the simulated node-pool upgrade.
type UpgradeOptions struct {
	Pool string
	// EvictionRetry is how long a drain waits after a 429 before it asks again (kubectl drain: 5 s).
	EvictionRetry time.Duration
	// DrainTimeout bounds the drain of one node: beyond it the upgrade has stalled on a PDB (GKE would wait up to an
	// hour, then evict anyway).
	DrainTimeout time.Duration
	Logf         func(string, ...any)
}

// UpgradeResult says how the upgrade went.
type UpgradeResult struct {
	Duration time.Duration
	Nodes    []NodeUpgrade
}

// NodeUpgrade is one old node replaced by a new one.
type NodeUpgrade struct {
	Old, New string
	Evicted  int
	// Refused counts evictions answered 429 Too Many Requests: a PodDisruptionBudget made the drain wait.
	Refused int
	// Drain is the time from cordon to the last of its pods gone.
	Drain   time.Duration
	Stalled bool
	// Start is when the new node was asked for, End when the old one was deleted (or its drain stalled).
	Start, End time.Time
}

// Stalled reports whether a drain stalled.
func (r UpgradeResult) Stalled() bool {
	return slices.ContainsFunc(r.Nodes, func(n NodeUpgrade) bool { return n.Stalled })
}

// CreateNode creates a kwok node and waits until it is Ready and schedulable: kwok marks it Ready, and the drill
// removes the not-ready taint that admission puts on new nodes (the node lifecycle controller that would lift it is
// disabled, as kwok's nodes have no real kubelet).
func CreateNode(ctx context.Context, c kubernetes.Interface, name, pool string) error {
	if _, err := c.CoreV1().Nodes().Create(ctx, NewNode(name, pool), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
			return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		})
		if ready && len(n.Spec.Taints) == 0 {
			return nil
		}
		if len(n.Spec.Taints) > 0 {
			n.Spec.Taints = nil
			if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				return fmt.Errorf("removing the taints of node %s: %w", name, err)
			}
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not Ready after 1m: is kwok running?", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Upgrade replaces every node of the pool, one at a time, as a GKE surge upgrade (maxSurge 1) does: create the new
// node, cordon the old one, evict its pods through the Eviction API (retrying on 429, as a drain does), wait until
// they are gone, delete the old node.
func Upgrade(ctx context.Context, c kubernetes.Interface, old []string, o UpgradeOptions) (UpgradeResult, error) {
	start := time.Now()
	var res UpgradeResult
	for i, name := range old {
		n := NodeUpgrade{Old: name, New: fmt.Sprintf("%s-upgraded-%d", o.Pool, i+1), Start: time.Now()}
		if err := CreateNode(ctx, c, n.New, o.Pool); err != nil {
			return res, err
		}
		o.Logf("upgrade: node %s added; cordoning and draining %s", n.New, n.Old)
		if err := drain(ctx, c, &n, o); err != nil {
			return res, err
		}
		if n.Stalled {
			n.End = time.Now()
			res.Nodes = append(res.Nodes, n)
			o.Logf("upgrade: drain of %s stalled after %s", n.Old, o.DrainTimeout)
			break
		}
		if err := c.CoreV1().Nodes().Delete(ctx, n.Old, metav1.DeleteOptions{}); err != nil {
			return res, fmt.Errorf("deleting node %s: %w", n.Old, err)
		}
		n.End = time.Now()
		res.Nodes = append(res.Nodes, n)
		o.Logf("upgrade: node %s drained in %s (%d pods evicted, %d evictions refused by a PDB) and deleted",
			n.Old, n.Drain.Round(100*time.Millisecond), n.Evicted, n.Refused)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// drain cordons the node and evicts its pods, each in its own goroutine as kubectl drain does, until none is left
// but DaemonSet pods. A pod is gone once no pod of its name has its UID: a StatefulSet recreates a pod of the same
// name (on another node, the old one being cordoned) as soon as the evicted one is gone, and the Eviction API's UID
// precondition keeps a retried eviction from hitting that new pod. The node's pods are listed again once those
// listed are gone, in case the scheduler bound one there as it was cordoned.
func drain(ctx context.Context, c kubernetes.Interface, n *NodeUpgrade, o UpgradeOptions) error {
	start := time.Now()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"unschedulable": true}})
	if _, err := c.CoreV1().Nodes().Patch(ctx, n.Old, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning %s: %w", n.Old, err)
	}
	dctx, cancel := context.WithTimeout(ctx, o.DrainTimeout)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
	)
	handled := map[types.UID]bool{}
	for {
		pods, err := c.CoreV1().Pods(metav1.NamespaceAll).List(dctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Old})
		if err != nil {
			if dctx.Err() != nil && ctx.Err() == nil {
				n.Stalled = true
				break
			}
			return fmt.Errorf("listing the pods of %s: %w", n.Old, err)
		}
		var wg sync.WaitGroup
		listed := 0
		for _, pod := range pods.Items {
			if isDaemonSetPod(&pod) || handled[pod.UID] {
				continue
			}
			handled[pod.UID] = true
			listed++
			wg.Go(func() {
				var refused int
				var err error
				if pod.DeletionTimestamp == nil {
					refused, err = evict(dctx, c, &pod, o.EvictionRetry)
				}
				if err == nil {
					err = waitGone(dctx, c, &pod)
				}
				mu.Lock()
				defer mu.Unlock()
				n.Refused += refused
				switch {
				case err == nil && pod.DeletionTimestamp == nil:
					n.Evicted++
				case err == nil: // already terminating when listed: waited for, not evicted
				case dctx.Err() != nil && ctx.Err() == nil:
					n.Stalled = true
				default:
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		if listed == 0 || n.Stalled || len(errs) > 0 {
			break
		}
	}
	n.Drain = time.Since(start)
	if len(errs) > 0 {
		return fmt.Errorf("draining %s: %v", n.Old, errs)
	}
	return nil
}

// evict asks the Eviction API to evict the pod until it agrees (or the pod is gone), waiting retry after each 429
// (a PodDisruptionBudget allows no disruption now). It returns how many times it was refused.
func evict(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod, retry time.Duration) (int, error) {
	refused := 0
	for {
		err := c.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{
			ObjectMeta:    metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
			DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}},
		})
		switch {
		case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err): // conflict: the UID is another pod's now
			return refused, nil
		case apierrors.IsTooManyRequests(err):
			refused++
		default:
			if ctx.Err() != nil {
				return refused, ctx.Err()
			}
			// Anything else (a 500 while the PDB's status is being updated, a timeout) is retried too, as kubectl
			// drain does.
		}
		select {
		case <-ctx.Done():
			return refused, ctx.Err()
		case <-time.After(retry):
		}
	}
}

// waitGone waits until the pod with this UID no longer exists.
func waitGone(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod) error {
	for {
		cur, err := c.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.UID != pod.UID) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isDaemonSetPod(p *corev1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet"
}
