package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchChild is a process the bench starts and measures from outside, as
// a client and the kernel see it: the service, or the bare webhook.
type benchChild struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	done    chan error
}

// startBenchChild runs this executable with args on a free local port,
// passed as -addr's value in args wherever "ADDR" stands and as
// WXCLUB_SERVER_ADDR, logging to a file in dir, and waits until /healthz
// answers.
func startBenchChild(ctx context.Context, dir, name string, env []string, args ...string) (*benchChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if a == "ADDR" {
			args[i] = addr
		}
	}
	logPath := fmt.Sprintf("%s/%s.log", dir, name)
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), env...), "WXCLUB_SERVER_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &benchChild{cmd: cmd, url: "http://" + addr, logPath: logPath, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	if err := c.waitHealthy(ctx, 2*time.Minute); err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: %s did not start: %w\n%s", name, err, c.logTail())
	}
	return c, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (c *benchChild) pid() int { return c.cmd.Process.Pid }

func (c *benchChild) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(c.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("no answer on /healthz")
}

// stop ends the child with SIGTERM, as an orchestrator would, and kills it
// if it has not gone after a while.
func (c *benchChild) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}

// statements reads wxclub_sql_statements_total off the child's /metrics.
func (c *benchChild) statements(ctx context.Context) (float64, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/metrics", nil)
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	return metricSum(resp.Body, "wxclub_sql_statements_total")
}

// metricSum adds up every sample of a metric in Prometheus' text format.
func metricSum(r io.Reader, name string) (float64, bool) {
	sum, found := 0.0, false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

// logTail is the end of the child's log, to show why it failed.
func (c *benchChild) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
