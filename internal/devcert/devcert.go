// Package devcert writes a throw-away CA and a serving certificate signed by it, so `ha-webhook serve` can run
// outside a cluster (local demo, curl against a hand-written AdmissionReview). Never use these in production.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files written by Write, in the names `serve --webhook-cert-path` expects by default.
const (
	CAFile   = "ca.crt"
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// Write creates dir and writes ca.crt, tls.crt and tls.key for the given hosts (DNS names or IP addresses),
// valid for validFor. It returns the CA certificate in PEM, for a webhook configuration's caBundle.
func Write(dir string, hosts []string, validFor time.Duration) ([]byte, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("at least one host is needed")
	}
	notAfter := time.Now().Add(validFor)
	ca, caKey, caDER, err := newCA(notAfter)
	if err != nil {
		return nil, err
	}
	der, keyDER, err := newServingCert(hosts, ca, caKey, notAfter)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		CAFile:   caPEM,
		CertFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	// Key last, each file replaced atomically: a server watching the directory never reads a half-written pair.
	for _, name := range []string{CAFile, CertFile, KeyFile} {
		if err := writeAtomic(filepath.Join(dir, name), files[name]); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

// newCA is a self-signed CA valid until notAfter (and since an hour ago, so clock skew does not matter).
func newCA(notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ha-webhook development CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	return ca, caKey, caDER, err
}

// newServingCert is a server certificate for hosts signed by ca; it returns the certificate and its key, in DER.
func newServingCert(hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, notAfter time.Time) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	return der, keyDER, err
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}
