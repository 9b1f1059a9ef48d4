//go:build !linux

package etcdtest

import "syscall"

// sysProcAttr is nil where there is no parent-death signal: members are
// stopped by the test's cleanup only.
func sysProcAttr() *syscall.SysProcAttr { return nil }
