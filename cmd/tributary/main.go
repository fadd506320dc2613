// Command tributary is a LiveKit ingress: it takes RTMP, WHIP, SRT and HTTP
// inputs and publishes them into LiveKit rooms. In standalone mode it also
// serves the livekit.Ingress Twirp API and keeps ingress records in an
// embedded store.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/internal/isolate"
	"github.com/tributary-ingress/tributary/server"
)

// started is the process logger once the configuration has set it up:
// an error after that is logged in the configured format.
var started logger.Logger

func main() {
	if err := run(os.Args[1:]); err != nil {
		if started != nil {
			started.Errorw("tributary stopped", err)
		} else {
			fmt.Fprintln(os.Stderr, "tributary:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == isolate.ChildCommand {
		return runTranscodeChild(args[1:])
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		printVersion(os.Stdout)
		return nil
	}
	fs := flag.NewFlagSet("tributary", flag.ContinueOnError)
	confPath := fs.String("config", "", "path to the YAML config file (or INGRESS_CONFIG_FILE)")
	confBody := fs.String("config-body", "", "the YAML config itself (or INGRESS_CONFIG_BODY); wins over a file, as in the official worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, origin, err := config.Source(*confPath, *confBody, os.Getenv)
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

	// One node ID for the metrics, the webhooks and every log line.
	if conf.NodeID == "" {
		conf.NodeID = server.NodeID(conf)
	}
	zl, err := logger.NewZapLogger(&conf.Logging)
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	log := zl.WithValues("service", conf.ServiceName, "nodeID", conf.NodeID)
	logger.SetLogger(log, conf.ServiceName)
	routeLibraryLogs(log)
	started = log
	if err := childEnv(&conf.Logging, conf.NodeID); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	for _, k := range conf.NoEffect() {
		log.Warnw("config key has no effect", nil, "key", k[0], "why", k[1])
	}
	for _, u := range conf.UnknownKeys() {
		log.Warnw(u.Error()+"; ignored (strict_config: true refuses unknown keys)", nil, "origin", origin)
	}
	if conf.Development && len(conf.APISecret) < config.MinAPISecretLength {
		log.Warnw("development: true accepts this short api_secret; do not expose this server", nil, "secretLength", len(conf.APISecret))
	}

	// One node type runs either mode: the config's redis section makes it
	// a worker of livekit-server.
	srv := &server.Node{Config: conf, Logger: log}
	if err := srv.Initialize(); err != nil {
		return err
	}
	shutdown(srv, conf.DrainTimeout, log)
	return nil
}
