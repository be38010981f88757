package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models/modelstest"
)

// The README's walkthrough is a script: each fenced block after a line
// starting with walkthroughMarker holds commands (`./wxclub sim ...` and
// `curl ...`, continued with a trailing backslash), each followed by
// expectLead lines that its output must contain. Other lines starting with
// # are comments for the reader.
const (
	readmePath        = "../../README.md"
	walkthroughMarker = "<!-- walkthrough:"
	expectLead        = "# → "
	readmeServer      = "localhost:8080"
	readmeAPIKey      = "demo-key-change-me"
)

// walkStep is one command of the walkthrough and what it must print.
type walkStep struct {
	line   int    // where the command starts in README.md
	text   string // as written, continuation lines joined
	args   []string
	expect []string
}

// TestREADMEWalkthrough runs the README's walkthrough on a fresh server, a
// command at a time, and checks that each prints what the README shows
// under it: a reader who copies the commands sees those replies.
func TestREADMEWalkthrough(t *testing.T) {
	steps := readmeWalkthrough(t)
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			w := &walker{m: startMain(t, driver)}
			for _, step := range steps {
				w.check(t, step)
			}
		})
	}
}

// readmeWalkthrough reads the walkthrough's commands from README.md.
func readmeWalkthrough(t *testing.T) []walkStep {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseWalkthrough(string(data))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return steps
}

// parseWalkthrough returns the commands of every marked block in readme.
// A marker with no block after it, a command with no expectLead line, or an
// expectLead line with no command above it is an error: the README would
// show something the test does not check.
func parseWalkthrough(readme string) ([]walkStep, error) {
	lines := strings.Split(readme, "\n")
	var steps []walkStep
	blocks := 0
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), walkthroughMarker) {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			return nil, fmt.Errorf("line %d: the walkthrough marker is not followed by a fenced block", i+1)
		}
		blocks++
		block, end, err := parseBlock(lines, i+2)
		if err != nil {
			return nil, err
		}
		steps, i = append(steps, block...), end
	}
	if blocks == 0 {
		return nil, fmt.Errorf("no walkthrough block (a line starting %q before a fenced block)", walkthroughMarker)
	}
	return steps, nil
}

// parseBlock reads a fenced block's commands from lines[start:] up to the
// closing fence, and returns them with the fence's index.
func parseBlock(lines []string, start int) ([]walkStep, int, error) {
	var steps []walkStep
	for i := start; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(line, "```"):
			for _, s := range steps {
				if len(s.expect) == 0 {
					return nil, 0, fmt.Errorf("line %d: %s shows nothing it prints: add a %q line under it", s.line, s.text, expectLead)
				}
			}
			return steps, i, nil
		case strings.HasPrefix(line, strings.TrimSpace(expectLead)):
			if len(steps) == 0 {
				return nil, 0, fmt.Errorf("line %d: %q with no command above it", i+1, line)
			}
			want := strings.TrimSpace(strings.TrimPrefix(line, strings.TrimSpace(expectLead)))
			steps[len(steps)-1].expect = append(steps[len(steps)-1].expect, want)
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			step := walkStep{line: i + 1, text: line}
			for strings.HasSuffix(step.text, `\`) && i+1 < len(lines) {
				i++
				step.text = strings.TrimSuffix(step.text, `\`) + " " + strings.TrimSpace(lines[i])
			}
			args, err := shellWords(step.text)
			if err != nil {
				return nil, 0, fmt.Errorf("line %d: %v", step.line, err)
			}
			step.args = args
			steps = append(steps, step)
		}
	}
	return nil, 0, fmt.Errorf("line %d: the walkthrough block is not closed", start)
}

// shellWords splits a command line as a POSIX shell does for the commands
// the walkthrough uses: words separated by blanks, '...' and "..." quoting
// (with \" and \\ inside double quotes), a backslash escaping one character,
// and a # that starts a word beginning a comment.
func shellWords(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
			continue
		case c == '#' && !inWord:
			return words, nil
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				word.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New(`unterminated " quote`)
			}
		case c == '\\' && i+1 < len(s):
			i++
			word.WriteByte(s[i])
		default:
			word.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// walker runs walkthrough commands against one server, as a reader's
// terminal would against localhost:8080.
type walker struct{ m *Main }

// check runs step and fails the test unless its output holds every
// expected line. The relay sends template messages a few seconds after the
// change, so `sim inbox` is asked again until they are there.
func (w *walker) check(t *testing.T, step walkStep) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := w.run(step.args)
		if err != nil {
			t.Fatalf("README.md:%d: %s\nfailed: %v\nprinted:\n%s", step.line, step.text, err, out)
		}
		missing := ""
		for _, want := range step.expect {
			if !strings.Contains(out, want) {
				missing = want
				break
			}
		}
		if missing == "" {
			return
		}
		if !isInbox(step.args) || time.Now().After(deadline) {
			t.Fatalf("README.md:%d: %s\nprinted:\n%s\nwant a line holding %q, as the README shows", step.line, step.text, out, missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func isInbox(args []string) bool {
	return len(args) >= 3 && args[0] == "./wxclub" && args[1] == "sim" && args[2] == "inbox"
}

// run runs one command and returns what it printed.
func (w *walker) run(args []string) (string, error) {
	switch {
	case len(args) >= 2 && args[0] == "./wxclub" && args[1] == "sim":
		return w.sim(args[1:])
	case len(args) >= 1 && args[0] == "curl":
		return w.curl(args[1:])
	}
	return "", fmt.Errorf("the walkthrough runs ./wxclub sim and curl, not %q", args)
}

// sim runs `wxclub sim` in process, pointed at the test server and, on a
// database other tests share, at this run's merchant and key.
func (w *walker) sim(args []string) (string, error) {
	merchant := w.m.Config.Merchants[0]
	args = append(args, "--server", w.m.URL(), "--merchant", merchant.ID)
	if args[1] != "group" {
		args = append(args, "--key", merchant.APIKey)
	}
	var out bytes.Buffer
	err := run(context.Background(), args, &out, io.Discard)
	return out.String(), err
}

// curl does what `curl -s [-X METHOD] [-H HEADER]... [-d BODY] URL` does
// and returns the response body.
func (w *walker) curl(args []string) (string, error) {
	method, target, body := "", "", ""
	var headers []string
	hasBody := false
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; arg {
		case "-s":
		case "-X", "-H", "-d":
			if i+1 >= len(args) {
				return "", fmt.Errorf("curl %s needs a value", arg)
			}
			i++
			switch arg {
			case "-X":
				method = args[i]
			case "-H":
				headers = append(headers, args[i])
			case "-d":
				body, hasBody = args[i], true
			}
		default:
			if strings.HasPrefix(arg, "-") || target != "" {
				return "", fmt.Errorf("the walkthrough's curl knows -s, -X, -H, -d and one URL, not %q", arg)
			}
			target = arg
		}
	}
	rest, ok := strings.CutPrefix(strings.TrimPrefix(target, "http://"), readmeServer)
	if !ok {
		return "", fmt.Errorf("curl %q: the walkthrough's server is %s", target, readmeServer)
	}
	if method == "" {
		method = http.MethodGet
		if hasBody {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, w.m.URL()+rest, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		value = strings.Replace(strings.TrimSpace(value), readmeAPIKey, w.m.Config.Merchants[0].APIKey, 1)
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return string(data), err
}
