package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The writes that undo a workload's protection from the other side — its PDB or its HPA — and the workloads that
// were never checked, each step as kubectl does it, in a namespace that enforces, one in audit mode and one that did
// not opt in. HA_WEBHOOK_TRANSCRIPT=FILE appends the kubectl session (commands, stderr, exit codes) to FILE.

// session runs kubectl commands in one namespace and records them.
type session struct {
	t  *testing.T
	ns string
}

// step is one kubectl run: its exit code and stderr.
type step struct {
	code   int
	stderr string
}

var transcriptMu sync.Mutex

// warnedAs is what a warning keeps of wanted denial fragments: a write's warning names "deployment/web: " and the
// why, without the namespace and the rule (they are in the audit annotation); a workload's own warning the rule.
func warnedAs(want []string) []string {
	var out []string
	for _, w := range want {
		kind, rest, ok := strings.Cut(w, " ")
		_, nameAndRule, hasNS := strings.Cut(rest, "/")
		name, rule, hasRule := strings.Cut(nameAndRule, ": ")
		switch {
		case ok && hasNS && hasRule && (kind == "Deployment" || kind == "StatefulSet"):
			out = append(out, strings.ToLower(kind)+"/"+name+": ")
			if r, why, ok := strings.Cut(rule, ": "); ok && strings.HasPrefix(r, "pdb-") || ok && strings.HasPrefix(r, "min-") {
				out = append(out, why)
			}
		default:
			out = append(out, w)
		}
	}
	return out
}

// findings reports whether stderr holds a warning or denial of ha-webhook's other than pdb-unhealthy-eviction, the
// advisory every PDB created with kubectl create pdb gets (it has no flag for unhealthyPodEvictionPolicy).
func findings(stderr string) bool {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "ha-webhook") && !strings.Contains(line, "pdb-unhealthy-eviction") {
			return true
		}
	}
	return false
}

func (s session) run(stdin string, args ...string) step {
	s.t.Helper()
	args = append(args, "-n", s.ns)
	_, stderr, err := kubectl(s.t, stdin, args...)
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		s.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	if path := os.Getenv("HA_WEBHOOK_TRANSCRIPT"); path != "" {
		transcriptMu.Lock()
		defer transcriptMu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "$ kubectl %s\n%s[exit %d]\n\n", strings.Join(args, " "), stderr, code)
			_ = f.Close()
		}
	}
	s.t.Logf("$ kubectl %s\n%s[exit %d]", strings.Join(args, " "), stderr, code)
	return step{code: code, stderr: stderr}
}

// expect asserts the outcome of a step by the namespace's mode: denied (enforce), admitted with a warning (audit),
// admitted silently (not opted in); warnOnly steps are admitted with the warning in enforce mode too. A denial must
// hold every want; a warning the short form of each: "Deployment NS/web: rule" is warned as "deployment/web: ".
func (s session) expect(mode string, st step, warnOnly bool, want ...string) {
	s.t.Helper()
	if mode != "enforce" || warnOnly {
		want = warnedAs(want)
	}
	switch {
	case mode == "off":
		if st.code != 0 || strings.Contains(st.stderr, "ha-webhook") {
			s.t.Errorf("not opted in: want a silent pass, got exit %d:\n%s", st.code, st.stderr)
		}
		return
	case mode == "enforce" && !warnOnly:
		if st.code == 0 || !strings.Contains(st.stderr, "denied the request") {
			s.t.Errorf("enforce: want a denial, got exit %d:\n%s", st.code, st.stderr)
		}
	default:
		if st.code != 0 || !strings.Contains(st.stderr, "Warning: ha-webhook") {
			s.t.Errorf("%s: want an admission with a warning, got exit %d:\n%s", mode, st.code, st.stderr)
		}
	}
	for _, w := range want {
		if !strings.Contains(st.stderr, w) {
			s.t.Errorf("%s: stderr lacks %q:\n%s", mode, w, st.stderr)
		}
	}
}

// settle waits until the webhook's cache holds what the namespace holds: a dry run of the probe write gives the
// wanted answer (the webhook is called for server-side dry runs; nothing is written).
func (s session) settle(stdin string, want string, args ...string) {
	s.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, stderr, _ := kubectl(s.t, stdin, append(args, "--dry-run=server", "-n", s.ns)...)
		if strings.Contains(stderr, want) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the webhook's cache did not catch up: kubectl %s --dry-run=server still says:\n%s", strings.Join(args, " "), stderr)
		}
	}
}

const pdbWeb = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: web}}}
`

const deploymentWeb = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {tier: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: web}}
    spec: {containers: [{name: app, image: registry.example/web:1, ports: [{name: http, containerPort: 8080}]}]}
`

// webManifest is web as Helm and Argo CD create it: the PDB first.
const webManifest = pdbWeb + "---\n" + deploymentWeb

func statefulSet(replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: %d
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: registry.example/db:1, ports: [{name: sql, containerPort: 5432}]}]}
`, replicas)
}

func sharedWorkloads() string {
	var b strings.Builder
	for _, name := range []string{"web-a", "web-b"} {
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s, app.kubernetes.io/part-of: shop}}
    spec: {containers: [{name: app, image: registry.example/%s:1, ports: [{name: http, containerPort: 8080}]}]}
---
`, name, name, name, name)
	}
	return b.String()
}

func TestProtectionHeldFromEverySide(t *testing.T) {
	for mode, labels := range map[string]map[string]string{"enforce": optedIn(), "audit": optedInAudit(), "off": nil} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := session{t: t, ns: namespace(t, labels)}
			if st := s.run(webManifest, "apply", "-f", "-"); st.code != 0 {
				t.Fatalf("the compliant web did not apply:\n%s", st.stderr)
			}
			if mode != "off" {
				s.settle("", "allows 0 evictions", "patch", "pdb", "web", "-p", `{"spec":{"maxUnavailable":0}}`)
			}
			ns := s.ns

			// 1. Every drain of web's nodes would stall.
			s.expect(mode, s.run("", "patch", "pdb", "web", "-p", `{"spec":{"maxUnavailable":0}}`), false,
				"Deployment "+ns+"/web: pdb-blocks-drain")

			// 2. A second PDB over the same pods: a CREATE whose only new violation is pdb-multiple is warned (Helm
			// and Argo CD rename a PDB by creating the new one first), an UPDATE that makes one is denied.
			s.expect(mode, s.run("", "create", "pdb", "web-all", "--selector=tier=web", "--max-unavailable=1"), true,
				"Deployment "+ns+"/web: pdb-multiple")
			s.run("", "delete", "pdb", "web-all")
			s.run("", "create", "pdb", "web-other", "--selector=tier=other", "--max-unavailable=1")
			s.expect(mode, s.run("", "patch", "pdb", "web-other", "--type=merge", "-p", `{"spec":{"selector":{"matchLabels":{"tier":"web"}}}}`), false,
				"Deployment "+ns+"/web: pdb-multiple")
			s.run("", "delete", "pdb", "web-other")

			// 3. A DELETE is never denied: it warns.
			s.expect(mode, s.run("", "delete", "pdb", "web"), true, "Deployment "+ns+"/web: pdb-missing")
			s.run(pdbWeb, "apply", "-f", "-")

			// 4. An HPA that may scale web to one pod, created or lowered. (Without --cpu, kubectl autoscale answers a
			// denied autoscaling/v2 create with "the configuration is incompatible with autoscaling/v1: empty input"
			// and hides the reason; with it, kubectl retries as autoscaling/v1, which the webhook sees as v2 too.)
			if mode != "off" {
				s.settle("", "HPA web may scale to 1", "autoscale", "deployment", "web", "--min=1", "--max=5", "--cpu=80%")
			}
			s.expect(mode, s.run("", "autoscale", "deployment", "web", "--min=1", "--max=5", "--cpu=80%"), false,
				"Deployment "+ns+"/web: min-replicas: HPA web")
			if mode == "enforce" {
				s.run("", "autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu=80%")
			} else {
				s.run("", "patch", "hpa", "web", "-p", `{"spec":{"minReplicas":2}}`)
			}
			s.expect(mode, s.run("", "patch", "hpa", "web", "-p", `{"spec":{"minReplicas":1}}`), false,
				"Deployment "+ns+"/web: min-replicas")

			// 5. A StatefulSet with 1 replica and no PDB, then one scaled below 2.
			st := s.run(statefulSet(1), "apply", "-f", "-")
			s.expect(mode, st, false, "min-replicas", "pdb-missing")
			if mode == "enforce" && !strings.Contains(st.stderr, "StatefulSet "+ns+"/db would lose traffic") ||
				mode == "enforce" && !strings.Contains(st.stderr, "kubectl scale statefulset db -n "+ns+" --replicas=2") {
				t.Errorf("the denial does not name the StatefulSet and its kubectl fix:\n%s", st.stderr)
			}
			s.run("", "create", "pdb", "db", "--selector=app=db", "--max-unavailable=1")
			s.run(statefulSet(3), "apply", "-f", "-")
			s.expect(mode, s.run("", "scale", "statefulset", "db", "--replicas=1"), false, "min-replicas")

			// 6. One PDB over two workloads of 2 replicas: minAvailable 3 of their 4 pods lets one go (judged per
			// Deployment it looked like 3 of 2: a false denial), 50% of 4 lets both of web-a's go at once (per
			// Deployment it looked like 1 of 2: a false pass).
			s.run("", "create", "pdb", "shop", "--selector=app.kubernetes.io/part-of=shop", "--max-unavailable=1")
			if st := s.run(sharedWorkloads(), "apply", "-f", "-"); st.code != 0 || findings(st.stderr) {
				t.Errorf("two Deployments under a shared PDB: want both admitted silently, got exit %d:\n%s", st.code, st.stderr)
			}
			fiftyPercent := []string{"patch", "pdb", "shop", "--type=merge", "-p", `{"spec":{"maxUnavailable":null,"minAvailable":"50%"}}`}
			if mode != "off" {
				s.settle("", "lets 2 of 4 shared pods", fiftyPercent...) // the cache holds both Deployments
			}
			if st := s.run("", "patch", "pdb", "shop", "--type=merge", "-p", `{"spec":{"maxUnavailable":null,"minAvailable":3}}`); st.code != 0 || findings(st.stderr) {
				t.Errorf("minAvailable 3 of 4 shared pods: want a silent pass, got exit %d:\n%s", st.code, st.stderr)
			}
			s.expect(mode, s.run("", fiftyPercent...), false,
				"Deployment "+ns+"/web-a: pdb-unprotective", "Deployment "+ns+"/web-b: pdb-unprotective")
			if st := s.run("", fiftyPercent...); mode == "enforce" && !strings.Contains(st.stderr, "PDB shop (minAvailable 50%) lets 2 of 4 shared pods go at once") {
				t.Errorf("the denial does not say how the shared budget is counted:\n%s", st.stderr)
			}
		})
	}
}

// TestOneApplyConvergesInAnyOrder: a compliant Deployment, its PDB and its HPA in one `kubectl apply -f`, in every
// order. A Deployment applied before its PDB is denied for the missing PDB — true when it is checked, and the
// message says to create PDBs first — and the next apply converges. No other denial may happen: none from the cache
// lagging behind a PDB or HPA created a moment earlier.
func TestOneApplyConvergesInAnyOrder(t *testing.T) {
	docs := map[string]string{
		"deployment": strings.TrimSuffix(deploymentWeb, "\n"),
		"pdb":        strings.TrimSuffix(pdbWeb, "\n"),
		"hpa": `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec: {minReplicas: 2, maxReplicas: 5, scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}}`,
	}
	orders := [][]string{
		{"pdb", "deployment", "hpa"}, {"pdb", "hpa", "deployment"}, {"hpa", "pdb", "deployment"},
		{"deployment", "pdb", "hpa"}, {"deployment", "hpa", "pdb"}, {"hpa", "deployment", "pdb"},
	}
	for _, order := range orders {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			t.Parallel()
			s := session{t: t, ns: namespace(t, optedIn())}
			var parts []string
			for _, o := range order {
				parts = append(parts, docs[o])
			}
			manifest := strings.Join(parts, "\n---\n") + "\n"
			pdbFirst := order[0] == "pdb" || order[1] == "pdb" && order[0] == "hpa"
			for run := 1; ; run++ {
				st := s.run(manifest, "apply", "-f", "-")
				if st.code == 0 {
					if findings(st.stderr) {
						t.Errorf("run %d admitted with warnings:\n%s", run, st.stderr)
					}
					if pdbFirst && run > 1 {
						t.Errorf("the PDB came before the Deployment, yet it took %d runs", run)
					}
					return
				}
				if !strings.Contains(st.stderr, "pdb-missing") || strings.Contains(st.stderr, "min-replicas") ||
					strings.Contains(st.stderr, "pdb-blocks-drain") || strings.Contains(st.stderr, "pdb-multiple") {
					t.Fatalf("run %d: a denial other than the Deployment's missing PDB:\n%s", run, st.stderr)
				}
				if pdbFirst || run >= 2 {
					t.Fatalf("run %d denied although the PDB exists by now:\n%s", run, st.stderr)
				}
			}
		})
	}
}
