package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wxclub/wxclub/wechat/emulator"
)

const emulatorAbout = `usage: wxclub emulator [flags]

Run the WeChat emulator on its own and register the configuration's
merchants with their webhooks on -service; point the service's
wechat.api_base at http://HOST:PORT/emu.`

// runEmulator serves the WeChat emulator on its own, for load runs and for
// a service configured with wechat.api_base pointing at it. The merchants
// of the configuration are registered with their webhook on -service.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(emulatorAbout, stdout)
	addr := fs.String("addr", ":9090", "listen address")
	path := fs.String("config", "config.yaml", "configuration whose merchants to register")
	service := fs.String("service", "http://127.0.0.1:8080", "base URL of the wxclub service (webhooks are <service>/wechat/<merchant>)")
	if _, err := fs.parseNone(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	emu := emulator.New(emulator.Options{Logger: logger})
	if err := registerAccounts(emu, cfg.Merchants, strings.TrimRight(*service, "/")); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: emu.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info("emulator serving", "addr", *addr, "api_base", fmt.Sprintf("http://127.0.0.1%s/emu", *addr))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
