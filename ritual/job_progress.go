package ritual

import (
	"context"
	"sync/atomic"
)

// JobProgress counts a running job's work as it goes — members gone
// through, messages queued — so that a command running a long job by hand
// can show it. Counts are safe to read while the job runs.
type JobProgress struct {
	members, messages atomic.Int64
}

// Members is how many members the job has gone through so far.
func (p *JobProgress) Members() int64 { return p.members.Load() }

// Messages is how many messages the job has queued so far.
func (p *JobProgress) Messages() int64 { return p.messages.Load() }

// add counts work done; on a nil progress (nobody watching) it does nothing.
func (p *JobProgress) add(members, messages int64) {
	if p == nil {
		return
	}
	p.members.Add(members)
	p.messages.Add(messages)
}

type jobProgressKey struct{}

// WithJobProgress returns ctx carrying p: jobs run with it count their
// work in p.
func WithJobProgress(ctx context.Context, p *JobProgress) context.Context {
	return context.WithValue(ctx, jobProgressKey{}, p)
}

// jobProgress is the progress ctx carries, or nil.
func jobProgress(ctx context.Context) *JobProgress {
	p, _ := ctx.Value(jobProgressKey{}).(*JobProgress)
	return p
}
