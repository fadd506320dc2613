package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/livekit/protocol/logger"
)

// stopTimeout bounds how long stopping waits for the sessions it ended to
// report their final state.
const stopTimeout = 10 * time.Second

// node is a running Tributary, standalone or cluster worker.
type node interface {
	Initialize() error
	// Drain stops taking sessions and waits for the running ones, at most
	// until ctx is done.
	Drain(ctx context.Context) error
	// Close ends the running sessions, waiting at most until ctx is done
	// for their final state, and stops every listener.
	Close(ctx context.Context)
}

// shutdown waits for a signal and stops n as LiveKit's ingress does:
// SIGTERM and SIGQUIT drain (no new sessions; the running ones may finish,
// for at most drainTimeout when it is not 0), SIGINT stops at once. A second signal during
// the drain stops at once too. Either way the sessions are ended before
// the process exits, so their final state (INACTIVE or ERROR) is recorded.
func shutdown(n node, drainTimeout time.Duration, log logger.Logger) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	sig := <-sigs
	if sig != syscall.SIGINT {
		log.Infow("draining: finishing the running sessions, then shutting down", "signal", sig.String(), "timeout", drainTimeout)
		ctx, cancel := drainContext(drainTimeout)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			select {
			case s := <-sigs:
				log.Infow("second signal: stopping the running sessions now", "signal", s.String())
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := n.Drain(ctx); err != nil {
			log.Infow("drain ended with sessions still running: stopping them", "reason", err.Error())
		}
		cancel()
		<-stopped
	} else {
		log.Infow("stopping the running sessions and shutting down", "signal", sig.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	n.Close(ctx)
	log.Infow("stopped")
}

// drainContext bounds a drain: by timeout, or not at all when it is 0 (the
// official worker waits for every session).
func drainContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout == 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), timeout)
}
