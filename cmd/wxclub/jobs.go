package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
)

const jobsAbout = `usage: wxclub jobs list|run [flags]

actions:
  list                             every campaign job: schedule, next run, last slot and result
  run JOB --merchant M [--at TIME] run one slot of a merchant's job by hand; a slot that
                                   already ran (by hand or by the scheduler) is not run again`

// runJobs lists the campaign jobs or runs one slot by hand:
//
//	wxclub jobs list [-config FILE]
//	wxclub jobs run JOB --merchant M [--at 2026-12-08T09:00:00+08:00] [-config FILE]
//
// A run by hand claims its slot like the scheduler does: running a slot
// that already ran does nothing and says so.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(jobsAbout, stdout)
	path := fs.String("config", "config.yaml", "configuration file")
	merchant := fs.String("merchant", "", "merchant id (jobs run)")
	at := fs.String("at", "", "the slot to run, RFC 3339 (default: now)")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) == 0:
		return fs.usageErrorf("jobs: say list or run")
	case positional[0] != "list" && positional[0] != "run":
		return fs.usageErrorf("jobs: unknown action %q (list or run)", positional[0])
	case positional[0] == "run" && (len(positional) != 2 || *merchant == ""):
		return fs.usageErrorf("jobs run: give the job and --merchant, e.g. jobs run member_day --merchant demo")
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	db, err := models.Open(ctx, models.Config{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	club := ritual.NewClub(db, ritual.ClubOptions{})
	for _, mc := range cfg.Merchants { // as serve does: a fresh database learns the configured merchants
		if _, err := club.SeedMerchant(ctx, &mc.Merchant, mc.APIKey); err != nil {
			return fmt.Errorf("seed merchant %s: %w", mc.ID, err)
		}
	}
	if positional[0] == "list" {
		return listJobs(ctx, club, stdout)
	}
	return runJobByHand(ctx, club, *merchant, positional[1], *at, stdout)
}

// listJobs prints every campaign job with its next slot and last result.
func listJobs(ctx context.Context, club *ritual.Club, stdout io.Writer) error {
	jobs, err := club.CampaignJobs(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tSCHEDULE\tNEXT RUN\tLAST SLOT\tRESULT\tDETAIL")
	for _, job := range jobs {
		last, err := club.LastJobRun(ctx, job.ID())
		slot, result, detail := "-", "never run", ""
		if err == nil {
			slot, result, detail = last.Slot.Format(time.RFC3339), last.Result, last.Detail
		} else if ritual.ErrorCode(err) != ritual.ENOTFOUND {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", job.ID(), job.Spec, job.Next(club.Now()).Format(time.RFC3339), slot, result, detail)
	}
	return w.Flush()
}

// runJobByHand runs one slot of one merchant's job.
func runJobByHand(ctx context.Context, club *ritual.Club, merchant, name, at string, stdout io.Writer) error {
	slot := club.Now()
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return fmt.Errorf("jobs run: --at must be RFC 3339, such as 2026-12-08T09:00:00+08:00: %v", err)
		}
		slot = t
	}
	jobs, err := club.CampaignJobs(ctx)
	if err != nil {
		return err
	}
	for _, job := range jobs {
		if job.Merchant != merchant || job.Name != name {
			continue
		}
		ran, err := club.RunCampaign(ctx, job, slot, "by-hand-"+replicaName())
		if err != nil {
			return err
		}
		if !ran {
			fmt.Fprintf(stdout, "%s slot %s already ran; nothing done\n", job.ID(), slot.UTC().Truncate(time.Minute).Format(time.RFC3339))
			return nil
		}
		last, _ := club.LastJobRun(ctx, job.ID())
		fmt.Fprintf(stdout, "%s slot %s ran: %s %s\n", job.ID(), last.Slot.Format(time.RFC3339), last.Result, last.Detail)
		return nil
	}
	return fmt.Errorf("jobs run: merchant %s has no job %q (see jobs list)", merchant, name)
}
