// Command wxclub runs the wxclub membership service and its tools.
//
//	wxclub [serve] [-config FILE]   run the service (the default)
//	wxclub migrate [-config FILE]   create or upgrade the database schema
//	wxclub check [-config FILE]     verify every ledger sums to its balance
//	wxclub jobs list|run            campaign jobs: list them, run one slot by hand
//	wxclub sim ACTION [flags]       play a shopper against a running service
//	wxclub emulator [flags]         run the WeChat emulator on its own
//	wxclub load webhook|orders|signin   load-test a running service (its load merchant)
//	wxclub bench webhook|orders|signin  measure the service against the bare framework and the commit limit
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
	"strings"
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
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the exit status: 0 for
// success and for an explicit -h, 2 for a command line that cannot be run
// as given (as the flag package does), 1 for a failure.
func exitCode(err error, stderr io.Writer) int {
	var bad *usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "wxclub: %s\n\n%s", bad.problem, bad.usage)
		return 2
	}
	fmt.Fprintln(stderr, "wxclub:", err)
	return 1
}

// run dispatches a subcommand; serve is the default.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && isHelpFlag(args[0]) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "jobs":
		return runJobs(ctx, args, stdout, stderr)
	case "check":
		return runCheck(ctx, args, stdout, stderr)
	case "sim":
		return runSim(ctx, args, stdout, stderr)
	case "emulator":
		return runEmulator(ctx, args, stdout, stderr)
	case "load":
		return runLoad(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "bench-bare-webhook": // started by bench; not in the usage
		return runBenchBareWebhook(ctx, args, stdout)
	case "probe":
		return runProbe(ctx, args, stdout)
	case "version":
		if _, err := newCommandLine(versionAbout, stdout).parseNone(args); err != nil {
			return err
		}
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help":
		if len(args) == 0 {
			fmt.Fprint(stdout, usage)
			return nil
		}
		if err := run(ctx, []string{args[0], "-h"}, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	default:
		return &usageError{problem: fmt.Sprintf("unknown command %q", cmd), usage: usage}
	}
}

const usage = `usage:
  wxclub [serve] [-config FILE]   run the service (default config.yaml)
  wxclub migrate [-config FILE]   create or upgrade the database schema
  wxclub check [-config FILE]     verify every member's ledger sums to their balance
  wxclub jobs list                list campaign jobs: next run, last result
  wxclub jobs run JOB --merchant M [--at TIME]   run one slot by hand (once per slot)
  wxclub sim ACTION [flags]       play a shopper: follow [--scene S], unfollow, scan SCENE,
                                  card --phone P, say TEXT, inbox, redeliver; --merchant, --openid, --server
  wxclub sim group say TEXT --group G --sender S | messages --group G   speak in a group
  wxclub emulator [flags]         run the WeChat emulator on its own
  wxclub load webhook|orders|signin [flags]   drive a running service's load merchant; report req/s and p99
  wxclub bench webhook|orders|signin [flags]  start the service, measure req/s, p99, statements and CPU
                                  per request beside the bare framework and the commit limit
  wxclub probe URL                exit 0 if URL answers 200 (a container health check)
  wxclub version                  print the version

wxclub COMMAND -h (or wxclub help COMMAND) prints a command's actions and flags.
`

const versionAbout = `usage: wxclub version

Print the version, the commit it was built from and the Go release.`

func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h"
}

// usageError is a command line that cannot be run as given; it carries the
// command's usage so the user sees what it accepts.
type usageError struct{ problem, usage string }

func (e *usageError) Error() string { return e.problem }

// commandLine is one command's flags and the text -h prints about it.
type commandLine struct {
	*flag.FlagSet
	about  string // synopsis, description and actions, above the flags
	stdout io.Writer
}

// newCommandLine returns a command's flag set; about starts with its
// "usage:" line. Errors come back from parse rather than exiting.
func newCommandLine(about string, stdout io.Writer) *commandLine {
	fs := flag.NewFlagSet("wxclub", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports, once, through exitCode
	fs.Usage = func() {}
	return &commandLine{FlagSet: fs, about: about, stdout: stdout}
}

// usage is what -h prints: the about text and every flag with its default.
func (c *commandLine) usage() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(c.about) + "\n")
	hasFlags := false
	c.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		b.WriteString("\nflags:\n")
		c.SetOutput(&b)
		c.PrintDefaults()
		c.SetOutput(io.Discard)
	}
	return b.String()
}

// parse reads flags before, between or after positional arguments ("sim
// say 你好 --openid o1") and returns the positional ones. -h or --help
// prints the usage on stdout and returns flag.ErrHelp.
func (c *commandLine) parse(args []string) ([]string, error) {
	var positional []string
	for {
		err := c.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, c.usage())
			return nil, err
		}
		if err != nil {
			return nil, c.usageErrorf("%v", err)
		}
		args = c.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseNone is parse for a command that takes no positional arguments.
func (c *commandLine) parseNone(args []string) ([]string, error) {
	positional, err := c.parse(args)
	if err == nil && len(positional) > 0 {
		return nil, c.usageErrorf("unexpected argument %q", positional[0])
	}
	return positional, err
}

// usageErrorf reports a command line this command cannot run.
func (c *commandLine) usageErrorf(format string, a ...any) error {
	return &usageError{problem: fmt.Sprintf(format, a...), usage: c.usage()}
}

// parseConfigOnly parses the flags of a command whose only flag is -config
// and loads that configuration with the environment's overrides.
func parseConfigOnly(about string, args []string, stdout io.Writer) (Config, error) {
	c := newCommandLine(about, stdout)
	path := c.String("config", "config.yaml", "configuration file; WXCLUB_* environment variables override its keys")
	if _, err := c.parseNone(args); err != nil {
		return Config{}, err
	}
	return LoadConfig(*path, os.Environ())
}
