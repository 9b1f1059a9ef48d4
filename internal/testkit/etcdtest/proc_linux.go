package etcdtest

import "syscall"

// sysProcAttr has the kernel kill a member when the test binary dies
// without running its cleanups (a timeout, a crash).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
