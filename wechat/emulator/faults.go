package emulator

import (
	"context"
	"time"
)

// Fault makes the next Count calls of an API path misbehave, so a service's
// retry and relay logic can be tested. Faults apply before anything else,
// token checks included. Several faults on one path apply one after the
// other, in the order they were added.
type Fault struct {
	Path    string `json:"path"`     // API path without /emu, e.g. "/cgi-bin/message/template/send"
	Count   int    `json:"count"`    // next N calls of that path fail (default 1)
	ErrCode int    `json:"errcode"`  // answer 200 with {"errcode":N,"errmsg":...}
	Status  int    `json:"status"`   // or answer this HTTP status (e.g. 502)
	DelayMS int    `json:"delay_ms"` // or wait this long before answering normally (honour request context cancellation)
}

// AddFault queues f for its path.
func (e *Emulator) AddFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[f.Path] = append(e.faults[f.Path], &f)
}

// ClearFaults drops every queued fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.faults)
}

// takeFault consumes one call of the first fault queued for path.
func (e *Emulator) takeFault(path string) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.faults[path]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	f.Count--
	if f.Count <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(e.faults, path)
	} else {
		e.faults[path] = q
	}
	return *f, true
}

// sleep waits d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
