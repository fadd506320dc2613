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
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/service"
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

	store, err := service.OpenStore(conf.StorePath)
	if err != nil {
		return err
	}
	defer store.Close()

	m := service.NewManager(service.ManagerConfig{
		Store:       store,
		RTMPBaseURL: conf.RTMPBaseURL,
		WHIPBaseURL: conf.WHIPBaseURL,
		Logger:      log,
	})
	api := service.NewAPI(m, auth.NewSimpleKeyProvider(conf.APIKey, conf.APISecret))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer stop()

	var servers []*http.Server
	apiMux := http.NewServeMux()
	apiMux.Handle(api.PathPrefix(), api.Handler())
	apiSrv, err := listen(fmt.Sprintf(":%d", conf.APIPort), apiMux)
	if err != nil {
		return fmt.Errorf("api_port %d: %w", conf.APIPort, err)
	}
	servers = append(servers, apiSrv)
	if conf.HealthPort > 0 {
		hs, err := listen(fmt.Sprintf(":%d", conf.HealthPort), m.HealthHandler())
		if err != nil {
			shutdown(servers)
			return fmt.Errorf("health_port %d: %w", conf.HealthPort, err)
		}
		servers = append(servers, hs)
	}
	log.Infow("tributary started",
		"apiPort", conf.APIPort, "healthPort", conf.HealthPort, "store", conf.StorePath,
		"rtmpBaseURL", conf.RTMPBaseURL, "whipBaseURL", conf.WHIPBaseURL, "wsURL", conf.WsURL)

	<-ctx.Done()
	log.Infow("shutting down")
	dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := m.Close(dctx); err != nil {
		log.Warnw("shutdown", err)
	}
	shutdown(servers)
	return nil
}

// listen binds addr and serves h in the background; the caller shuts the
// returned server down.
func listen(addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

func shutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
}
