package ritual

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/wxclub/wxclub/templates"
)

// RelayOptions tunes the relay.
type RelayOptions struct {
	Owner       string        // this replica's name, for leases
	Batch       int           // messages claimed at once (default 50)
	Concurrency int           // sends in flight at once (default 8)
	Lease       time.Duration // how long a claim holds (default 60s): longer than a send can take
	GiveUpAfter time.Duration // transient failures are retried this long (default 48h)
	// Bridge posts to groups; without one, group posts fail as undeliverable.
	Bridge GroupBridge
}

func (o RelayOptions) withDefaults() RelayOptions {
	if o.Owner == "" {
		o.Owner = "relay"
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 48 * time.Hour
	}
	return o
}

// Relay sends the outbox. Claims are leases in the database, so several
// replicas relay side by side, and a replica that dies mid-send leaves its
// messages to be claimed again when the lease runs out; the resend carries
// the same client_msg_id, which WeChat uses to drop the repeat.
type Relay struct {
	*changer
	directory *Directory
	texts     *templates.Set
	wechat    WeChat
	opts      RelayOptions
}

// WeChat is everything the relay sends through; package wechat's Client.
type WeChat interface {
	Messenger
	CardMessenger
	// SendText sends a customer-service text message, which WeChat allows
	// within 48 hours of the member's last message.
	SendText(ctx context.Context, m *Merchant, openid, text string) error
}

// NewRelay returns a relay sending through w.
func (c *Club) NewRelay(w WeChat, opts RelayOptions) *Relay {
	return &Relay{changer: c.Chat.changer, directory: c.Directory, texts: c.Chat.texts, wechat: w, opts: opts.withDefaults()}
}

// RunOnce claims one batch of due messages and sends them. It returns how
// many it claimed. What the sends need is read once for the batch, and the
// messages sent are recorded in one step at the end: the database sees a
// handful of statements per batch, not several per message.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	var claimed []*OutboxMessage
	err := r.atomically(ctx, func(tx *work) error {
		var err error
		claimed, err = tx.Outbox().ClaimDue(ctx, r.clock(), r.opts.Owner, r.opts.Lease, r.opts.Batch)
		return err
	})
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	b, err := r.prepare(ctx, claimed)
	if err != nil {
		return len(claimed), err // the leases run out and the batch is claimed again
	}
	sent, err := r.sendAll(ctx, b, claimed)
	return len(claimed), errors.Join(err, r.finishSent(ctx, sent))
}

// sendAll delivers the claimed messages, Concurrency at a time, and
// returns those WeChat accepted.
func (r *Relay) sendAll(ctx context.Context, b *relayBatch, claimed []*OutboxMessage) ([]*OutboxMessage, error) {
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sent := make([]*OutboxMessage, 0, len(claimed))
	for _, msg := range claimed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := r.deliver(ctx, b, msg)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				sent = append(sent, msg)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return sent, errors.Join(errs...)
}

// deliver sends one claimed message. A message WeChat accepted is left for
// finishSent to record with the rest of the batch (it reports true); any
// other outcome is recorded here.
func (r *Relay) deliver(ctx context.Context, b *relayBatch, msg *OutboxMessage) (bool, error) {
	m, member := b.merchants[msg.MerchantID], b.members[msg.MemberID]
	if member == nil {
		return false, Errorf(ENOTFOUND, "outbox message %d: member %d not found", msg.ID, msg.MemberID)
	}
	id, err := r.send(ctx, b, m, member, msg)
	if errors.Is(err, errNotFollowing) {
		msg.Status = OutboxWaitingFollow
		return false, r.finish(ctx, msg)
	}
	if errors.Is(err, errOverBudget) {
		msg.NextAttemptAt, msg.Attempts = nextQuotaReset(r.clock()), max(0, msg.Attempts-1)
		msg.LastError = "held for tomorrow: today's campaign share of the template quota is spent"
		return false, r.finish(ctx, msg)
	}
	if err == nil {
		now := r.clock()
		msg.Status, msg.SentAt, msg.WeChatMsgID, msg.LastErrCode, msg.LastError = OutboxSent, &now, id, 0, ""
		return true, nil
	}
	if ctx.Err() != nil {
		return false, nil // shutting down: the lease runs out and the message is claimed again
	}
	return false, r.failed(ctx, m, msg, err)
}

// errNotFollowing: the message must wait for the member to follow.
var errNotFollowing = errors.New("ritual: member does not follow")

// send sends one message the way its route says.
func (r *Relay) send(ctx context.Context, b *relayBatch, m *Merchant, member *Member, msg *OutboxMessage) (int64, error) {
	switch routeOf(msg, member) {
	case viaNone:
		return 0, errNotFollowing
	case viaGroup:
		if r.opts.Bridge == nil {
			return 0, &SendError{Class: SendFinal, Message: "no group bridge is configured"}
		}
		return 0, r.opts.Bridge.Post(ctx, m, msg.Notice.Group, msg.Notice.Reason, "wxclub-"+strconv.FormatInt(msg.ID, 10))
	case viaCardSync:
		return 0, r.wechat.UpdateMemberCard(ctx, m, cardUpdate(m, member))
	case viaCardActivate:
		u := cardUpdate(m, member)
		return 0, r.wechat.ActivateMemberCard(ctx, m, CardActivation{
			CardID: u.CardID, Code: u.Code, MembershipNumber: membershipNumber(member), Bonus: u.Bonus, Nickname: u.Nickname,
		})
	case viaText:
		return 0, r.wechat.SendText(ctx, m, member.OpenID, msg.Notice.Reason)
	}
	if b.overBudget[msg.ID] {
		return 0, errOverBudget
	}
	tm, err := r.templateMessage(m, member, msg)
	if err != nil {
		return 0, &SendError{Class: SendFinal, Message: err.Error()}
	}
	return r.wechat.SendTemplate(ctx, m, tm)
}

// errOverBudget: a campaign message waits for tomorrow's quota.
var errOverBudget = errors.New("ritual: the day's campaign budget is spent")

// membershipNumber is what the member card shows as the member's number.
func membershipNumber(member *Member) string {
	if member.ClaimCode != "" {
		return member.ClaimCode
	}
	return fmt.Sprintf("M%08d", member.ID)
}

// failed applies WeChat's verdict on a failed send.
func (r *Relay) failed(ctx context.Context, m *Merchant, msg *OutboxMessage, err error) error {
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Class: SendRetry, Message: err.Error()}
	}
	msg.LastErrCode, msg.LastError = se.ErrCode, se.Message
	now := r.clock()
	switch se.Class {
	case SendQuota:
		until := nextQuotaReset(now)
		if err := r.store.Pauses().Pause(ctx, m.ID, until, se.Message); err != nil {
			return err
		}
		msg.NextAttemptAt, msg.Attempts = until, max(0, msg.Attempts-1) // not the message's fault
	case SendNotFollowing:
		msg.Status = OutboxWaitingFollow
	case SendRetry:
		if now.Sub(msg.CreatedAt) > r.opts.GiveUpAfter {
			r.fail(msg, &SendError{Class: SendFinal, ErrCode: se.ErrCode, Message: fmt.Sprintf("gave up after %d attempts: %s", msg.Attempts, se.Message)})
			break
		}
		msg.NextAttemptAt = now.Add(retryDelay(msg.Attempts))
	default:
		r.fail(msg, se)
	}
	r.log.WarnContext(ctx, "send failed", "merchant", m.ID, "outbox", msg.ID, "class", se.Class, "errcode", se.ErrCode, "attempts", msg.Attempts)
	return r.finish(ctx, msg)
}

func (r *Relay) fail(msg *OutboxMessage, se *SendError) {
	msg.Status, msg.LastErrCode, msg.LastError = OutboxFailed, se.ErrCode, se.Message
}

// finish records the outcome if this relay still holds the lease.
func (r *Relay) finish(ctx context.Context, msg *OutboxMessage) error {
	held, err := r.store.Outbox().Finish(context.WithoutCancel(ctx), msg, r.opts.Owner)
	if held && err == nil {
		r.observer.MessageSent(msg.MerchantID, msg.Purpose, sendResult(msg), msg.LastErrCode)
	}
	return err
}

// finishSent records the batch's accepted messages in one step, and
// counts those whose lease this relay still held.
func (r *Relay) finishSent(ctx context.Context, sent []*OutboxMessage) error {
	held, err := r.store.Outbox().FinishSent(context.WithoutCancel(ctx), sent, r.opts.Owner, r.clock())
	if err != nil {
		return err
	}
	byID := make(map[int64]*OutboxMessage, len(sent))
	for _, msg := range sent {
		byID[msg.ID] = msg
	}
	for _, id := range held {
		msg := byID[id]
		r.observer.MessageSent(msg.MerchantID, msg.Purpose, sendResult(msg), 0)
	}
	return nil
}

// sendResult names what became of a message after one attempt.
func sendResult(msg *OutboxMessage) string {
	switch {
	case msg.Status == OutboxPending && msg.LastErrCode == 45009:
		return "quota"
	case msg.Status == OutboxPending:
		return "retry"
	default:
		return string(msg.Status)
	}
}

// retryDelay grows exponentially with jitter from 2 s to at most 10 min.
func retryDelay(attempts int) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval: 2 * time.Second, RandomizationFactor: 0.3, Multiplier: 2, MaxInterval: 10 * time.Minute,
	}
	b.Reset()
	d := b.NextBackOff()
	for range min(attempts, 20) - 1 {
		d = b.NextBackOff()
	}
	return d
}

// chinaTime is the zone WeChat resets daily quotas in (no DST, so a fixed
// offset needs no tzdata).
var chinaTime = time.FixedZone("CST", 8*3600)

// nextQuotaReset is the next midnight in China, when WeChat's daily API
// quotas reset.
func nextQuotaReset(now time.Time) time.Time {
	t := now.In(chinaTime)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, chinaTime).UTC()
}

// templateMessage renders msg's notice into the merchant's template.
func (c *Relay) templateMessage(m *Merchant, member *Member, msg *OutboxMessage) (TemplateMessage, error) {
	ref, ok := m.Templates[msg.Purpose]
	if !ok || ref.ID == "" {
		return TemplateMessage{}, fmt.Errorf("no template configured for %s", msg.Purpose)
	}
	fields, err := c.texts.TemplateFields(msg.Purpose, ref.Fields, c.noticeData(m, member, msg.Notice))
	if err != nil {
		return TemplateMessage{}, err
	}
	tm := TemplateMessage{OpenID: member.OpenID, TemplateID: ref.ID, ClientMsgID: "wxclub-" + strconv.FormatInt(msg.ID, 10)}
	for _, f := range fields {
		tm.Fields = append(tm.Fields, TemplateField{Key: f.Key, Value: f.Value})
	}
	return tm, nil
}

// NoticeData is what template-message field templates can use.
type NoticeData struct {
	Merchant     string
	Nickname     string // the member's level nickname now
	Delta        string // signed: "+120", "-30"
	Balance      int64
	Reason       string
	Time         string // in the merchant's time zone
	FromNickname string
	ToNickname   string
	Right        string // the new level's right
	// Points says the points a level change brought ("+200积分"), or "—".
	Points string
}

func (c *Relay) noticeData(m *Merchant, member *Member, n Notice) NoticeData {
	current, _ := m.Membership.Level(member.LevelKey)
	from, _ := m.Membership.Level(n.From)
	to, _ := m.Membership.Level(n.To)
	return NoticeData{
		Merchant: m.Name, Nickname: current.Nickname, Delta: fmt.Sprintf("%+d", n.Delta), Balance: n.Balance,
		Reason: n.Reason, Time: n.At.In(m.Location()).Format("2006-01-02 15:04"),
		FromNickname: from.Nickname, ToNickname: to.Nickname, Right: to.Right.Title, Points: pointsText(n.Delta),
	}
}

func pointsText(delta int64) string {
	if delta == 0 {
		return "—"
	}
	return fmt.Sprintf("%+d积分", delta)
}
