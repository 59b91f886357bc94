//go:build !linux

package e2e

import "syscall"

// dieWithParent has no portable equivalent outside Linux: components are stopped by Cluster.Stop.
func dieWithParent() *syscall.SysProcAttr { return nil }
