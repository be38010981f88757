// Command wxclub runs the wxclub membership service and its tools.
//
//	wxclub [serve] [-config FILE]   run the service (the default)
//	wxclub migrate [-config FILE]   create or upgrade the database schema
//	wxclub check [-config FILE]     verify every ledger sums to its balance
//	wxclub jobs list|run            campaign jobs: list them, run one slot by hand
//	wxclub sim ACTION [flags]       play a shopper against a running service
//	wxclub emulator [flags]         run the WeChat emulator on its own
//	wxclub load webhook [flags]     load-test a running service
//	wxclub probe URL                health check for images without curl
//	wxclub version                  print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // merchants' time zones work on minimal images without zoneinfo

	"github.com/gin-gonic/gin"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// versionLine says which build this is: the version, the commit when the
// build recorded one, and the Go release.
func versionLine() string {
	line := "wxclub " + version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				line += " (" + s.Value[:12] + ")"
			}
		}
		line += " " + info.GoVersion
	}
	return line
}

func main() {
	// gin's mode is process-global: set once, here. Release mode keeps gin
	// from printing every route and a debug warning at start.
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "wxclub:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand; serve is the default.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stderr)
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "jobs":
		return runJobs(ctx, args, stdout, stderr)
	case "check":
		return runCheck(ctx, args, stdout, stderr)
	case "sim":
		return runSim(ctx, args, stdout, stderr)
	case "emulator":
		return runEmulator(ctx, args, stderr)
	case "load":
		return runLoad(ctx, args, stdout, stderr)
	case "probe":
		return runProbe(ctx, args, stdout)
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage:
  wxclub [serve] [-config FILE]   run the service (default config.yaml)
  wxclub migrate [-config FILE]   create or upgrade the database schema
  wxclub check [-config FILE]     verify every member's ledger sums to their balance
  wxclub jobs list                list campaign jobs: next run, last result
  wxclub jobs run JOB --merchant M [--at TIME]   run one slot by hand (once per slot)
  wxclub sim ACTION [flags]       play a shopper: follow [--scene S], unfollow, scan SCENE,
                                  say TEXT, inbox, redeliver; --merchant, --openid, --server
  wxclub sim group say TEXT --group G --sender S | messages --group G   speak in a group
  wxclub emulator [flags]         run the WeChat emulator on its own
  wxclub load webhook [flags]     drive a running service with signed messages; report req/s and p99
  wxclub probe URL                exit 0 if URL answers 200 (a container health check)
  wxclub version                  print the version`

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wxclub "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseConfigOnly parses the flags of a command whose only flag is -config
// and loads that configuration with the environment's overrides.
func parseConfigOnly(name string, args []string, stderr io.Writer) (Config, error) {
	fs := newFlagSet(name, stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return LoadConfig(*path, os.Environ())
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("sim say 你好 --openid o1") and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
