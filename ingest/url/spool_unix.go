//go:build unix

package url

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// checkOwner refuses a spool directory owned by another user.
func checkOwner(dir string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to user %d, not to this process's user %d", dir, st.Uid, os.Getuid())
	}
	return nil
}

// processRunning reports whether a process with this ID exists (EPERM:
// it exists, under another user).
func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
