package ritual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	days := []string{today.Format("01-02")}
	if today.Format("01-02") == "02-28" && !isLeap(today.Year()) {
		days = append(days, "02-29")
	}
	given := 0
	for _, md := range days {
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
		}
	}
	detail, _ := json.Marshal(map[string]any{"day": today.Format("2006-01-02"), "gifts": given})
	return string(detail), nil
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

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
				if _, err := c.issueCoupon(ctx, tx, m, member, r, CouponFromCampaign, "birthday:"+ref, ch.now); err != nil && err != errCouponIssued {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, errAlreadyOnLedger) {
			return nil // given this year already
		} else if err != nil {
			return err
		}
		given = true
		notice := Notice{Reason: "生日快乐！生日礼已送到", Delta: j.Points, Balance: member.Points, At: c.clock()}
		return c.enqueue(ctx, tx, m, member, PurposeBirthday, "birthday:"+ref, notice, c.clock())
	})
	return given, err
}
