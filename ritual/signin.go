package ritual

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The daily sign-in (签到) and its make-up (补签), in a group or on the
// official account.
//
// A member signs in once per local day of the merchant, wherever they do
// it: the (member, local date) row is unique, and the member's row is
// locked first, so a group and the official account at the same moment
// sign in once. The streak counts consecutive local days. Each sign-in
// earns signin.points; on the day a streak reaches a bonus's days it earns
// that bonus too.
//
// 补签 buys back yesterday for the streak: it is allowed when yesterday has
// no sign-in and today has none yet (so today's sign-in, made after it,
// continues the streak), costs signin.makeup_cost points, and earns
// nothing itself. A makeup_cost of 0 turns it off.

// signIns signs members in, in a group or on the official account.
type signIns struct {
	*changer
	replies
	upgrades *Upgrades
}

// signInResult is what a sign-in or make-up did, for the reply.
type signInResult struct {
	outcome string // one of the outcome* constants
	date    string // the local date signed in (or made up)
	streak  int
	earned  int64 // sign-in points
	bonus   int64 // streak bonus
	cost    int64 // make-up cost
	balance int64
}

// Outcomes of a sign-in request.
const (
	outcomeSignedIn         = "signed_in"
	outcomeSignedBefore     = "signed_before"
	outcomeMadeUp           = "made_up"
	outcomeMakeupOff        = "makeup_off"
	outcomeMakeupNotNeeded  = "makeup_not_needed"      // yesterday is signed
	outcomeMakeupAfterToday = "makeup_after_today"     // today is signed already: too late
	outcomeMakeupShort      = "makeup_short_of_points" // the balance does not cover the cost
)

// template names the reply for the result; group replies and the official
// account's share them.
func (r signInResult) template() string { return "signin." + r.outcome }

// data is what sign-in replies can show.
func (r signInResult) data() map[string]any {
	return map[string]any{
		"Date": r.date[5:], "Streak": r.streak, "Earned": r.earned, "Bonus": r.bonus,
		"Cost": r.cost, "Points": r.balance,
	}
}

// localDate is t's date in loc, as YYYY-MM-DD.
func localDate(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// dayBefore returns the local date before date.
func dayBefore(date string) string {
	t, _ := time.Parse(time.DateOnly, date)
	return t.AddDate(0, 0, -1).Format(time.DateOnly)
}

func signInRef(member *Member, date string) string { return fmt.Sprintf("%d:%s", member.ID, date) }

// signIn signs member in for today (or, with makeup, buys back yesterday),
// in tx, with member locked. where is the group id, or
// SignInOfficialAccount.
func (c *signIns) signIn(ctx context.Context, tx *work, m *Merchant, member *Member, where string, makeup bool) (signInResult, error) {
	now := c.clock()
	today := localDate(now, m.Location())
	res := signInResult{date: today, balance: member.Points}
	todays, err := c.signInOn(ctx, tx, m, member, today)
	if err != nil {
		return res, err
	}
	if makeup {
		return c.makeUp(ctx, tx, m, member, where, todays, res)
	}
	if todays != nil {
		res.outcome, res.streak = outcomeSignedBefore, todays.Streak
		return res, nil
	}
	streak, err := c.streakAfter(ctx, tx, m, member, dayBefore(today))
	if err != nil {
		return res, err
	}
	var bonus int64
	for _, b := range m.SignIn.Streaks {
		if b.Days == streak {
			bonus += b.Points
		}
	}
	_, err = c.change(ctx, tx, m, member, "signin:"+today, func(ch *memberChange) error {
		err := tx.SignIns().CreateSignIn(ctx, &DailySignIn{MerchantID: m.ID, MemberID: member.ID, LocalDate: today, Streak: streak, Where: where, CreatedAt: now})
		if ErrorCode(err) == ECONFLICT {
			return errRaced // cannot happen with the member locked; run again to say "signed before"
		} else if err != nil {
			return err
		}
		ref := signInRef(member, today)
		if _, err := ch.earn(ctx, m.SignIn.Points, SourceSignIn, ref, "每日签到"); err != nil && !errors.Is(err, errAlreadyOnLedger) {
			return err
		}
		if _, err := ch.earn(ctx, bonus, SourceSignInBonus, ref, fmt.Sprintf("连续签到%d天奖励", streak)); err != nil && !errors.Is(err, errAlreadyOnLedger) {
			return err
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	groupID := where
	if where == SignInOfficialAccount {
		groupID = ""
	}
	if err := c.upgrades.signedIn(ctx, tx, m, member, groupID); err != nil {
		return res, err
	}
	res.outcome, res.streak, res.earned, res.bonus, res.balance = outcomeSignedIn, streak, max(m.SignIn.Points, 0), bonus, member.Points
	return res, nil
}

// makeUp buys back yesterday's sign-in for the streak.
func (c *signIns) makeUp(ctx context.Context, tx *work, m *Merchant, member *Member, where string, todays *DailySignIn, res signInResult) (signInResult, error) {
	yesterday := dayBefore(res.date)
	res.date, res.cost = yesterday, m.SignIn.MakeupCost
	if m.SignIn.MakeupCost <= 0 {
		res.outcome = outcomeMakeupOff
		return res, nil
	}
	if todays != nil {
		res.outcome, res.streak = outcomeMakeupAfterToday, todays.Streak
		return res, nil
	}
	if prev, err := c.signInOn(ctx, tx, m, member, yesterday); err != nil {
		return res, err
	} else if prev != nil {
		res.outcome, res.streak = outcomeMakeupNotNeeded, prev.Streak
		return res, nil
	}
	streak, err := c.streakAfter(ctx, tx, m, member, dayBefore(yesterday))
	if err != nil {
		return res, err
	}
	res.outcome = outcomeMadeUp
	_, err = c.change(ctx, tx, m, member, "makeup:"+yesterday, func(ch *memberChange) error {
		if member.Points < m.SignIn.MakeupCost {
			res.outcome = outcomeMakeupShort
			return nil // the expiry the change booked is true whatever happens: it stays
		}
		err := tx.SignIns().CreateSignIn(ctx, &DailySignIn{MerchantID: m.ID, MemberID: member.ID, LocalDate: yesterday, Streak: streak, Where: where, Makeup: true, CreatedAt: ch.now})
		if ErrorCode(err) == ECONFLICT {
			return errRaced
		} else if err != nil {
			return err
		}
		_, err = ch.spend(ctx, m.SignIn.MakeupCost, SourceMakeup, signInRef(member, yesterday), "补签"+yesterday[5:])
		return err
	})
	if err != nil {
		return res, err
	}
	res.balance = member.Points
	if res.outcome == outcomeMadeUp {
		res.streak = streak
	}
	return res, nil
}

// signInOn returns the member's sign-in for date, or nil.
func (c *signIns) signInOn(ctx context.Context, tx *work, m *Merchant, member *Member, date string) (*DailySignIn, error) {
	s, err := tx.SignIns().SignInOn(ctx, m.ID, member.ID, date)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	}
	return s, err
}

// streakAfter is the streak of a sign-in on the day after date.
func (c *signIns) streakAfter(ctx context.Context, tx *work, m *Merchant, member *Member, date string) (int, error) {
	prev, err := c.signInOn(ctx, tx, m, member, date)
	if err != nil || prev == nil {
		return 1, err
	}
	return prev.Streak + 1, nil
}

// signInChat answers 签到 (makeup false) or 补签 (makeup true) on the
// official account, inside the delivery's transaction tx with member
// locked. It shares the group's rule: one sign-in per member per local
// day, wherever it is made.
func (c *Chat) signInChat(ctx context.Context, tx *work, m *Merchant, member *Member, makeup bool) (Reply, error) {
	res, err := c.signIns.signIn(ctx, tx, m, member, SignInOfficialAccount, makeup)
	if err != nil {
		return Reply{}, err
	}
	data := res.data()
	data["Who"], data["ShowBalance"] = "", true
	return c.render(m, res.template(), data)
}
