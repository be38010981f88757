package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runProbe exits 0 if URL answers 200 within two seconds: a health check
// for images that ship no curl (`wxclub probe http://127.0.0.1:8080/readyz`).
func runProbe(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("probe: give one URL, such as http://127.0.0.1:8080/readyz")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe: %s answered %d", args[0], resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
