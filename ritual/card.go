package ritual

import (
	"context"
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
		if member.AwaitsProof() { // bound by code alone: the order's phone proves it
			if err := tx.Members().Update(ctx, member); err != nil {
				return Reply{}, err
			}
			return c.activationReply(ctx, tx, m, member, "reply.how_to_activate")
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

// Limits on the public QR links, per client address and per merchant, an
// hour: enough for an invitation passed around, too few to make the links a
// drain on WeChat's QR quota.
const (
	qrLinksPerAddress  = 60
	qrLinksPerMerchant = 2000
)

// QRImage returns where the image of a member's invitation QR code (scene
// "ref:<code>") is, so the link sent in chat can point at it. A card's
// claim code has no public link (the merchant prints the image Card
// returns): every other scene is ENOTFOUND without looking the code up, so
// the answer says nothing about whether a card's code is live. Requests are
// counted per client address and per merchant; past either limit they are
// ERATELIMITED.
func (c *Cards) QRImage(ctx context.Context, merchantID, scene, address string) (string, error) {
	now := c.clock()
	if err := c.qrLinkAllowed(ctx, "qr-address:"+address, qrLinksPerAddress, now); err != nil {
		return "", err
	}
	m, err := c.directory.Merchant(ctx, merchantID)
	if err != nil {
		return "", err
	}
	if err := c.qrLinkAllowed(ctx, "qr-merchant:"+m.ID, qrLinksPerMerchant, now); err != nil {
		return "", err
	}
	code, ok := strings.CutPrefix(scene, sceneReferral)
	if !ok {
		return "", Errorf(ENOTFOUND, "no such QR code")
	}
	if _, err = c.store.Members().ByReferralCode(ctx, m.ID, code); err != nil {
		return "", err
	}
	qr, err := c.qrCode(ctx, m, scene, false)
	return qr.ImageURL, err
}

func (c *Cards) qrLinkAllowed(ctx context.Context, key string, max int, now time.Time) error {
	over, err := overLimit(ctx, c.store.Limits(), key, time.Hour, max, now)
	if err != nil || !over {
		return err
	}
	return Errorf(ERATELIMITED, "too many QR link requests; try again within the hour")
}

// qrLink is the address of a member's QR image, for replies in chat.
func (c *Cards) qrLink(m *Merchant, scene string) string {
	return c.publicURL + "/qr/" + m.ID + "/" + scene
}
