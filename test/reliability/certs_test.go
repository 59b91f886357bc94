package reliability

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// certRotationDeadline is how soon a replaced certificate must be served: controller-runtime's certwatcher reacts
// to file events and re-reads the files every 10 s anyway.
const certRotationDeadline = 15 * time.Second

// TestCertificateRotationUnderLoad replaces the serving certificate twice while ~300 admissions/s flow (one in ten
// on a new TLS connection): first as the kubelet updates a Secret volume (a new timestamped directory, the ..data
// symlink swapped atomically, the old directory removed), then as devcert.Write does (each file renamed into place,
// key last). No admission fails, and each new certificate is served to new connections within 15 s. The client
// trusts the old and the new CAs, as a caBundle does during a CA rotation.
func TestCertificateRotationUnderLoad(t *testing.T) {
	dir := t.TempDir()
	vol := &secretVolume{dir: filepath.Join(dir, "certs")}
	ca1 := vol.write(t)
	// The next certificates are generated up front so that the client can trust their CAs from the start.
	ca2Dir, ca3Dir := filepath.Join(dir, "next-1"), filepath.Join(dir, "next-2")
	ca2, err := devcert.Write(ca2Dir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca3, err := devcert.Write(ca3Dir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	p := serve(t, "serve", serveOptions{certDir: vol.dir, caPEM: ca1})
	cfg := tlsConfig(t, ca1, ca2, ca3)
	url := p.webhookURL(names.PathMutatePod)
	load := (&loadGen{
		rate: loadRate, keepAlive: keepAliveClient(cfg, 16), fresh: freshClient(cfg), freshEvery: 10,
		target: func() (string, string, bool) { return url, p.name, true },
	}).start()
	prober := probeServedCert(t, p.webhookAddr, cfg)
	defer prober.close()

	phases := []phase{{"certificate 1", time.Now()}}
	time.Sleep(time.Second)
	initial := serial(t, filepath.Join(vol.dir, devcert.CertFile))
	if got := prober.latest(); got == nil || got.Cmp(initial) != 0 {
		t.Fatalf("served serial %v, want the initial certificate's %v", got, initial)
	}

	// Rotation 1: the kubelet's atomic Secret volume update.
	swapped := time.Now()
	phases = append(phases, phase{"kubelet-style ..data swap → certificate 2", swapped})
	vol.swap(t, ca2Dir)
	took1 := prober.waitFor(t, serial(t, filepath.Join(ca2Dir, devcert.CertFile)), swapped)
	time.Sleep(time.Second)

	// Rotation 2: as devcert.Write writes into the served directory: each file renamed into place, key last.
	written := time.Now()
	phases = append(phases, phase{"devcert.Write-style renames in place → certificate 3", written})
	for _, f := range []string{devcert.CAFile, devcert.CertFile, devcert.KeyFile} {
		data, err := os.ReadFile(filepath.Join(ca3Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(vol.dir, f+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(vol.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	took2 := prober.waitFor(t, serial(t, filepath.Join(ca3Dir, devcert.CertFile)), written)
	time.Sleep(time.Second)
	outcomes := load.finish()

	ts := tallyPhases(outcomes, phases)
	sent, failed := totals(ts)
	report(t, fmt.Sprintf("certificate rotation under load, %d/s (1 in 10 on a new TLS connection)", loadRate), ts, fmt.Sprintf(
		"new certificate served to new connections %s after the ..data swap and %s after the in-place renames (deadline %s); %d handshakes probed, %d failed",
		took1.Round(time.Millisecond), took2.Round(time.Millisecond), certRotationDeadline, prober.probes(), prober.failures()))
	if failed != 0 {
		t.Errorf("%d of %d admissions failed across the rotations:%s", failed, sent, firstErrors(outcomes, 5))
	}
	if prober.failures() != 0 {
		t.Errorf("%d TLS handshakes failed during the rotations", prober.failures())
	}
}

// secretVolume lays certificates out as the kubelet does for a Secret volume: tls.crt -> ..data/tls.crt,
// ..data -> ..<timestamp>/, and an update swaps ..data atomically, then removes the old directory.
type secretVolume struct {
	dir     string
	current string
}

func (v *secretVolume) write(t *testing.T) []byte {
	t.Helper()
	ts := v.newTimestampDir(t)
	ca, err := devcert.Write(filepath.Join(v.dir, ts), []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v.link(t, ts)
	for _, f := range []string{devcert.CertFile, devcert.KeyFile, devcert.CAFile} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(v.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return ca
}

// swap publishes the files of src as the new content of the volume.
func (v *secretVolume) swap(t *testing.T, src string) {
	t.Helper()
	ts := v.newTimestampDir(t)
	for _, f := range []string{devcert.CertFile, devcert.KeyFile, devcert.CAFile} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v.dir, ts, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := v.current
	v.link(t, ts)
	if err := os.RemoveAll(filepath.Join(v.dir, old)); err != nil {
		t.Fatal(err)
	}
}

func (v *secretVolume) newTimestampDir(t *testing.T) string {
	t.Helper()
	ts := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	if err := os.MkdirAll(filepath.Join(v.dir, ts), 0o700); err != nil {
		t.Fatal(err)
	}
	return ts
}

// link points ..data at ts atomically: a new symlink renamed over the old one.
func (v *secretVolume) link(t *testing.T, ts string) {
	t.Helper()
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	v.current = ts
}

func serial(t *testing.T, certFile string) *big.Int {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", certFile)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber
}

// certProber opens a new TLS connection every 100 ms and records the serial of the certificate served.
type certProber struct {
	mu           sync.Mutex
	last         *big.Int
	seen         map[string]time.Time
	n, failed    int
	stop, closed chan struct{}
}

func probeServedCert(t *testing.T, addr string, cfg *tls.Config) *certProber {
	p := &certProber{seen: map[string]time.Time{}, stop: make(chan struct{}), closed: make(chan struct{})}
	probe := func() {
		conn, err := tls.Dial("tcp", addr, cfg)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.n++
		if err != nil {
			p.failed++
			if p.failed <= 3 {
				t.Logf("TLS handshake failed: %v", err)
			}
			return
		}
		defer conn.Close()
		s := conn.ConnectionState().PeerCertificates[0].SerialNumber
		p.last = s
		if _, ok := p.seen[s.String()]; !ok {
			p.seen[s.String()] = time.Now()
		}
	}
	probe()
	go func() {
		defer close(p.closed)
		ticker := time.NewTicker(100 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-ticker.C:
				probe()
			}
		}
	}()
	return p
}

func (p *certProber) latest() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *certProber) probes() int   { p.mu.Lock(); defer p.mu.Unlock(); return p.n }
func (p *certProber) failures() int { p.mu.Lock(); defer p.mu.Unlock(); return p.failed }

// waitFor waits until the certificate with serial s is served and returns how long after since it first was.
func (p *certProber) waitFor(t *testing.T, s *big.Int, since time.Time) time.Duration {
	t.Helper()
	for deadline := since.Add(certRotationDeadline); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p.mu.Lock()
		at, ok := p.seen[s.String()]
		p.mu.Unlock()
		if ok {
			return at.Sub(since)
		}
	}
	t.Fatalf("certificate %v not served %s after it was written", s, certRotationDeadline)
	return 0
}

func (p *certProber) close() {
	close(p.stop)
	<-p.closed
}
