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
	Job        string     `json:"job"`
	Slot       time.Time  `json:"slot"`
	Owner      string     `json:"owner"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Result     string     `json:"result"`
	Detail     string     `json:"detail"`
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

// RunJob runs fn for job's slot unless another replica (or an earlier run)
// claimed that slot, and records the result. ran is false when the slot was
// taken; fn's error is recorded and returned.
func (c *Calendar) RunJob(ctx context.Context, job string, slot time.Time, owner string, fn func(ctx context.Context) (detail string, err error)) (ran bool, err error) {
	claimed, err := c.store.JobRuns().Claim(ctx, job, slot, owner, c.clock())
	if err != nil || !claimed {
		return false, err
	}
	detail, runErr := fn(ctx)
	result := JobOK
	if runErr != nil {
		result, detail = JobFailed, runErr.Error()
	}
	c.observe(func(o Observer) { o.JobRan(job, result) })
	if err := c.store.JobRuns().Finish(context.WithoutCancel(ctx), job, slot, result, detail, c.clock()); err != nil {
		return true, err
	}
	return true, runErr
}

// LastJobRun returns the newest run of job; ENOTFOUND if it never ran.
func (c *Calendar) LastJobRun(ctx context.Context, job string) (*JobRun, error) {
	return c.store.JobRuns().Last(ctx, job)
}
