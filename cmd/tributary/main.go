// Command tributary is a LiveKit ingress: it takes RTMP, WHIP, SRT and HTTP
// inputs and publishes them into LiveKit rooms. In standalone mode it also
// serves the livekit.Ingress Twirp API and keeps ingress records in an
// embedded store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/server"
)

// drainTimeout bounds how long SIGTERM waits for sessions to end.
const drainTimeout = 30 * time.Second

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tributary:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("tributary", flag.ContinueOnError)
	confPath := fs.String("config", "", "path to the YAML config file (or INGRESS_CONFIG_FILE / INGRESS_CONFIG_BODY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, origin, err := config.Source(*confPath, os.Getenv)
	if err != nil {
		return err
	}
	conf, err := config.Parse(body, os.Getenv)
	if err != nil {
		if origin != "" {
			return fmt.Errorf("%s: %w", origin, err)
		}
		return err
	}

	zl, err := logger.NewZapLogger(&conf.Logging)
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	log := zl.WithValues("service", conf.ServiceName)
	logger.SetLogger(log, conf.ServiceName)

	if conf.ClusterMode() {
		return errors.New("redis is configured, which selects cluster mode (a worker of livekit-server); " +
			"cluster mode is not available in this build yet: remove the redis section to run standalone")
	}

	srv := &server.Server{Config: conf, Logger: log}
	if err := srv.Initialize(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer stop()
	<-ctx.Done()
	log.Infow("shutting down")
	dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	srv.Close(dctx)
	return nil
}
