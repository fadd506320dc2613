package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/internal/isolate"
)

// runTranscodeChild is the hidden child process that runs one session's
// transcoders (see package isolate). It ignores the stop signals, which
// reach the whole process group: the parent ends it by closing its stdin,
// after the session has reported its final state, and the kernel kills it
// if the parent dies.
func runTranscodeChild(args []string) error {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	zl, err := logger.NewZapLogger(&logger.Config{Level: "info"})
	if err != nil {
		return err
	}
	log := zl.WithValues("process", isolate.ChildCommand, "args", args)
	return isolate.RunChild(os.Stdin, os.Stdout, log)
}
