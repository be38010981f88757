package ritual_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// The acts a shopper can be asked to perform to activate.
const (
	actDigits   = "digits"   // reply with the order phone's last four digits
	actBirthday = "birthday" // reply with a birthday
	actCard     = "card"     // fill in WeChat's member card
	actCommand  = "command"  // send 激活: the membership is theirs already
	actOrder    = "order"    // order first, then send 激活
)

// actHow is what a reply that says how to activate must say for each act,
// so the shopper knows what to do.
var actHow = map[string]string{
	actDigits:   "手机号的后4位",
	actBirthday: "回复你的生日",
	actCard:     "会员卡，填写资料",
	actCommand:  "回复「激活」",
	actOrder:    "下单后回复「激活」",
}

// origin makes a member the way one kind of shopper becomes one and
// returns the shopper's openid and the phone the shop knows ("" if none).
type origin struct {
	name string
	make func(e *groupEnv) (openid, phone string)
	// acts: what the shopper does to activate, per merchant method.
	acts map[string]string
}

const cardID = "pCARD-ACT"

func activationOrigins() []origin {
	byOpenID := func(e *groupEnv, phone string) string {
		openid := ritualtest.RandomID("o")
		mustOrder(e.t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("AO"), OpenID: openid, Phone: phone, AmountFen: 32000})
		e.expectUseful(mustHandle(e.t, e.club, e.m, subscribe(e.clock, openid, "poster")), "following after the order")
		return openid
	}
	bought := map[string]string{ // the WeChat user is the membership's already, and an order proves them
		ritual.ActivatePhoneLast4: actCommand, ritual.ActivateBirthday: actBirthday, ritual.ActivateMemberCard: actCard,
	}
	followed := map[string]string{ // phone_last4 activates buyers: a follower orders first
		ritual.ActivatePhoneLast4: actOrder, ritual.ActivateBirthday: actBirthday, ritual.ActivateMemberCard: actCard,
	}
	return []origin{
		{
			name: "order by phone, card scanned",
			make: func(e *groupEnv) (string, string) {
				member := buyer(e.t, e.club, e.db, e.m, ritualtest.RandomID("AP"), 20000)
				openid := ritualtest.RandomID("o")
				e.expectUseful(mustHandle(e.t, e.club, e.m, subscribe(e.clock, openid, "claim:"+member.ClaimCode)), "scanning the card")
				return openid, member.Phone
			},
			// Bound by the card's code alone: only the order's phone proves it.
			acts: map[string]string{ritual.ActivatePhoneLast4: actDigits, ritual.ActivateBirthday: actDigits, ritual.ActivateMemberCard: actDigits},
		},
		{
			name: "order by openid",
			make: func(e *groupEnv) (string, string) { return byOpenID(e, ""), "" },
			acts: bought,
		},
		{
			name: "order by openid and phone",
			make: func(e *groupEnv) (string, string) {
				phone := randomPhone()
				return byOpenID(e, phone), phone
			},
			acts: map[string]string{ritual.ActivatePhoneLast4: actDigits, ritual.ActivateBirthday: actBirthday, ritual.ActivateMemberCard: actCard},
		},
		{
			name: "follow only",
			make: func(e *groupEnv) (string, string) { return e.follower(), "" },
			acts: followed,
		},
		{
			name: "follow, then order by openid", // the README's shopper
			make: func(e *groupEnv) (string, string) {
				openid := e.follower()
				mustOrder(e.t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("AF"), OpenID: openid, AmountFen: 32000})
				return openid, ""
			},
			acts: bought,
		},
		{
			name: "invited friend",
			make: func(e *groupEnv) (string, string) { return e.invitedFriend(), "" },
			acts: followed,
		},
		{
			name: "invited friend who ordered",
			make: func(e *groupEnv) (string, string) {
				friend := e.invitedFriend()
				mustOrder(e.t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("AI"), OpenID: friend, AmountFen: 5000})
				return friend, ""
			},
			acts: bought,
		},
		{
			name: "group link",
			make: func(e *groupEnv) (string, string) {
				sender := ritualtest.RandomID("wx")
				openid := e.linked(sender)
				if got := e.say(sender, "签到"); !strings.Contains(got, "10") {
					e.t.Fatalf("签到 in the group = %q, want the 10 points", got)
				}
				return openid, ""
			},
			acts: followed,
		},
		{
			name: "console test shopper",
			make: func(e *groupEnv) (string, string) {
				openid, err := e.club.NewTestShopper(context.Background(), e.m)
				if err != nil {
					e.t.Fatal(err)
				}
				e.expectUseful(mustHandle(e.t, e.club, e.m, subscribe(e.clock, openid, "")), "the preview's follow")
				return openid, ""
			},
			// The preview follows and says, and has no WeChat member card to fill in.
			acts: map[string]string{ritual.ActivatePhoneLast4: actCommand, ritual.ActivateBirthday: actBirthday, ritual.ActivateMemberCard: actCommand},
		},
	}
}

// TestEveryMemberCanActivate drives, for every way a shopper becomes a
// member and every activation method the merchant can choose, the
// conversation the shopper has: 激活 says what to do, doing it activates
// and grants the gift, and 邀请 then gives the invitation.
func TestEveryMemberCanActivate(t *testing.T) {
	for _, o := range activationOrigins() {
		for _, method := range []string{ritual.ActivatePhoneLast4, ritual.ActivateBirthday, ritual.ActivateMemberCard} {
			t.Run(o.name+"/"+method, func(t *testing.T) {
				clock := &ritualtest.Clock{}
				modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
					e := newGroupEnv(t, db, clock, func(m *ritual.Merchant) {
						m.Activation.Method = method
						if method == ritual.ActivateMemberCard {
							m.Activation.CardID = cardID
						}
					})
					openid, phone := o.make(e)
					act := o.acts[method]
					activateAs(e, openid, phone, act)

					member := e.member(openid)
					if member.Funnel.ActivatedAt == nil {
						t.Fatalf("%s is not activated after %s", o.name, act)
					}
					if coupons, err := e.club.Coupons(context.Background(), e.m, openid); err != nil || len(coupons) != 1 {
						t.Fatalf("coupons after activation = %+v, %v; want the gift pack's tea once", coupons, err)
					}
					if got := mustHandle(t, e.club, e.m, text(clock, openid, "邀请", nextMsgID())); !strings.Contains(got, "/qr/"+e.m.ID+"/ref:") {
						t.Fatalf("邀请 after activation = %q, want the invitation link", got)
					}
					checkBalanced(t, db, e.m)
				})
			})
		}
	}
}

// activateAs plays the shopper: 激活, then whatever its reply asks for.
func activateAs(e *groupEnv, openid, phone, act string) {
	t := e.t
	t.Helper()
	say := func(s string) string {
		t.Helper()
		return mustHandle(t, e.club, e.m, text(e.clock, openid, s, nextMsgID()))
	}
	got := say("邀请")
	if firstActivate := strings.Contains(got, "激活会员后") || strings.Contains(got, "激活后"); !firstActivate || !strings.Contains(got, actHow[act]) {
		t.Fatalf("邀请 before activation = %q, want how to activate (%s)", got, act)
	}
	if act == actCommand || act == actOrder {
		// Digits that could match nothing are not asked for, and not taken.
		if got := say("1234"); strings.Contains(got, "激活成功") || !strings.Contains(got, "回复「激活」") {
			t.Fatalf("four digits from a member with no proof to give = %q, want to be told to send 激活", got)
		}
	}
	how := say("激活")
	e.expectUseful(how, "激活")
	if want := actHow[act]; act == actCommand && !strings.Contains(how, "激活成功") || act != actCommand && !strings.Contains(how, want) {
		t.Fatalf("激活 = %q, want %q (%s)", how, want, act)
	}
	if act == actOrder && strings.Contains(how, "激活成功") {
		t.Fatalf("激活 from a follower who never bought = %q, want to be told to order first", how)
	}
	if act != actDigits && strings.Contains(how, "手机号") {
		t.Fatalf("激活 = %q asks for a phone the member cannot prove", how)
	}
	var done string
	switch act {
	case actCommand:
		done = how
	case actOrder:
		mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("AB"), OpenID: openid, AmountFen: 5000})
		done = say("激活")
	case actDigits:
		done = say(phone[len(phone)-4:])
	case actBirthday:
		done = say("5月20日")
	case actCard:
		card := map[string]string{"CardId": cardID, "UserCardCode": ritualtest.RandomID("C")}
		mustHandle(t, e.club, e.m, cardEvent(e.clock, openid, ritual.EventUserGetCard, card))
		done = mustHandle(t, e.club, e.m, cardEvent(e.clock, openid, ritual.EventSubmitCardInfo, card))
	}
	if !strings.Contains(done, "激活成功") || !strings.Contains(done, "新人茶包") {
		t.Fatalf("after %s: %q, want the activation and its gift", act, done)
	}
}

func cardEvent(clock *ritualtest.Clock, openid, event string, fields map[string]string) ritual.InboundMessage {
	return ritual.InboundMessage{OpenID: openid, Kind: ritual.KindEvent, Event: event, Fields: fields, SentAt: clock.Now()}
}

// expectUseful fails when a reply is the generic default or sends the
// shopper to a card they may not have.
func (e *groupEnv) expectUseful(reply, after string) {
	e.t.Helper()
	for _, bad := range []string{"收到啦", "请先扫描"} {
		if strings.Contains(reply, bad) {
			e.t.Fatalf("reply to %s = %q: %q tells the shopper nothing they can do", after, reply, bad)
		}
	}
}

// TestOwnCardWithNoPhoneSaysSendActivate: a buyer whose order carried
// their openid and no phone, holding their card, is never asked for digits
// that cannot match, however they try the card.
func TestOwnCardWithNoPhoneSaysSendActivate(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "OC1", OpenID: openid, AmountFen: 20000})
		member, err := db.Members().ByOpenID(context.Background(), m.ID, openid)
		if err != nil || member.ClaimCode == "" {
			t.Fatalf("member = %+v, %v; want one with a card", member, err)
		}
		for _, msg := range []ritual.InboundMessage{
			subscribe(clock, openid, "claim:"+member.ClaimCode),        // follows by scanning the card
			text(clock, openid, member.ClaimCode, nextMsgID()),         // sends the code on it
			text(clock, openid, member.ClaimCode+" 1234", nextMsgID()), // and the code with digits, as a take-back
		} {
			got := mustHandle(t, club, m, msg)
			if strings.Contains(got, "手机号后4位") || strings.Contains(got, "手机号的后4位") || strings.Contains(got, "请先扫描") || !strings.Contains(got, "回复「激活」") {
				t.Fatalf("%s %q = %q, want to be told to send 激活", msg.Kind, msg.Content+msg.EventKey, got)
			}
		}
		if got := mustHandle(t, club, m, text(clock, openid, "激活", nextMsgID())); !strings.Contains(got, "激活成功") {
			t.Fatalf("激活 = %q, want the activation", got)
		}
	})
}

// invitedFriend returns the openid of a new follower through an activated
// member's invitation.
func (e *groupEnv) invitedFriend() string {
	e.t.Helper()
	code := referralCode(e.t, e.club, e.db, e.m, e.clock, activeMember(e.t, e.club, e.db, e.m, e.clock, ritualtest.RandomID("AR")))
	friend := ritualtest.RandomID("o")
	e.expectUseful(mustHandle(e.t, e.club, e.m, subscribe(e.clock, friend, "ref:"+code)), "following the invitation")
	return friend
}
