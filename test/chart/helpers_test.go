package chart

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// releaseName makes the chart's full name "ha-webhook", the name internal/webhookconfig's defaults use.
const releaseName = "ha-webhook"

// helmTemplate renders the chart with a values file for a release in namespace ns. extra are more helm flags.
func helmTemplate(t *testing.T, ns, values string, extra ...string) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"template", releaseName, chartDir, "--namespace", ns, "--kube-version", kubeVersion,
		"--values", file}, extra...)
	return helm(args...)
}

// helm runs the helm binary and returns stdout, or an error carrying stderr.
func helm(args ...string) (string, error) {
	cmd := exec.Command(helmBin, args...)
	// Keep helm away from the user's configuration and caches.
	home := filepath.Join(tmpDir, "helm-home")
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home+"/config", "HELM_CACHE_HOME="+home+"/cache",
		"HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args[:1], " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// mustRender is helmTemplate for values that must render.
func mustRender(t *testing.T, ns, values string, extra ...string) manifest {
	t.Helper()
	out, err := helmTemplate(t, ns, values, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return parseManifest(t, out)
}

// object is one rendered document: its kind and name, and its content as JSON.
type object struct {
	Kind, Name, Namespace string
	JSON                  []byte
}

// manifest is the output of `helm template`, one object per document.
type manifest struct {
	YAML    string
	Objects []object
}

func parseManifest(t *testing.T, out string) manifest {
	t.Helper()
	m := manifest{YAML: out}
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading rendered YAML: %v", err)
		}
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		if string(js) == "null" {
			continue // a document holding only comments
		}
		var meta struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatalf("rendered document: %v\n%s", err, doc)
		}
		m.Objects = append(m.Objects, object{Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace, JSON: js})
	}
	return m
}

// kinds lists "Kind/name" of every object, sorted.
func (m manifest) kinds() []string {
	var out []string
	for _, o := range m.Objects {
		out = append(out, o.Kind+"/"+o.Name)
	}
	sort.Strings(out)
	return out
}

// all decodes every object of a kind, strictly: a field the Go type does not know fails the test.
func all[T any](t *testing.T, m manifest, kind string) []*T {
	t.Helper()
	var out []*T
	for _, o := range m.Objects {
		if o.Kind != kind {
			continue
		}
		v := new(T)
		if err := jsonUnmarshalStrict(o.JSON, v); err != nil {
			t.Fatalf("decoding %s/%s: %v", o.Kind, o.Name, err)
		}
		out = append(out, v)
	}
	return out
}

// one decodes the only object of a kind.
func one[T any](t *testing.T, m manifest, kind string) *T {
	t.Helper()
	objs := all[T](t, m, kind)
	if len(objs) != 1 {
		t.Fatalf("want exactly one %s, got %d; rendered: %v", kind, len(objs), m.kinds())
	}
	return objs[0]
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func jsonUnmarshalStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// testCA is a throw-away CA certificate (PEM) for the existing-Secret value set.
var testCA = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ha-webhook chart test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()

// indent prefixes every line of s with n spaces (to embed a PEM in a YAML block scalar).
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}
