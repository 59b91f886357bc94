package certmanager

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
)

// certNames gives every certificate seen during the run a short name in order of appearance (CA-1, CA-2, leaf-1…),
// so that the timeline says "served leaf-2 (signed by CA-1)" rather than serial numbers, and knows which CA signed a
// leaf by checking the signature, not by comparing names (a renewed CA keeps its subject).
type certNames struct {
	mu     sync.Mutex
	names  map[[32]byte]string
	cas    []*x509.Certificate
	caName []string
	leaves int
}

func newCertNames() *certNames { return &certNames{names: map[[32]byte]string{}} }

// name returns the certificate's short name, naming it on first sight.
func (n *certNames) name(c *x509.Certificate) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := sha256.Sum256(c.Raw)
	if s, ok := n.names[key]; ok {
		return s
	}
	var s string
	if c.IsCA {
		s = fmt.Sprintf("CA-%d", len(n.cas)+1)
		n.cas = append(n.cas, c)
		n.caName = append(n.caName, s)
	} else {
		n.leaves++
		s = fmt.Sprintf("leaf-%d", n.leaves)
	}
	n.names[key] = s
	return s
}

// describe names a certificate and, for a leaf, the CAs seen so far whose key verifies its signature ("?" when none
// does yet). Two CAs that share a key (a CA renewed with rotationPolicy Never) both verify it.
func (n *certNames) describe(c *x509.Certificate) string {
	name := n.name(c)
	if c.IsCA {
		return fmt.Sprintf("%s (serial %s, key %s)", name, shortSerial(c), keyID(c))
	}
	n.mu.Lock()
	var signers []string
	for i, ca := range n.cas {
		if c.CheckSignatureFrom(ca) == nil {
			signers = append(signers, n.caName[i])
		}
	}
	n.mu.Unlock()
	if len(signers) == 0 {
		signers = []string{"?"}
	}
	return fmt.Sprintf("%s (serial %s, signed by the key of %s)", name, shortSerial(c), strings.Join(signers, "/"))
}

// describeBundle names every certificate of a PEM bundle (a caBundle, a ca.crt).
func (n *certNames) describeBundle(pemData []byte) string {
	certs, err := parsePEM(pemData)
	if err != nil {
		return "invalid: " + err.Error()
	}
	if len(certs) == 0 {
		return "empty"
	}
	var out []string
	for _, c := range certs {
		out = append(out, n.name(c))
	}
	return "[" + strings.Join(out, " ") + "]"
}

func parsePEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, fmt.Errorf("trailing data after the PEM blocks")
	}
	return certs, nil
}

// firstCert is the leaf of a tls.crt (the CA issuer puts the leaf first).
func firstCert(pemData []byte) (*x509.Certificate, error) {
	certs, err := parsePEM(pemData)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate in PEM")
	}
	return certs[0], nil
}

func shortSerial(c *x509.Certificate) string {
	s := c.SerialNumber.Text(16)
	if len(s) > 10 {
		s = s[:10]
	}
	return s
}

// keyID is a short fingerprint of the public key: equal for a CA renewed with the same private key.
func keyID(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return fmt.Sprintf("%x", sum[:4])
}

// sameCerts reports whether two PEM bundles hold the same certificates in the same order.
func sameCerts(a, b []byte) bool {
	ca, errA := parsePEM(a)
	cb, errB := parsePEM(b)
	if errA != nil || errB != nil || len(ca) != len(cb) || len(ca) == 0 {
		return false
	}
	for i := range ca {
		if !bytes.Equal(ca[i].Raw, cb[i].Raw) {
			return false
		}
	}
	return true
}
