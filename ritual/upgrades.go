package ritual

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Upgrades runs the upgrade ceremonies members perform: their steps in
// chat, the hourly reminders and deadlines, the operators' list and grants.
// Opening, closing and completing a ceremony is part of the member change.
type Upgrades struct {
	*changer
	replies
}

// ceremonyPrompt tells the member what is left to do and by when.
func (c *Upgrades) ceremonyPrompt(m *Merchant, cer *Ceremony) (string, error) {
	lv, _ := m.Membership.Level(cer.ToLevel)
	var steps []string
	for _, s := range cer.Pending() {
		steps = append(steps, stepPrompt(s, lv.Ceremony))
	}
	r, err := c.render(m, "reply.ceremony", map[string]any{
		"Nickname": lv.Nickname, "Right": lv.Right.Title, "Steps": steps,
		"Deadline": cer.Deadline.In(m.Location()).Format("2006-01-02 15:04"),
	})
	return r.Text, err
}

// stepPrompt says how to do one step.
func stepPrompt(step string, rule *CeremonyRule) string {
	switch step {
	case StepPledge:
		return fmt.Sprintf("回复「%s」完成宣誓", rule.Pledge)
	case StepBirthday:
		return "回复你的生日（如 5月20日）"
	case StepGroupSignIn:
		return "在任一会员群里发「签到」"
	default:
		return "回复「确认」完成仪式"
	}
}

// ceremonyText lets a text message perform a step of the member's open
// ceremony. It reports false when the text is no step, so the
// conversation goes on as usual.
func (c *Upgrades) ceremonyText(ctx context.Context, tx *work, m *Merchant, member *Member, cer *Ceremony, text string) (Reply, bool, error) {
	lv, _ := m.Membership.Level(cer.ToLevel)
	step := ""
	for _, s := range cer.Pending() {
		switch {
		case s == StepPledge && sameWords(text, lv.Ceremony.Pledge),
			s == StepConfirm && (text == "确认" || strings.EqualFold(text, "confirm")):
			step = s
		case s == StepBirthday:
			if birthday, ok := parseBirthday(text); ok {
				if member.Birthday == "" { // told once: a ceremony does not move the gift's day
					member.Birthday = birthday
				}
				step = s
			}
		}
	}
	if step == "" {
		return Reply{}, false, nil
	}
	reply, err := c.ceremonyStep(ctx, tx, m, member, cer, step)
	return reply, true, err
}

// sameWords compares a reply with a pledge phrase, forgiving spaces and
// punctuation.
func sameWords(a, b string) bool {
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(" \t，。！!,.、~～", r) {
				return -1
			}
			return r
		}, s)
	}
	return strip(a) != "" && strip(a) == strip(b)
}

// ceremonyStep records a step done and completes the ceremony after the
// last one.
func (c *Upgrades) ceremonyStep(ctx context.Context, tx *work, m *Merchant, member *Member, cer *Ceremony, step string) (Reply, error) {
	cer.Done = append(cer.Done, step)
	if len(cer.Pending()) > 0 {
		if err := tx.Ceremonies().Update(ctx, cer); err != nil {
			return Reply{}, err
		}
		prompt, err := c.ceremonyPrompt(m, cer)
		return Reply{Text: "✅ 这一步完成了！\n" + prompt}, err
	}
	_, err := c.change(ctx, tx, m, member, fmt.Sprintf("ceremony:%d", cer.ID), func(ch *memberChange) error {
		return c.completeCeremony(ctx, tx, ch, cer, "completed")
	})
	if err != nil {
		return Reply{}, err
	}
	lv, _ := m.Membership.Level(cer.ToLevel)
	return c.render(m, "reply.ceremony_done", map[string]any{
		"Nickname": lv.Nickname, "Right": lv.Right.Title, "Points": member.Points, "Reward": levelRewardText(m, cer),
	})
}

// levelRewardText says what entering the levels of a ceremony paid.
func levelRewardText(m *Merchant, cer *Ceremony) string {
	_, from := m.Membership.Level(cer.FromLevel)
	_, to := m.Membership.Level(cer.ToLevel)
	var parts []string
	for i := from + 1; i <= to; i++ {
		if rule := m.Membership.Levels[i].Ceremony; rule != nil {
			if rule.Reward.Points > 0 {
				parts = append(parts, fmt.Sprintf("%d积分", rule.Reward.Points))
			}
			if r, ok := findReward(m.Rewards, rule.Reward.Coupon); ok {
				parts = append(parts, r.Name)
			}
		}
	}
	return strings.Join(parts, " + ")
}

// signedIn lets a sign-in in a group perform the group_signin step.
func (c *Upgrades) signedIn(ctx context.Context, tx *work, m *Merchant, member *Member, groupID string) error {
	if groupID == "" {
		return nil
	}
	cer, err := openCeremonyOf(ctx, tx, member)
	if err != nil || cer == nil || cer.did(StepGroupSignIn) || !cer.contains(StepGroupSignIn) {
		return err
	}
	_, err = c.ceremonyStep(ctx, tx, m, member, cer, StepGroupSignIn)
	return err
}

// CeremonyTick reminds members whose ceremony ends within a day and applies
// the merchant's policy to those past their deadline. It is the hourly
// job's work; it returns how many ceremonies it acted on.
func (c *Upgrades) CeremonyTick(ctx context.Context) (int, error) {
	merchants, err := c.store.Merchants().List(ctx)
	if err != nil {
		return 0, err
	}
	acted := 0
	for _, m := range merchants {
		ids, err := c.store.Ceremonies().OpenBefore(ctx, m.ID, c.clock().Add(24*time.Hour), 1000)
		if err != nil {
			return acted, err
		}
		for _, id := range ids {
			did, err := c.tickCeremony(ctx, m, id)
			if err != nil {
				return acted, err
			}
			if did {
				acted++
			}
		}
	}
	return acted, nil
}

// tickCeremony reminds or applies the deadline policy to one ceremony.
func (c *Upgrades) tickCeremony(ctx context.Context, m *Merchant, id int64) (bool, error) {
	acted := false
	err := c.atomically(ctx, func(tx *work) error {
		cer, err := tx.Ceremonies().ByID(ctx, m.ID, id)
		if err != nil || cer.Status != CeremonyOpen {
			return err
		}
		member, err := tx.Members().ByID(ctx, cer.MemberID)
		if err != nil {
			return err
		}
		lv, _ := m.Membership.Level(cer.ToLevel)
		now := c.clock()
		switch {
		case now.After(cer.Deadline) && lv.Ceremony != nil && lv.Ceremony.OnDeadline == DeadlineGrant:
			acted = true
			return c.grantInTx(ctx, tx, m, member, cer, "deadline")
		case cer.RemindedAt == nil && !now.After(cer.Deadline):
			acted = true
			cer.RemindedAt = &now
			if err := tx.Ceremonies().Update(ctx, cer); err != nil {
				return err
			}
			notice := Notice{Reason: fmt.Sprintf("%s升级仪式即将截止", lv.Nickname), To: cer.ToLevel, At: cer.Deadline}
			return c.enqueue(ctx, tx, m, member, PurposeCeremony, fmt.Sprintf("ceremony:%d:remind", cer.ID), notice, now)
		}
		return nil
	})
	return acted, err
}

// grantInTx completes a ceremony without its remaining steps.
func (c *Upgrades) grantInTx(ctx context.Context, tx *work, m *Merchant, member *Member, cer *Ceremony, outcome string) error {
	_, err := c.change(ctx, tx, m, member, fmt.Sprintf("ceremony:%d", cer.ID), func(ch *memberChange) error {
		return c.completeCeremony(ctx, tx, ch, cer, outcome)
	})
	return err
}

// CeremonyView is a ceremony as operators see it.
type CeremonyView struct {
	ID       int64      `json:"id"`
	OpenID   string     `json:"openid,omitempty"`
	Phone    string     `json:"phone,omitempty"`
	From     string     `json:"from_level"`
	To       string     `json:"to_level"`
	Nickname string     `json:"nickname"`
	Steps    []string   `json:"steps"`
	Done     []string   `json:"done"`
	Status   string     `json:"status"`
	Outcome  string     `json:"outcome,omitempty"`
	Deadline time.Time  `json:"deadline"`
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
}

func (m *Merchant) ceremonyView(cer *Ceremony, member *Member) CeremonyView {
	lv, _ := m.Membership.Level(cer.ToLevel)
	v := CeremonyView{ID: cer.ID, From: cer.FromLevel, To: cer.ToLevel, Nickname: lv.Nickname,
		Steps: cer.Steps, Done: append([]string{}, cer.Done...), Status: cer.Status, Outcome: cer.Outcome,
		Deadline: cer.Deadline, OpenedAt: cer.OpenedAt, ClosedAt: cer.ClosedAt}
	if member != nil {
		v.OpenID, v.Phone = member.OpenID, member.Phone
	}
	return v
}

// Ceremonies lists the merchant's ceremonies in status ("" for all).
func (c *Upgrades) Ceremonies(ctx context.Context, m *Merchant, status string, limit int) ([]CeremonyView, error) {
	switch status {
	case "", CeremonyOpen, CeremonyCompleted, CeremonyClosed:
	default:
		return nil, FieldErrorf("status", "must be open, completed or closed, got %q", status)
	}
	if limit < 1 || limit > 500 {
		return nil, FieldErrorf("limit", "must be between 1 and 500")
	}
	list, err := c.store.Ceremonies().List(ctx, m.ID, status, limit)
	if err != nil {
		return nil, err
	}
	out := make([]CeremonyView, 0, len(list))
	for _, cer := range list {
		member, err := c.store.Members().ByID(ctx, cer.MemberID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return nil, err
		}
		out = append(out, m.ceremonyView(cer, member))
	}
	return out, nil
}

// GrantCeremony completes an open ceremony by hand: an operator waives its
// remaining steps.
func (c *Upgrades) GrantCeremony(ctx context.Context, m *Merchant, id int64) (CeremonyView, error) {
	var view CeremonyView
	err := c.atomically(ctx, func(tx *work) error {
		peek, err := tx.Ceremonies().ByID(ctx, m.ID, id)
		if err != nil {
			return err
		}
		member, err := tx.Members().ByID(ctx, peek.MemberID)
		if err != nil {
			return err
		}
		cer, err := tx.Ceremonies().ByID(ctx, m.ID, id) // re-read under the member's lock
		if err != nil {
			return err
		}
		if cer.Status != CeremonyOpen {
			return Errorf(ECONFLICT, "ceremony %d is %s, not open", id, cer.Status)
		}
		if err := c.grantInTx(ctx, tx, m, member, cer, "by_hand"); err != nil {
			return err
		}
		view = m.ceremonyView(cer, member)
		return nil
	})
	return view, err
}
