// Command devcerts writes a development CA and serving certificate for running `ha-webhook serve` outside a cluster:
//
//	go run ./hack/devcerts -dir certs -hosts 127.0.0.1,localhost
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
)

func main() {
	dir := flag.String("dir", "certs", "directory to write ca.crt, tls.crt and tls.key to")
	hosts := flag.String("hosts", "127.0.0.1,localhost", "comma-separated DNS names and IP addresses of the serving certificate")
	validFor := flag.Duration("valid-for", 30*24*time.Hour, "validity of the certificates")
	flag.Parse()
	if _, err := devcert.Write(*dir, strings.Split(*hosts, ","), *validFor); err != nil {
		fmt.Fprintln(os.Stderr, "devcerts:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s, %s and %s (for %s)\n", filepath.Join(*dir, devcert.CAFile), filepath.Join(*dir, devcert.CertFile),
		filepath.Join(*dir, devcert.KeyFile), *hosts)
}
