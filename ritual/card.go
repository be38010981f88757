package ritual

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Cards gives members their membership card: the claim code, the card's
// lines and the WeChat QR code that binds it.
type Cards struct {
	*changer
	replies
	directory *Directory
	wechat    CardMessenger
	publicURL string
}

// Member-card events, as WeChat names them (the raw XML carries CardId and
// UserCardCode; silenceper has no model for them).
const (
	EventUserGetCard    = "user_get_card"
	EventSubmitCardInfo = "submit_membercard_user_info"
	EventUserDelCard    = "user_del_card"
)

// PurposeCardActivate activates the member's WeChat member card; like
// PurposeCardSync it is not a template message.
const PurposeCardActivate = "card_activate"

// cardEvent handles WeChat member-card events for the merchant's card.
func (c *Chat) cardEvent(ctx context.Context, tx *work, m *Merchant, msg InboundMessage) (Reply, error) {
	if m.Activation.Method != ActivateMemberCard || msg.Fields["CardId"] != m.Activation.CardID {
		return Reply{}, nil // another card of the account: not ours to track
	}
	member, _, err := tx.Members().EnsureByOpenID(ctx, m.ID, msg.OpenID, StateFollowing, c.clock())
	if err != nil {
		return Reply{}, err
	}
	switch msg.Event {
	case EventUserGetCard:
		member.CardCode = msg.Fields["UserCardCode"]
		return Reply{}, tx.Members().Update(ctx, member)
	case EventUserDelCard:
		member.CardCode = ""
		return Reply{}, tx.Members().Update(ctx, member)
	default: // submitted the card's activation form: the deliberate act
		member.CardCode = msg.Fields["UserCardCode"]
		if err := c.enqueue(ctx, tx, m, member, PurposeCardActivate, fmt.Sprintf("card:%d", member.ID), Notice{At: c.clock()}, c.clock()); err != nil {
			return Reply{}, err
		}
		return c.activate(ctx, tx, m, member)
	}
}

// syncCard queues an update of the member's card after a points or level
// change. The update carries no data: the relay reads the balance and
// nickname when it sends, so one pending update covers every change before it.
func (c *changer) syncCard(ctx context.Context, tx *work, m *Merchant, member *Member, ref string) error {
	if m.Activation.Method != ActivateMemberCard || member.CardCode == "" {
		return nil
	}
	now := c.clock()
	if _, err := tx.Outbox().MergeCandidate(ctx, member.ID, PurposeCardSync, now); err == nil {
		return nil
	} else if ErrorCode(err) != ENOTFOUND {
		return err
	}
	_, err := tx.Outbox().Enqueue(ctx, &OutboxMessage{
		MerchantID: m.ID, MemberID: member.ID, Purpose: PurposeCardSync, Reference: "card:" + ref,
		Notice: Notice{At: now}, Status: OutboxPending, NextAttemptAt: now.Add(pointsMergeDelay), CreatedAt: now,
	})
	return err
}

// cardUpdate is what the member's card should show now.
func cardUpdate(m *Merchant, member *Member) CardUpdate {
	lv, _ := m.Membership.Level(member.LevelKey)
	return CardUpdate{CardID: m.Activation.CardID, Code: member.CardCode, Bonus: member.Points, Nickname: lv.Nickname}
}

// CardView is what a merchant prints on the membership card or sends the
// buyer: the claim code, its QR code and the card's three lines.
type CardView struct {
	Code  string   `json:"code"`
	Scene string   `json:"scene"`
	QR    QRView   `json:"qr"`
	Lines []string `json:"lines"`
}

// QRView is a QR code as the API shows it.
type QRView struct {
	Ticket    string     `json:"ticket"`
	ImageURL  string     `json:"image_url"`
	Permanent bool       `json:"permanent"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// cardQRLife is how long a temporary card QR code lives: WeChat's maximum,
// since it is printed and travels in a parcel.
const cardQRLife = 30 * 24 * time.Hour

// Card returns the membership card of a member recognized from an order.
func (c *Cards) Card(ctx context.Context, m *Merchant, openidOrPhone string, permanent bool) (CardView, error) {
	member, err := findMember(ctx, c.store, m, openidOrPhone)
	if err != nil {
		return CardView{}, err
	}
	if member.ClaimCode == "" {
		return CardView{}, Errorf(EINVALID, "this member has no card: cards are for members recognized from an order")
	}
	scene := "claim:" + member.ClaimCode
	qr, err := c.qrCode(ctx, m, scene, permanent)
	if err != nil {
		return CardView{}, err
	}
	lines := make([]string, 0, 3)
	for _, name := range []string{"card.line1", "card.line2", "card.line3"} {
		r, err := c.render(m, name, map[string]any{"Code": member.ClaimCode, "Gift": giftSummary(m), "Method": m.Activation.Method})
		if err != nil {
			return CardView{}, err
		}
		lines = append(lines, r.Text)
	}
	return CardView{Code: member.ClaimCode, Scene: scene, Lines: lines,
		QR: QRView{Ticket: qr.Ticket, ImageURL: qr.ImageURL, Permanent: permanent, ExpiresAt: qr.ExpiresAt}}, nil
}

// qrCode returns the merchant's QR code for scene, from the cache while it
// has at least a day to live, else from WeChat.
func (c *Cards) qrCode(ctx context.Context, m *Merchant, scene string, permanent bool) (QRCode, error) {
	now := c.clock()
	if qr, err := c.store.QRCodes().Find(ctx, m.ID, scene, permanent, now.Add(24*time.Hour)); err == nil {
		return *qr, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return QRCode{}, err
	}
	if c.wechat == nil {
		return QRCode{}, Errorf(EUNAVAILABLE, "no WeChat connection to make QR codes")
	}
	qr, err := c.wechat.CreateQRCode(ctx, m, QRRequest{Scene: scene, Permanent: permanent, Expire: cardQRLife})
	if err != nil {
		return QRCode{}, qrError(err)
	}
	return qr, c.store.QRCodes().Save(ctx, m.ID, scene, permanent, qr, now)
}

// qrError turns WeChat's refusal into what the merchant can act on.
func qrError(err error) error {
	se, ok := err.(*SendError)
	switch {
	case ok && se.ErrCode == 45029:
		return Errorf(ECONFLICT, "WeChat's limit of permanent QR codes is reached; ask for a temporary one")
	case ok && se.Class == SendFinal:
		return Errorf(EINVALID, "WeChat refused the QR code: %s", se.Message)
	default:
		return Errorf(EUNAVAILABLE, "WeChat could not make the QR code now; try again")
	}
}

// QRImage returns where the image of a member's QR code (scene
// "claim:<code>" or "ref:<code>") is, so a link in chat can point at it.
func (c *Cards) QRImage(ctx context.Context, merchantID, scene string) (string, error) {
	m, err := c.directory.Merchant(ctx, merchantID)
	if err != nil {
		return "", err
	}
	kind, code, _ := strings.Cut(scene, ":")
	switch kind {
	case "claim":
		_, err = c.store.Members().ByClaimCode(ctx, m.ID, code)
	case "ref":
		_, err = c.store.Members().ByReferralCode(ctx, m.ID, code)
	default:
		err = Errorf(ENOTFOUND, "no such QR code")
	}
	if err != nil {
		return "", err
	}
	qr, err := c.qrCode(ctx, m, scene, false)
	return qr.ImageURL, err
}

// qrLink is the address of a member's QR image, for replies in chat.
func (c *Cards) qrLink(m *Merchant, scene string) string {
	return c.publicURL + "/qr/" + m.ID + "/" + scene
}
