package main

import (
	"fmt"
	"io"
	"time"
)

// counter reads a running job's counts: members gone through, messages
// queued (ritual.JobProgress is one).
type counter interface {
	Members() int64
	Messages() int64
}

// watchProgress prints job's counts and rate to w every interval while it
// runs; stop ends the watch and prints the totals. An interval of 0 prints
// nothing.
func watchProgress(job string, c counter, every time.Duration, w io.Writer) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	start := time.Now()
	line := func(prefix string) {
		elapsed := time.Since(start)
		rate := 0.0
		if elapsed > 0 {
			rate = float64(c.Members()) / elapsed.Seconds()
		}
		fmt.Fprintf(w, "%s%s: %d members, %d messages queued, %.0f members/s (%s)\n",
			prefix, job, c.Members(), c.Messages(), rate, elapsed.Round(time.Millisecond))
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				line("")
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		line("done ")
	}
}
