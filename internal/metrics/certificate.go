package metrics

import (
	"crypto/x509"
	"encoding/pem"
	"os"

	"github.com/prometheus/client_golang/prometheus"
)

// CertificateExpiry exports the notAfter of the serving certificate as it is on disk at each scrape: the file is
// what the webhook server reloads, so a renewal that cert-manager wrote (or failed to write) shows at once. A file
// that cannot be read or parsed exports no series, so that an absent() alert tells it apart from a date.
type CertificateExpiry struct {
	path string
	desc *prometheus.Desc
}

// NewCertificateExpiry reads the PEM certificate (chain; the first is the leaf) at path.
func NewCertificateExpiry(path string) *CertificateExpiry {
	return &CertificateExpiry{path: path, desc: prometheus.NewDesc("ha_webhook_serving_certificate_expiry_timestamp_seconds",
		"Unix time at which the serving certificate on disk expires (its notAfter).", nil, nil)}
}

// Describe sends the descriptor.
func (c *CertificateExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reads the certificate.
func (c *CertificateExpiry) Collect(ch chan<- prometheus.Metric) {
	raw, err := os.ReadFile(c.path)
	if err != nil {
		return
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()))
}
