package ritual

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Groups is how a merchant's WeChat groups ("circles") reach wxclub: a
// bridge (a WeCom robot, a desktop or puppet bridge) that speaks the signed
// JSON protocol of DESIGN.md.
type Groups struct {
	// Secret signs both directions: X-Wxclub-Signature is
	// sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)).
	Secret string `json:"secret"`
	// CallbackURL is where the bridge takes posts wxclub makes later
	// (announcements, leaderboards). Empty: nothing is posted later.
	CallbackURL string `json:"callback_url"`
	// Operators are the bridge sender ids allowed to run activities.
	Operators []string `json:"operators"`
	// ShowBalances lets 积分 in a group answer with the balance in public;
	// off, the balance goes to the member privately.
	ShowBalances bool `json:"show_balances"`
	// AnonymousAnnouncements keeps members' names out of the posts wxclub
	// makes in their groups (a completed ceremony reads "恭喜一位群友…");
	// off, a post names the member by their group nickname.
	AnonymousAnnouncements bool `json:"anonymous_announcements"`
}

// Enabled reports whether the merchant has a group bridge.
func (g Groups) Enabled() bool { return g.Secret != "" }

// Validate checks the group settings.
func (g Groups) Validate() error {
	switch {
	case g.Secret != "" && len(g.Secret) < 16:
		return FieldErrorf("secret", "must be at least 16 characters")
	case g.CallbackURL != "" && g.Secret == "":
		return FieldErrorf("secret", "is required with a callback_url")
	}
	if g.CallbackURL != "" {
		if u, err := url.Parse(g.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return FieldErrorf("callback_url", "must be an http(s) URL, got %q", g.CallbackURL)
		}
	}
	return nil
}

// IsOperator reports whether a bridge sender id may run activities.
func (g Groups) IsOperator(senderID string) bool {
	for _, id := range g.Operators {
		if id == senderID {
			return true
		}
	}
	return false
}

// SignIn is the daily sign-in: points once per local day, in a group or on
// the official account, with bonuses for streaks.
type SignIn struct {
	Points int64 `json:"points"` // 0 to 1,000,000
	// Streaks pay a bonus on the day a streak reaches Days.
	Streaks []StreakBonus `json:"streaks,omitempty"`
	// MakeupCost is what signing in for yesterday (补签) costs in points; 0
	// turns make-up sign-in off; at most 1,000,000.
	MakeupCost int64 `json:"makeup_cost"`
}

// StreakBonus is extra points on the day a sign-in streak reaches Days.
type StreakBonus struct {
	Days   int   `json:"days"`   // 2 to 36,500
	Points int64 `json:"points"` // 1 to 1,000,000
}

// Validate checks the sign-in rule.
func (s SignIn) Validate() error {
	if err := firstError(
		between("points", s.Points, 0, maxPointsPerAction),
		between("makeup_cost", s.MakeupCost, 0, maxPointsPerAction),
	); err != nil {
		return err
	}
	for i, b := range s.Streaks {
		path := fmt.Sprintf("streaks[%d]", i)
		if err := firstError(
			between(path+".days", b.Days, 2, maxDays),
			between(path+".points", b.Points, 1, maxPointsPerAction),
		); err != nil {
			return err
		}
	}
	return nil
}

// GroupMessage is one message in a group, as the bridge reports it.
type GroupMessage struct {
	MsgID     string    `json:"msg_id"`
	GroupID   string    `json:"group_id"`
	GroupName string    `json:"group_name"`
	Sender    Sender    `json:"sender"`
	Text      string    `json:"text"`
	AtBot     bool      `json:"at_bot"`
	Time      time.Time `json:"time"`
}

// Sender is who wrote in a group, in the bridge's terms.
type Sender struct {
	ID       string `json:"id"`
	Nickname string `json:"nickname"`
}

// GroupBridge posts to a merchant's groups through their bridge's callback.
// Failures are *SendError: SendRetry for network trouble and 5xx, SendFinal
// for a 4xx.
type GroupBridge interface {
	Post(ctx context.Context, m *Merchant, groupID, text, idempotencyKey string) error
}
