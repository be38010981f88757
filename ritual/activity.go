package ritual

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Activity limits.
const (
	maxActivityTitle    = 20 // runes: the title goes into template-message reasons
	maxActivityPoints   = 100000
	maxActivityCapacity = 10000
)

// activitySpec is what an operator's #活动 asks for.
type activitySpec struct {
	title    string
	points   int64
	capacity int
	deadline time.Time
}

var clockTime = regexp.MustCompile(`^\d{1,2}:\d{2}$`)

// parseActivity reads "<title> 积分=<n> 名额=<n> 截止=<date>", the
// parameters in any order. 截止 is "2026-12-01", "12-01" (this year, or
// next year if that day has passed) or either with a time ("2026-12-01
// 20:00"), in the merchant's zone; a date alone means the end of that day.
// It returns what is wrong, in words for the operator, or "".
func parseActivity(arg string, now time.Time, loc *time.Location) (activitySpec, string) {
	var spec activitySpec
	var title []string
	var haveDeadline bool
	fields := strings.Fields(arg)
	for i := 0; i < len(fields); i++ {
		key, value, ok := cutParam(fields[i])
		if !ok {
			title = append(title, fields[i])
			continue
		}
		switch key {
		case "积分":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || n > maxActivityPoints {
				return spec, fmt.Sprintf("积分要写成0到%d的整数，例如 积分=50", maxActivityPoints)
			}
			spec.points = n
		case "名额":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > maxActivityCapacity {
				return spec, fmt.Sprintf("名额要写成1到%d的整数，例如 名额=20", maxActivityCapacity)
			}
			spec.capacity = n
		case "截止":
			if i+1 < len(fields) && clockTime.MatchString(fields[i+1]) {
				value += " " + fields[i+1]
				i++
			}
			t, ok := parseDeadline(value, now, loc)
			if !ok {
				return spec, "截止时间要写成 2026-12-01、12-01 或 2026-12-01 20:00"
			}
			spec.deadline, haveDeadline = t, true
		}
	}
	spec.title = strings.Join(title, " ")
	switch {
	case spec.title == "":
		return spec, "请写上活动名称"
	case utf8.RuneCountInString(spec.title) > maxActivityTitle:
		return spec, fmt.Sprintf("活动名称最多%d个字", maxActivityTitle)
	case spec.capacity == 0:
		return spec, "请写上名额，例如 名额=20"
	case !haveDeadline:
		return spec, "请写上截止时间，例如 截止=12-01"
	case !spec.deadline.After(now):
		return spec, "截止时间已经过了"
	}
	return spec, ""
}

// cutParam splits "积分=50" (also with a full-width ＝ or a colon).
func cutParam(field string) (key, value string, ok bool) {
	for _, key := range []string{"积分", "名额", "截止"} {
		if rest, found := strings.CutPrefix(field, key); found {
			for _, sep := range []string{"=", "＝", ":", "："} {
				if value, found := strings.CutPrefix(rest, sep); found {
					return key, value, true
				}
			}
		}
	}
	return "", "", false
}

// parseDeadline reads an activity's 截止 in loc.
func parseDeadline(s string, now time.Time, loc *time.Location) (time.Time, bool) {
	s = strings.ReplaceAll(s, "/", "-")
	for _, layout := range []string{"2006-01-02 15:04", "2006-1-2 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	for _, layout := range []string{"2006-01-02", "2006-1-2"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.AddDate(0, 0, 1), true // the whole day counts
		}
	}
	year := now.In(loc).Year()
	for _, layout := range []string{"2006-01-02 15:04", "2006-1-2 15:04", "2006-01-02", "2006-1-2"} {
		t, err := time.ParseInLocation(layout, strconv.Itoa(year)+"-"+s, loc)
		if err != nil {
			continue
		}
		if !strings.Contains(layout, ":") {
			t = t.AddDate(0, 0, 1)
		}
		if !t.After(now) {
			t = t.AddDate(1, 0, 0)
		}
		return t, true
	}
	return time.Time{}, false
}

// activityData is what activity replies show.
func (t *groupTurn) activityData(a *Activity) map[string]any {
	return t.who(map[string]any{
		"Title": a.Title, "Points": a.Points, "Capacity": a.Capacity, "Joined": a.Joined,
		"Deadline": deadlineText(a.Deadline, t.now, t.m.Location()),
	})
}

// deadlineText shows a deadline as the operator wrote it: the midnight
// that ends a day is "12-20 24:00", not "12-21 00:00", which a member
// reads as a day more than they have. The year is shown when it is not
// this year's.
func deadlineText(deadline, now time.Time, loc *time.Location) string {
	d := deadline.In(loc)
	clock := d.Format("15:04")
	if d.Hour() == 0 && d.Minute() == 0 {
		d, clock = d.AddDate(0, 0, -1), "24:00"
	}
	day := d.Format("01-02")
	if d.Year() != now.In(loc).Year() {
		day = d.Format("2006-01-02")
	}
	return day + " " + clock
}

// createActivity answers an operator's "#活动 <title> 积分=<n> 名额=<n>
// 截止=<date>". The group's row is locked while the title is checked and
// the activity stored, so two operators cannot open the same title at
// once; a unique index on the open title backs the lock up.
func (c *GroupChat) createActivity(ctx context.Context, tx *work, t *groupTurn, arg string) (Reply, error) {
	if !t.m.Groups.IsOperator(t.msg.Sender.ID) {
		return c.render(t.m, "group.operators_only", t.who(nil))
	}
	spec, problem := parseActivity(arg, t.now, t.m.Location())
	if problem != "" {
		return c.render(t.m, "group.activity_format", t.who(map[string]any{"Problem": problem}))
	}
	if _, err := tx.Groups().Group(ctx, t.m.ID, t.msg.GroupID, true); err != nil {
		return Reply{}, err
	}
	existing, err := tx.Activities().OpenActivity(ctx, t.m.ID, t.msg.GroupID, spec.title)
	if err == nil {
		return c.render(t.m, "group.activity_exists", t.activityData(existing))
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	a := &Activity{
		MerchantID: t.m.ID, GroupID: t.msg.GroupID, Title: spec.title, Points: spec.points, Capacity: spec.capacity,
		Deadline: spec.deadline.UTC(), Status: ActivityOpen, CreatedBy: t.msg.Sender.ID, CreatedAt: t.now,
	}
	if err := tx.Activities().CreateActivity(ctx, a); ErrorCode(err) == ECONFLICT {
		return Reply{}, errRaced
	} else if err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "activity created", "merchant", t.m.ID, "group", t.msg.GroupID, "activity", a.ID)
	return c.render(t.m, "group.activity_created", t.activityData(a))
}

// findActivity finds the activity a 报名 or #确认 names: the open one with
// that title, locked, or else says whether one was there and is closed.
func (c *GroupChat) findActivity(ctx context.Context, tx *work, t *groupTurn, title string) (a *Activity, closed *Activity, err error) {
	g := tx.Activities()
	a, err = g.OpenActivity(ctx, t.m.ID, t.msg.GroupID, title)
	if ErrorCode(err) != ENOTFOUND {
		return a, nil, err
	}
	closed, err = g.LatestActivity(ctx, t.m.ID, t.msg.GroupID, title)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, nil
	}
	return nil, closed, err
}

// joinActivity answers "报名 <title>". The activity's row is locked while
// the seat is counted and taken, so the last seat goes to one member. The
// member's own row is not locked: confirming locks the activity, then its
// participants, and joining must not take them in the other order.
func (c *GroupChat) joinActivity(ctx context.Context, tx *work, t *groupTurn, arg string) (Reply, error) {
	title := strings.TrimSpace(arg)
	if title == "" {
		return c.render(t.m, "group.join_how", t.who(nil))
	}
	link, err := tx.GroupLinks().LinkOfSender(ctx, t.m.ID, t.msg.Sender.ID)
	if ErrorCode(err) == ENOTFOUND {
		return c.linkFirst(ctx, tx, t)
	} else if err != nil {
		return Reply{}, err
	}
	a, closed, err := c.findActivity(ctx, tx, t, title)
	switch {
	case err != nil:
		return Reply{}, err
	case closed != nil:
		return c.render(t.m, "group.activity_closed", t.activityData(closed))
	case a == nil:
		return c.render(t.m, "group.activity_unknown", t.who(map[string]any{"Title": title}))
	case !t.now.Before(a.Deadline):
		return c.render(t.m, "group.activity_closed", t.activityData(a))
	}
	joined, err := tx.Activities().HasEntry(ctx, a.ID, link.MemberID)
	switch {
	case err != nil:
		return Reply{}, err
	case joined:
		return c.render(t.m, "group.activity_joined_before", t.activityData(a))
	case a.Joined >= a.Capacity:
		return c.render(t.m, "group.activity_full", t.activityData(a))
	}
	err = tx.Activities().AddEntry(ctx, &ActivityEntry{ActivityID: a.ID, MemberID: link.MemberID, SenderID: t.msg.Sender.ID, JoinedAt: t.now})
	if ErrorCode(err) == ECONFLICT {
		return Reply{}, errRaced
	} else if err != nil {
		return Reply{}, err
	}
	a.Joined++
	if err := tx.Activities().UpdateActivity(ctx, a); err != nil {
		return Reply{}, err
	}
	return c.render(t.m, "group.activity_joined", t.activityData(a))
}

// confirmActivity answers an operator's "#确认 <title>": the activity
// closes and each participant earns its points, once (ledger source
// activity, reference "<activity id>:<member id>"); confirming again says
// it was done.
func (c *GroupChat) confirmActivity(ctx context.Context, tx *work, t *groupTurn, arg string) (Reply, error) {
	if !t.m.Groups.IsOperator(t.msg.Sender.ID) {
		return c.render(t.m, "group.operators_only", t.who(nil))
	}
	title := strings.TrimSpace(arg)
	if title == "" {
		return c.render(t.m, "group.confirm_how", t.who(nil))
	}
	a, closed, err := c.findActivity(ctx, tx, t, title)
	switch {
	case err != nil:
		return Reply{}, err
	case closed != nil:
		return c.render(t.m, "group.activity_confirmed_before", t.activityData(closed))
	case a == nil:
		return c.render(t.m, "group.activity_unknown", t.who(map[string]any{"Title": title}))
	}
	entries, err := tx.Activities().Entries(ctx, a.ID)
	if err != nil {
		return Reply{}, err
	}
	reason := fmt.Sprintf("参加活动「%s」", a.Title)
	for _, e := range entries {
		member, err := tx.Members().ByID(ctx, e.MemberID)
		if err != nil {
			return Reply{}, err
		}
		ref := fmt.Sprintf("%d:%d", a.ID, e.MemberID)
		_, err = c.change(ctx, tx, t.m, member, "activity:"+ref, func(ch *memberChange) error {
			_, err := ch.earn(ctx, a.Points, SourceActivity, ref, reason)
			return err
		})
		if err != nil && !errors.Is(err, errAlreadyOnLedger) {
			return Reply{}, err
		}
	}
	a.Status, a.ConfirmedAt = ActivityConfirmed, &t.now
	if err := tx.Activities().UpdateActivity(ctx, a); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "activity confirmed", "merchant", t.m.ID, "activity", a.ID, "participants", len(entries))
	return c.render(t.m, "group.activity_confirmed", t.activityData(a))
}
