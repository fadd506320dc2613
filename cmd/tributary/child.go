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
	log, err := childLogger(args)
	if err != nil {
		return err
	}
	logger.SetLogger(log, "transcode-child")
	routeLibraryLogs(log)
	return isolate.RunChild(os.Stdin, os.Stdout, log)
}
