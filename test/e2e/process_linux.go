package e2e

import "syscall"

// dieWithParent makes the kernel kill a component when the test process dies, so an interrupted drill (Ctrl-C, a
// test timeout) leaves no kube-controller-manager, kube-scheduler or kwok behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
