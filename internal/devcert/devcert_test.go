package devcert

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteProducesAChainThatVerifies(t *testing.T) {
	tests := map[string]struct {
		hosts  []string
		verify string
	}{
		"ip":  {hosts: []string{"127.0.0.1"}, verify: "127.0.0.1"},
		"dns": {hosts: []string{"127.0.0.1", "ha-webhook.ha-webhook.svc"}, verify: "ha-webhook.ha-webhook.svc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			caPEM, err := Write(dir, tc.hosts, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
			if err != nil {
				t.Fatalf("loading the pair: %v", err)
			}
			leaf, err := x509.ParseCertificate(pair.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(caPEM) {
				t.Fatal("CA PEM not parseable")
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.verify}); err != nil {
				t.Errorf("serving certificate does not verify for %s: %v", tc.verify, err)
			}
			onDisk, err := os.ReadFile(filepath.Join(dir, CAFile))
			if err != nil || string(onDisk) != string(caPEM) {
				t.Errorf("ca.crt on disk differs from the returned CA (err %v)", err)
			}
		})
	}
}

func TestWriteRejectsNoHosts(t *testing.T) {
	if _, err := Write(t.TempDir(), nil, time.Hour); err == nil {
		t.Error("want an error without hosts")
	}
}
