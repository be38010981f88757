package ritual

import (
	"context"
	"time"
)

// Job run results.
const (
	JobRunning = "running"
	JobOK      = "ok"
	JobFailed  = "failed"
)

// JobRun is one run of a recurring job for one slot (the time the schedule
// fired, truncated to the minute).
type JobRun struct {
	Job        string
	Slot       time.Time
	Owner      string
	StartedAt  time.Time
	FinishedAt *time.Time
	Result     string
	Detail     string
}

// JobRuns claims slots, so that with any number of replicas each slot of
// each job runs once.
type JobRuns interface {
	// Claim records that owner runs job's slot; false if it was claimed before.
	Claim(ctx context.Context, job string, slot time.Time, owner string, now time.Time) (bool, error)
	Finish(ctx context.Context, job string, slot time.Time, result, detail string, now time.Time) error
	// Last returns the newest run of job; ENOTFOUND if it never ran.
	Last(ctx context.Context, job string) (*JobRun, error)
}
