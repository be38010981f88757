package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

const probeAbout = `usage: wxclub probe URL

Exit 0 if URL answers 200 within two seconds: a container health check
for images that ship no curl.`

// runProbe exits 0 if URL answers 200 within two seconds: a health check
// for images that ship no curl (`wxclub probe http://127.0.0.1:8080/readyz`).
func runProbe(ctx context.Context, args []string, stdout io.Writer) error {
	c := newCommandLine(probeAbout, stdout)
	positional, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return c.usageErrorf("probe: give one URL, such as http://127.0.0.1:8080/readyz")
	}
	target := positional[0]
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe: %s answered %d", target, resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
