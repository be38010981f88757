package ritual_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestEachSlotRunsOnceAcrossReplicas(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, _ := newClub(t, db, clock)
		job := ritualtest.RandomID("job-")
		slot := clock.Now().Truncate(time.Minute)
		var runs atomic.Int32
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := club.RunJob(context.Background(), job, slot, []string{"a", "b", "c"}[i], func(context.Context) (string, error) {
					runs.Add(1)
					time.Sleep(20 * time.Millisecond)
					return "did it", nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("the slot ran %d times across three replicas, want 1", got)
		}
		ran, err := club.RunJob(context.Background(), job, slot, "a", func(context.Context) (string, error) { runs.Add(1); return "", nil })
		if err != nil || ran {
			t.Fatalf("running the slot again: ran=%v err=%v, want it refused", ran, err)
		}
		last, err := club.LastJobRun(context.Background(), job)
		if err != nil || last.Result != ritual.JobOK || last.Detail != "did it" || last.FinishedAt == nil {
			t.Fatalf("last run = %+v, %v", last, err)
		}

		// A failing run is recorded as failed, and the next slot runs again.
		next := slot.Add(time.Hour)
		_, err = club.RunJob(context.Background(), job, next, "b", func(context.Context) (string, error) { return "", errors.New("boom") })
		if err == nil {
			t.Fatal("a failing job reported no error")
		}
		if last, _ := club.LastJobRun(context.Background(), job); last.Result != ritual.JobFailed || last.Detail != "boom" {
			t.Fatalf("last run = %+v, want failed with its reason", last)
		}
	})
}
