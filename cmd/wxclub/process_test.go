package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the real binary as separate processes: what a signal
// does, or what a replica's death leaves behind, cannot be seen in-process.

var built struct {
	once sync.Once
	path string
	err  error
}

// wxclubBinary builds the command once per test run.
func wxclubBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "wxclub-bin")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "wxclub")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// proc is a running wxclub process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan error
}

var servingAt = regexp.MustCompile(`msg="(?:wxclub|emulator) serving" addr=(\S+)`)

// startProc runs wxclub with args and env, and waits until it says where it
// serves. It is killed when the test ends if still running.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(wxclubBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if m := servingAt.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("logs of wxclub %s:\n%s", strings.Join(args, " "), p.logs.String())
		}
	})
	select {
	case p.url = <-addr:
	case err := <-p.done:
		t.Fatalf("wxclub %s exited: %v\n%s", strings.Join(args, " "), err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("wxclub %s did not start:\n%s", strings.Join(args, " "), p.logs.String())
	}
	return p
}

// wait returns the process's exit error, failing after d.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(d):
		t.Fatalf("still running after %s", d)
		return nil
	}
}

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// configFile writes the shipped configuration with replacements.
func configFile(t *testing.T, replace ...string) string {
	t.Helper()
	text := mustReadFile(t, shippedConfig)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("config has no %q", replace[i])
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	return writeConfig(t, text)
}
