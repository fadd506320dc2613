package main

import (
	"context"
	"fmt"
	stdlog "log"
	"os"
	"strings"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/isolate"
)

// Environment of the transcoding child processes: the parent's logging
// section and node ID, so that their lines come out in the same format
// with the same fields.
const (
	childLoggingEnv = "TRIBUTARY_CHILD_LOGGING"
	childNodeEnv    = "TRIBUTARY_CHILD_NODE_ID"
)

// routeLibraryLogs sends what the libraries print on their own through
// log, so that every line of the process has the configured format: the
// LiveKit SDK (whose default is the standard library's logger), anything
// written with the standard library's logger (net/http's errors among
// them), go-redis, and the FFmpeg libraries. pion's loggers are given
// where its settings are built (the WHIP sessions' and the SDK's).
func routeLibraryLogs(log logger.Logger) {
	lksdk.SetLogger(log)
	stdlog.SetFlags(0)
	stdlog.SetOutput(lineWriter{log.WithValues("source", "stdlog")})
	redis.SetLogger(redisLogger{log.WithValues("source", "redis")})
	av := log.WithComponent("libav")
	ffi.SetLogFunc(func(level ffi.LogLevel, msg string) {
		// Every error libav reports about a stream is also returned to
		// the session, which says what it means for it.
		switch level {
		case ffi.LogError:
			av.Warnw(msg, nil)
		case ffi.LogWarning:
			av.Infow(msg)
		default:
			av.Debugw(msg)
		}
	})
}

// lineWriter logs each line written to it.
type lineWriter struct{ log logger.Logger }

func (w lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			w.log.Warnw(l, nil)
		}
	}
	return len(p), nil
}

type redisLogger struct{ log logger.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	r.log.Warnw(fmt.Sprintf(format, v...), nil)
}

// childEnv passes the logging section and node ID to the transcoding
// children, which inherit the environment.
func childEnv(conf *logger.Config, nodeID string) error {
	b, err := yaml.Marshal(conf)
	if err != nil {
		return err
	}
	if err := os.Setenv(childLoggingEnv, string(b)); err != nil {
		return err
	}
	return os.Setenv(childNodeEnv, nodeID)
}

// childLogger is the logger of a transcoding child: the parent's format
// and level, its node ID, and the session named by the arguments
// (--ingress, --resource, --room, --participant).
func childLogger(args []string) (logger.Logger, error) {
	var conf logger.Config
	if s := os.Getenv(childLoggingEnv); s != "" {
		if err := yaml.Unmarshal([]byte(s), &conf); err != nil {
			return nil, fmt.Errorf("%s: %w", childLoggingEnv, err)
		}
	}
	if conf.Level == "" {
		conf.Level = "info"
	}
	zl, err := logger.NewZapLogger(&conf)
	if err != nil {
		return nil, err
	}
	values := []any{"process", isolate.ChildCommand}
	if id := os.Getenv(childNodeEnv); id != "" {
		values = append(values, "nodeID", id)
	}
	names := map[string]string{"--ingress": "ingressID", "--resource": "resourceID", "--room": "room", "--participant": "participant"}
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := names[args[i]]; ok {
			values = append(values, k, args[i+1])
		}
	}
	return zl.WithValues(values...), nil
}
