package models

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// outboxRow is a message to send, written with the change it announces.
// (merchant, purpose, reference) is unique: a change is announced once.
type outboxRow struct {
	ID            int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID    string     `gorm:"size:64;not null;uniqueIndex:ux_outbox_ref,priority:1;index:ix_outbox_campaign,priority:1"`
	MemberID      int64      `gorm:"not null;index:ix_outbox_member,priority:1"`
	Purpose       string     `gorm:"size:32;not null;uniqueIndex:ux_outbox_ref,priority:2;index:ix_outbox_member,priority:2"`
	Reference     string     `gorm:"size:128;not null;uniqueIndex:ux_outbox_ref,priority:3"`
	Notice        string     `gorm:"type:text;not null"`
	Status        string     `gorm:"size:16;not null;index:ix_outbox_due,priority:1;index:ix_outbox_member,priority:3;index:ix_outbox_own,priority:1"`
	NextAttemptAt time.Time  `gorm:"precision:3;not null;index:ix_outbox_due,priority:2;index:ix_outbox_own,priority:3"`
	Campaign      string     `gorm:"size:64;not null;default:'';index:ix_outbox_own,priority:2;index:ix_outbox_campaign,priority:2"`
	Attempts      int        `gorm:"not null;default:0"`
	LeaseOwner    string     `gorm:"size:64;not null;default:''"`
	LeaseUntil    *time.Time `gorm:"precision:3"`
	LastErrCode   int        `gorm:"not null;default:0"`
	LastError     string     `gorm:"size:512;not null;default:''"`
	WeChatMsgID   int64      `gorm:"column:wechat_msg_id;not null;default:0"`
	MergedInto    int64      `gorm:"not null;default:0"`
	CreatedAt     time.Time  `gorm:"precision:3;not null"`
	SentAt        *time.Time `gorm:"precision:3"`
}

func (outboxRow) TableName() string { return "outbox" }

// sendPauseRow stops a merchant's sending until a time (daily quota spent).
type sendPauseRow struct {
	MerchantID string    `gorm:"primaryKey;size:64"`
	Until      time.Time `gorm:"precision:3;not null"`
	Reason     freeText  `gorm:"size:255;not null"`
}

func (sendPauseRow) TableName() string { return "send_pauses" }

func outboxToRow(m *ritual.OutboxMessage) (outboxRow, error) {
	notice, err := toJSON(m.Notice)
	return outboxRow{
		ID: m.ID, MerchantID: m.MerchantID, MemberID: m.MemberID, Purpose: m.Purpose, Reference: m.Reference,
		Notice: notice, Status: string(m.Status), NextAttemptAt: m.NextAttemptAt.UTC(), Attempts: m.Attempts,
		LeaseOwner: m.LeaseOwner, LeaseUntil: utcPtr(m.LeaseUntil), LastErrCode: m.LastErrCode,
		LastError: truncate(m.LastError, 512), WeChatMsgID: m.WeChatMsgID, MergedInto: m.MergedInto,
		Campaign: m.Campaign, CreatedAt: m.CreatedAt.UTC(), SentAt: utcPtr(m.SentAt),
	}, err
}

func (r outboxRow) toMessage() (*ritual.OutboxMessage, error) {
	m := &ritual.OutboxMessage{
		ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, Purpose: r.Purpose, Reference: r.Reference,
		Status: ritual.OutboxStatus(r.Status), NextAttemptAt: r.NextAttemptAt.UTC(), Attempts: r.Attempts,
		LeaseOwner: r.LeaseOwner, LeaseUntil: utcPtr(r.LeaseUntil), LastErrCode: r.LastErrCode, LastError: r.LastError,
		WeChatMsgID: r.WeChatMsgID, MergedInto: r.MergedInto, Campaign: r.Campaign, CreatedAt: r.CreatedAt.UTC(), SentAt: utcPtr(r.SentAt),
	}
	return m, fromJSON(r.Notice, &m.Notice)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

type outbox struct {
	db     *gorm.DB
	driver string
}

func (s outbox) Enqueue(ctx context.Context, msg *ritual.OutboxMessage) (bool, error) {
	row, err := outboxToRow(msg)
	if err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return false, translate(res.Error, "enqueue message")
	}
	msg.ID = row.ID
	return res.RowsAffected == 1, nil
}

func (s outbox) MergeCandidate(ctx context.Context, memberID int64, purpose string, now time.Time) (*ritual.OutboxMessage, error) {
	var row outboxRow
	err := s.db.WithContext(ctx).
		Where("member_id = ? AND purpose = ? AND status = ? AND next_attempt_at > ? AND lease_until IS NULL", memberID, purpose, ritual.OutboxPending, now.UTC()).
		Order("id DESC").Take(&row).Error
	if err != nil {
		return nil, translate(err, "find message to merge into")
	}
	return row.toMessage()
}

func (s outbox) MergeInto(ctx context.Context, id int64, notice ritual.Notice, now time.Time) (bool, error) {
	encoded, err := toJSON(notice)
	if err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Model(&outboxRow{}).
		Where("id = ? AND status = ? AND next_attempt_at > ? AND lease_until IS NULL", id, ritual.OutboxPending, now.UTC()).
		Update("notice", encoded)
	return res.RowsAffected == 1, translate(res.Error, "merge message")
}

// ClaimDue takes due messages with a lease. On MySQL the candidates are read
// FOR UPDATE SKIP LOCKED, so replicas claiming at once take different rows
// instead of queueing behind each other; SQLite has one writer anyway.
func (s outbox) ClaimDue(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]*ritual.OutboxMessage, error) {
	now = now.UTC()
	ids, err := s.dueIDs(ctx, now, "campaign = ''", limit)
	if err == nil && len(ids) < limit {
		var more []int64
		more, err = s.dueIDs(ctx, now, "campaign <> ''", limit-len(ids))
		ids = append(ids, more...)
	}
	if err != nil || len(ids) == 0 {
		return nil, translate(err, "find due messages")
	}
	until := now.Add(lease)
	err = s.db.WithContext(ctx).Model(&outboxRow{}).Where("id IN ?", ids).Updates(map[string]any{
		"lease_owner": owner, "lease_until": until, "attempts": gorm.Expr("attempts + 1"),
	}).Error
	if err != nil {
		return nil, translate(err, "claim messages")
	}
	var rows []outboxRow
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Order("next_attempt_at, id").Find(&rows).Error; err != nil {
		return nil, translate(err, "read claimed messages")
	}
	return toMessages(rows)
}

func toMessages(rows []outboxRow) ([]*ritual.OutboxMessage, error) {
	out := make([]*ritual.OutboxMessage, 0, len(rows))
	for _, r := range rows {
		m, err := r.toMessage()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// dueIDs finds due, unleased messages of merchants not paused. Messages
// about members' own changes are taken before campaign messages, so a
// campaign of a million never delays a points message.
func (s outbox) dueIDs(ctx context.Context, now time.Time, which string, limit int) ([]int64, error) {
	paused := s.db.Model(&sendPauseRow{}).Select("merchant_id").Where("until > ?", now)
	q := s.db.WithContext(ctx).Model(&outboxRow{}).
		Where("status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)", ritual.OutboxPending, now, now).
		Where(which).Where("merchant_id NOT IN (?)", paused).Order("next_attempt_at, id").Limit(limit)
	if s.driver == DriverMySQL {
		q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	var ids []int64
	err := q.Pluck("id", &ids).Error
	return ids, err
}

func (s outbox) EnqueueMany(ctx context.Context, msgs []*ritual.OutboxMessage) (int64, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	rows := make([]outboxRow, len(msgs))
	for i, m := range msgs {
		row, err := outboxToRow(m)
		if err != nil {
			return 0, err
		}
		rows[i] = row
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, len(rows))
	return res.RowsAffected, translate(res.Error, "enqueue campaign messages")
}

func (s outbox) EnqueueFollowers(ctx context.Context, msg *ritual.OutboxMessage, afterID, throughID int64) (int64, error) {
	row, err := outboxToRow(msg)
	if err != nil {
		return 0, err
	}
	ref, skip := "CONCAT(?, m.id)", " ON DUPLICATE KEY UPDATE outbox.id = outbox.id"
	if s.driver == DriverSQLite {
		ref, skip = "? || m.id", " ON CONFLICT DO NOTHING"
	}
	var opts []*sql.TxOptions
	if s.driver == DriverMySQL {
		// Under REPEATABLE READ, INSERT ... SELECT would share-lock the
		// members it reads and hold up their orders meanwhile.
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	var added int64
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`
			INSERT INTO outbox (merchant_id, member_id, purpose, reference, notice, status, next_attempt_at, campaign, created_at)
			SELECT m.merchant_id, m.id, ?, `+ref+`, ?, ?, ?, ?, ? FROM members AS m
			WHERE m.merchant_id = ? AND m.id > ? AND m.id <= ? AND m.state = ?`+skip,
			row.Purpose, row.Reference, row.Notice, row.Status, row.NextAttemptAt, row.Campaign, row.CreatedAt,
			row.MerchantID, afterID, throughID, ritual.StateFollowing)
		added = res.RowsAffected
		return res.Error
	}, opts...)
	return added, translate(err, "enqueue campaign messages")
}

func (s outbox) CampaignReport(ctx context.Context, merchantID, campaign string) ([]ritual.ReportLine, error) {
	var rows []struct {
		Status    string
		LastError string
		N         int64
	}
	err := s.db.WithContext(ctx).Model(&outboxRow{}).Select("status, last_error, COUNT(*) AS n").
		Where("merchant_id = ? AND campaign = ?", merchantID, campaign).Group("status, last_error").
		Order("status, last_error").Scan(&rows).Error
	out := make([]ritual.ReportLine, len(rows))
	for i, r := range rows {
		out[i] = ritual.ReportLine{Status: ritual.OutboxStatus(r.Status), LastError: r.LastError, Messages: r.N}
	}
	return out, translate(err, "report campaign")
}

func (s outbox) Finish(ctx context.Context, msg *ritual.OutboxMessage, owner string) (bool, error) {
	row, err := outboxToRow(msg)
	if err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Model(&outboxRow{}).Where("id = ? AND lease_owner = ?", msg.ID, owner).Updates(map[string]any{
		"status": row.Status, "next_attempt_at": row.NextAttemptAt, "attempts": row.Attempts,
		"last_err_code": row.LastErrCode, "last_error": row.LastError, "wechat_msg_id": row.WeChatMsgID,
		"sent_at": row.SentAt, "lease_owner": "", "lease_until": nil,
	})
	return res.RowsAffected == 1, translate(res.Error, "finish message")
}

// FinishSent locks the rows still leased to owner, then marks them sent in
// one UPDATE, each with its own msgid: a batch costs one round of
// statements instead of one per message.
func (s outbox) FinishSent(ctx context.Context, msgs []*ritual.OutboxMessage, owner string, at time.Time) ([]int64, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	var held []int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&outboxRow{}).Where("id IN ? AND lease_owner = ?", ids, owner)
		if s.driver == DriverMySQL {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Pluck("id", &held).Error; err != nil || len(held) == 0 {
			return err
		}
		var msgID strings.Builder
		args := make([]any, 0, 2*len(msgs))
		msgID.WriteString("CASE id")
		for _, m := range msgs {
			msgID.WriteString(" WHEN ? THEN ?")
			args = append(args, m.ID, m.WeChatMsgID)
		}
		msgID.WriteString(" ELSE 0 END")
		return tx.Model(&outboxRow{}).Where("id IN ?", held).Updates(map[string]any{
			"status": ritual.OutboxSent, "sent_at": at.UTC(), "last_err_code": 0, "last_error": "",
			"wechat_msg_id": gorm.Expr(msgID.String(), args...), "lease_owner": "", "lease_until": nil,
		}).Error
	})
	if err != nil {
		return nil, translate(err, "finish sent messages")
	}
	return held, nil
}

func (s outbox) ReleaseWaiting(ctx context.Context, memberID int64, since, now time.Time) (int64, error) {
	stale := s.db.WithContext(ctx).Model(&outboxRow{}).
		Where("member_id = ? AND status = ? AND created_at < ?", memberID, ritual.OutboxWaitingFollow, since.UTC()).
		Updates(map[string]any{"status": ritual.OutboxFailed, "last_error": "the member did not follow in time; too stale to send"})
	if stale.Error != nil {
		return 0, translate(stale.Error, "expire waiting messages")
	}
	res := s.db.WithContext(ctx).Model(&outboxRow{}).
		Where("member_id = ? AND status = ?", memberID, ritual.OutboxWaitingFollow).
		Updates(map[string]any{"status": ritual.OutboxPending, "next_attempt_at": now.UTC()})
	return res.RowsAffected, translate(res.Error, "release waiting messages")
}

func (s outbox) ForMember(ctx context.Context, memberID int64, limit int) ([]*ritual.OutboxMessage, error) {
	var rows []outboxRow
	if err := s.db.WithContext(ctx).Where("member_id = ?", memberID).Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate(err, "list member's messages")
	}
	return toMessages(rows)
}

func (s outbox) Failures(ctx context.Context, merchantID string, limit int) ([]*ritual.OutboxMessage, error) {
	var rows []outboxRow
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND status = ?", merchantID, ritual.OutboxFailed).
		Order("id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate(err, "list failed messages")
	}
	return toMessages(rows)
}

func (s outbox) Depth(ctx context.Context) (map[ritual.OutboxStatus]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.db.WithContext(ctx).Model(&outboxRow{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error
	out := map[ritual.OutboxStatus]int64{}
	for _, r := range rows {
		out[ritual.OutboxStatus(r.Status)] = r.N
	}
	return out, translate(err, "count outbox")
}

type sendPauses struct{ db *gorm.DB }

func (s sendPauses) Pause(ctx context.Context, merchantID string, until time.Time, reason string) error {
	row := sendPauseRow{MerchantID: merchantID, Until: until.UTC(), Reason: freeText(truncate(reason, 255))}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "merchant_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"until", "reason"}),
	}).Create(&row).Error
	return translate(err, "pause sending")
}

func (s sendPauses) PausedUntil(ctx context.Context, merchantID string, now time.Time) (time.Time, error) {
	var row sendPauseRow
	err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND until > ?", merchantID, now.UTC()).Error
	if err == gorm.ErrRecordNotFound {
		return time.Time{}, nil
	}
	return row.Until.UTC(), translate(err, "read send pause")
}
