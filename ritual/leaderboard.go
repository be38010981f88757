package ritual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SourceLeaderboard books a weekly leaderboard reward; reference
// "<week>:<group id (keyPart) or all>:<member id>", so each place is paid
// once.
const SourceLeaderboard = "leaderboard"

// leaderboard rewards the week's top members of each group and of the
// whole merchant, once, and announces each group's result in the group.
// Ties keep the member who joined first ahead, and the post says so.
func (c *Calendar) leaderboard(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	j := m.Campaigns.Leaderboard
	from := weekStart(slot, m.Location())
	week := from.Format("2006-01-02")
	overall, err := c.store.Ledger().TopEarners(ctx, m.ID, from, from.AddDate(0, 0, 7), j.Top)
	if err != nil {
		return "", err
	}
	paid, err := c.payPlaces(ctx, m, overall, week+":all", "全店")
	if err != nil {
		return "", err
	}
	groups, err := c.store.Groups().ListGroups(ctx, m.ID)
	if err != nil {
		return "", err
	}
	for _, g := range groups {
		rows, err := c.store.Groups().Board(ctx, m.ID, g.GroupID, from, from.AddDate(0, 0, 7), j.Top)
		if err != nil {
			return "", err
		}
		n, err := c.payPlaces(ctx, m, rows, week+":"+keyPart(g.GroupID), "本群")
		if err != nil {
			return "", err
		}
		paid += n
		if err := c.postBoard(ctx, m, g.GroupID, week, rows, overall); err != nil {
			return "", err
		}
	}
	detail, _ := json.Marshal(map[string]any{"week": week, "groups": len(groups), "rewards": paid})
	return string(detail), nil
}

// payPlaces pays the places of one board, each in its own transaction and
// each at most once.
func (c *Calendar) payPlaces(ctx context.Context, m *Merchant, rows []GroupBoardRow, board, where string) (int, error) {
	paid := 0
	for i, r := range rows {
		points := m.Campaigns.Leaderboard.Rewards[i]
		if points <= 0 || r.Points <= 0 {
			continue
		}
		ok, err := c.payPlace(ctx, m, r.MemberID, points, fmt.Sprintf("%s:%d", board, r.MemberID), fmt.Sprintf("%s周榜第%d名奖励", where, i+1))
		if err != nil {
			return paid, err
		}
		if ok {
			paid++
		}
	}
	return paid, nil
}

func (c *Calendar) payPlace(ctx context.Context, m *Merchant, memberID, points int64, ref, reason string) (bool, error) {
	_, err := c.changeMember(ctx, m, byID(ctx, memberID), "leaderboard:"+ref, func(ch *memberChange) error {
		_, err := ch.earn(ctx, points, SourceLeaderboard, ref, reason)
		return err
	})
	if errors.Is(err, errAlreadyOnLedger) {
		return false, nil // paid before
	}
	return err == nil, err
}

// postBoard announces a group's week in the group, through the outbox.
func (c *Calendar) postBoard(ctx context.Context, m *Merchant, groupID, week string, rows, overall []GroupBoardRow) error {
	if len(rows) == 0 || m.Groups.CallbackURL == "" {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "🏆 本周（%s起）积分榜奖励已发放：", week[5:])
	for i, r := range rows {
		fmt.Fprintf(&b, "\n第%d名 %s %d分 +%d积分", i+1, groupName(r.Nickname, r.SenderID, 16), r.Points, m.Campaigns.Leaderboard.Rewards[i])
	}
	if len(overall) > 0 {
		fmt.Fprintf(&b, "\n全店前%d名也已获奖。", len(overall))
	}
	b.WriteString("\n同分按入会先后排序。")
	now := c.clock()
	_, err := c.store.Outbox().Enqueue(ctx, &OutboxMessage{
		MerchantID: m.ID, MemberID: rows[0].MemberID, Purpose: PurposeGroupPost, Reference: fmt.Sprintf("board:%s:%s", week, keyPart(groupID)),
		Notice: Notice{Reason: b.String(), Group: groupID, At: now}, Status: OutboxPending, NextAttemptAt: now, CreatedAt: now,
	})
	return err
}
