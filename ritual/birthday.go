package ritual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SourceBirthday books the birthday gift; reference "<member id>:<year>",
// so it is given once a year.
const SourceBirthday = "birthday"

// birthdays gives today's birthday members their gift, once a year, on the
// day in the merchant's time zone. A 02-29 birthday is kept on 02-28 in
// other years.
func (c *Calendar) birthdays(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	today := slot.In(m.Location())
	given := 0
	for _, md := range birthdaysOn(today) {
		ids, err := c.store.Members().WithBirthday(ctx, m.ID, md)
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			ok, err := c.birthdayGift(ctx, m, id, today.Year())
			if err != nil {
				return "", err
			}
			if ok {
				given++
			}
			jobProgress(ctx).add(1, btoi(ok))
		}
	}
	detail, _ := json.Marshal(map[string]any{"day": today.Format("2006-01-02"), "gifts": given})
	return string(detail), nil
}

// birthdaysOn lists the birthdays (month-day) celebrated on day: a 02-29
// birthday is kept on 02-28 in other years.
func birthdaysOn(day time.Time) []string {
	days := []string{day.Format("01-02")}
	if day.Format("01-02") == "02-28" && !isLeap(day.Year()) {
		days = append(days, "02-29")
	}
	return days
}

func btoi(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// birthdayGiftText is the birthday message (a dry run shows it too).
const birthdayGiftText = "生日快乐！生日礼已送到"

// birthdayGift gives one member this year's gift: points, the coupon and
// a message, in one transaction keyed by (member, year).
func (c *Calendar) birthdayGift(ctx context.Context, m *Merchant, memberID int64, year int) (bool, error) {
	j := m.Campaigns.Birthday
	given := false
	err := c.atomically(ctx, func(tx *work) error {
		member, err := tx.Members().ByID(ctx, memberID)
		if err != nil {
			return err
		}
		ref := fmt.Sprintf("%d:%d", member.ID, year)
		_, err = c.change(ctx, tx, m, member, "birthday:"+ref, func(ch *memberChange) error {
			if _, err := ch.earn(ctx, j.Points, SourceBirthday, ref, "生日礼"); err != nil {
				return err
			}
			if r, ok := findReward(m.Rewards, j.Coupon); ok {
				cp, err := c.issueCoupon(ctx, tx, m, member, r, CouponFromCampaign, "birthday:"+ref, ch.now)
				if err == errCouponIssued {
					return nil // issued and told before
				} else if err != nil {
					return err
				}
				return c.tellCoupon(ctx, tx, m, member, cp, ch.now) // the birthday message tells only the points
			}
			return nil
		})
		if errors.Is(err, errAlreadyOnLedger) {
			return nil // given this year already
		} else if err != nil {
			return err
		}
		given = true
		notice := Notice{Reason: birthdayGiftText, Delta: j.Points, Balance: member.Points, At: c.clock()}
		return c.enqueue(ctx, tx, m, member, PurposeBirthday, "birthday:"+ref, notice, c.clock())
	})
	return given, err
}

// birthdayChat answers 生日: it shows the birthday told, or stores the one
// given in arg, once. Once told it cannot be changed in chat: a birthday
// that could be moved would let a member pick the day of their gift. Only
// an activated member may tell it; the gift is for the proven buyer, and a
// WeChat user bound by a card's code alone is not that yet.
func (c *Chat) birthdayChat(ctx context.Context, tx *work, m *Merchant, member *Member, arg string) (Reply, error) {
	if member.Funnel.ActivatedAt == nil {
		return c.activationReply(ctx, tx, m, member, "reply.birthday_activate_first")
	}
	data := map[string]any{"Birthday": birthdayShown(member.Birthday), "Gift": m.Campaigns.Birthday != nil}
	if member.Birthday != "" {
		return c.render(m, "reply.birthday_kept", data)
	}
	if arg == "" {
		return c.render(m, "reply.birthday_how", nil)
	}
	birthday, ok := parseBirthdayArg(arg)
	if !ok {
		return c.render(m, "reply.birthday_unclear", map[string]any{"Text": arg})
	}
	member.Birthday = birthday
	if err := tx.Members().Update(ctx, member); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "member told birthday", "merchant", m.ID, "member", member.ID)
	data["Birthday"] = birthdayShown(birthday)
	return c.render(m, "reply.birthday_saved", data)
}

// birthdayCommand reports whether content is the 生日 command and returns
// what follows it: "生日", "生日 0815" and "生日0815" are, "生日快乐" is not.
func birthdayCommand(content string) (string, bool) {
	rest, ok := strings.CutPrefix(content, "生日")
	if !ok {
		return "", false
	}
	arg := strings.TrimSpace(rest)
	if arg == "" || arg != rest || arg[0] >= '0' && arg[0] <= '9' {
		return arg, true
	}
	return "", false
}

// parseBirthdayArg reads what follows 生日: anything parseBirthday reads,
// and four digits "0815" as month and day.
func parseBirthdayArg(s string) (string, bool) {
	if fourDigits.MatchString(s) {
		s = s[:2] + "-" + s[2:]
	}
	return parseBirthday(s)
}

// birthdayShown writes a stored birthday the way a shopper says it: "8月15日".
func birthdayShown(b string) string {
	if len(b) < 5 {
		return b
	}
	month, _ := strconv.Atoi(b[len(b)-5 : len(b)-3])
	day, _ := strconv.Atoi(b[len(b)-2:])
	return fmt.Sprintf("%d月%d日", month, day)
}
