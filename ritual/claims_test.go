package ritual_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// buyer records an order by phone and returns the recognized member.
func buyer(t *testing.T, club *ritual.Club, db *models.DB, m *ritual.Merchant, no string, fen int64) *ritual.Member {
	t.Helper()
	phone := randomPhone()
	mustOrder(t, club, m, order(no, phone, fen))
	member, err := db.Members().ByPhone(context.Background(), m.ID, phone)
	if err != nil {
		t.Fatal(err)
	}
	return member
}

func scanEvent(clock *ritualtest.Clock, openid, scene string, following bool) ritual.InboundMessage {
	if following {
		return ritual.InboundMessage{OpenID: openid, Kind: ritual.KindEvent, Event: ritual.EventScan, EventKey: scene, SentAt: clock.Now()}
	}
	return subscribe(clock, openid, scene)
}

func TestOrderGivesAClaimCode(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		member := buyer(t, club, db, m, "CC1", 10000)
		if len(member.ClaimCode) != 6 || !strings.ContainsAny(member.ClaimCode, "23456789") {
			t.Fatalf("claim code %q, want 6 characters with a digit", member.ClaimCode)
		}
		if member.Funnel.RecognizedAt == nil || member.State != ritual.StateRecognized {
			t.Fatalf("member = %+v, want recognized with the stage stamped", member)
		}
		// A second order does not change the code.
		mustOrder(t, club, m, order("CC2", member.Phone, 100))
		again, _ := db.Members().ByPhone(context.Background(), m.ID, member.Phone)
		if again.ClaimCode != member.ClaimCode {
			t.Fatalf("claim code changed from %s to %s", member.ClaimCode, again.ClaimCode)
		}
	})
}

func TestScanningTheCardBindsTheFollower(t *testing.T) {
	for _, how := range []string{"subscribe", "scan", "text"} {
		t.Run(how, func(t *testing.T) {
			clock := &ritualtest.Clock{}
			modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
				club, m := newClub(t, db, clock)
				ctx := context.Background()
				claimed := buyer(t, club, db, m, "SB1", 20000)
				openid := ritualtest.RandomID("o")
				var reply string
				switch how {
				case "subscribe":
					reply = mustHandle(t, club, m, scanEvent(clock, openid, "claim:"+claimed.ClaimCode, false))
				case "scan":
					mustHandle(t, club, m, subscribe(clock, openid, ""))
					clock.Advance(time.Second)
					reply = mustHandle(t, club, m, scanEvent(clock, openid, "claim:"+claimed.ClaimCode, true))
				case "text":
					mustHandle(t, club, m, subscribe(clock, openid, ""))
					reply = mustHandle(t, club, m, text(clock, openid, strings.ToLower(claimed.ClaimCode), 77))
				}
				for _, want := range []string{"你已经是", "会员", "礼包", "后4位"} {
					if !strings.Contains(reply, want) {
						t.Fatalf("reply %q lacks %q (you are a member, a benefit waits, how to activate)", reply, want)
					}
				}
				bound, err := db.Members().ByOpenID(ctx, m.ID, openid)
				if err != nil || bound.ID != claimed.ID || bound.Points != 200 || bound.State != ritual.StateFollowing {
					t.Fatalf("the follower is %+v (%v); want the claimed member, following, with its 200 points", bound, err)
				}
				if bound.Funnel.CardScannedAt == nil || bound.Funnel.FollowedAt == nil {
					t.Fatalf("funnel = %+v, want scanned and followed stamped", bound.Funnel)
				}
				if how == "subscribe" && bound.SubscribeScene != "claim:"+claimed.ClaimCode {
					t.Fatalf("followed through the card, subscribe scene = %q, want the card's", bound.SubscribeScene)
				}
			})
		})
	}
}

// TestFailedCardScan: a QR code whose claim code names no card (or someone
// else's) binds nothing and is not kept as how the shopper came; the follow
// itself is real, so the shopper is welcomed as a follower and told what
// they can do about the card.
func TestFailedCardScan(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		taken := buyer(t, club, db, m, "FS1", 20000)
		mustHandle(t, club, m, scanEvent(clock, ritualtest.RandomID("o"), "claim:"+taken.ClaimCode, false))

		for _, tc := range []struct {
			scene string
			want  []string
		}{
			{"claim:K7XM2Q", []string{"欢迎关注" + m.Name, "没有找到会员码 K7XM2Q 对应的会员卡", "请发送卡上印的6位会员码"}},
			{"claim:" + taken.ClaimCode, []string{"欢迎关注" + m.Name, "另一个微信号"}},
		} {
			openid := ritualtest.RandomID("o")
			clock.Advance(time.Second)
			got := mustHandle(t, club, m, scanEvent(clock, openid, tc.scene, false))
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("following through %s answered %q, want %q in it", tc.scene, got, want)
				}
			}
			member, err := db.Members().ByOpenID(ctx, m.ID, openid)
			if err != nil || member.State != ritual.StateFollowing || member.Funnel.FollowedAt == nil {
				t.Fatalf("after following through %s: %+v (%v), want a following member", tc.scene, member, err)
			}
			if member.SubscribeScene != "" || member.ClaimCode != "" || member.Funnel.CardScannedAt != nil {
				t.Errorf("following through %s kept scene %q, code %q, scanned %v; want none: the card is not theirs",
					tc.scene, member.SubscribeScene, member.ClaimCode, member.Funnel.CardScannedAt)
			}
		}

		// A follower who scans an unknown card keeps the scene they came by
		// and is not welcomed again.
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, "poster"))
		clock.Advance(time.Second)
		got := mustHandle(t, club, m, scanEvent(clock, openid, "claim:K7XM2Q", true))
		if strings.Contains(got, "欢迎") || !strings.Contains(got, "请发送卡上印的6位会员码") {
			t.Fatalf("a follower's scan of an unknown card answered %q, want what to do and no welcome", got)
		}
		if member, _ := db.Members().ByOpenID(ctx, m.ID, openid); member.SubscribeScene != "poster" {
			t.Fatalf("scene = %q after the failed scan, want poster", member.SubscribeScene)
		}
	})
}

func TestClaimRefusals(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		claimed := buyer(t, club, db, m, "CR1", 20000)
		first, second := ritualtest.RandomID("o"), ritualtest.RandomID("o")
		mustHandle(t, club, m, scanEvent(clock, first, "claim:"+claimed.ClaimCode, false))

		// Another WeChat user with the same code binds nothing.
		clock.Advance(time.Second)
		if got := mustHandle(t, club, m, scanEvent(clock, second, "claim:"+claimed.ClaimCode, false)); !strings.Contains(got, "另一个微信号") {
			t.Fatalf("second user's scan = %q, want the code-taken reply", got)
		}
		if m2, _ := db.Members().ByOpenID(ctx, m.ID, second); m2.ID == claimed.ID || m2.Points != 0 {
			t.Fatalf("the second user got the member: %+v", m2)
		}
		// An unknown code gets a clear reply.
		if got := mustHandle(t, club, m, text(clock, second, "ZZ22ZZ", 1)); !strings.Contains(got, "没有找到会员码") {
			t.Fatalf("unknown code = %q", got)
		}
		// Guessing is rate-limited per sender: after five tries even a right code waits.
		for i := range 4 {
			mustHandle(t, club, m, text(clock, second, fmt.Sprintf("ZZ%d2ZZ", i+3), int64(10+i)))
		}
		other := buyer(t, club, db, m, "CR2", 100)
		if got := mustHandle(t, club, m, text(clock, second, other.ClaimCode, 99)); !strings.Contains(got, "一小时后再试") {
			t.Fatalf("sixth try = %q, want slow down", got)
		}
		if unbound, _ := db.Members().ByClaimCode(ctx, m.ID, other.ClaimCode); unbound.OpenID != "" {
			t.Fatal("a rate-limited try bound a member")
		}
		clock.Advance(time.Hour)
		if got := mustHandle(t, club, m, text(clock, second, other.ClaimCode, 100)); !strings.Contains(got, "你已经是") {
			t.Fatalf("an hour later = %q, want the claim to work", got)
		}
	})
}

func TestActivationGrantsTheGiftOnce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		claimed := buyer(t, club, db, m, "AG1", 20000)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, scanEvent(clock, openid, "claim:"+claimed.ClaimCode, false))

		wrong := "0000"
		if strings.HasSuffix(claimed.Phone, wrong) {
			wrong = "1111" // the random phone happens to end in 0000
		}
		if got := mustHandle(t, club, m, text(clock, openid, wrong, 1)); !strings.Contains(got, "不对") {
			t.Fatalf("wrong digits = %q", got)
		}
		got := mustHandle(t, club, m, text(clock, openid, claimed.Phone[7:], 2))
		for _, want := range []string{"激活成功", "100积分", "新人茶包", "券码", "300 积分"} {
			if !strings.Contains(got, want) {
				t.Fatalf("activation reply lacks %q:\n%s", want, got)
			}
		}
		if got := mustHandle(t, club, m, text(clock, openid, claimed.Phone[7:], 3)); !strings.Contains(got, "已经激活") && !strings.Contains(got, "收到") {
			t.Fatalf("activating again = %q", got)
		}
		member, _ := db.Members().ByOpenID(ctx, m.ID, openid)
		if member.Points != 300 || member.Funnel.ActivatedAt == nil {
			t.Fatalf("after activation: %d points, activated %v; want 300 (the gift once)", member.Points, member.Funnel.ActivatedAt)
		}
		coupons, err := club.Coupons(ctx, m, openid)
		if err != nil || len(coupons) != 1 || coupons[0].RewardKey != "welcome-tea" {
			t.Fatalf("coupons = %+v, %v; want the gift pack's tea", coupons, err)
		}
		purposes := map[string]int{}
		msgs, _ := db.Outbox().ForMember(ctx, member.ID, 50)
		for _, msg := range msgs {
			purposes[msg.Purpose]++
		}
		if purposes[ritual.PurposeGiftGranted] != 1 {
			t.Fatalf("outbox purposes %v, want one gift_granted message", purposes)
		}
		checkBalanced(t, db, m)
	})
}

func TestBirthdayActivation(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
		m := ritualtest.Merchant(ritual.ModeCompatible)
		m.Activation.Method = ritual.ActivateBirthday
		if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
			t.Fatal(err)
		}
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		if got := mustHandle(t, club, m, text(clock, openid, "2月30日", 1)); strings.Contains(got, "激活成功") {
			t.Fatal("an impossible birthday activated")
		}
		if got := mustHandle(t, club, m, text(clock, openid, "5月20日", 2)); !strings.Contains(got, "激活成功") {
			t.Fatalf("birthday = %q, want activation", got)
		}
		member, _ := db.Members().ByOpenID(context.Background(), m.ID, openid)
		if member.Birthday != "05-20" {
			t.Fatalf("birthday stored as %q, want 05-20", member.Birthday)
		}
	})
}

func TestFunnel(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		start := clock.Now()
		// Four buyers: all recognized; three scan (an hour later); two
		// activate (two hours after scanning); one orders again.
		var members []*ritual.Member
		for i := range 4 {
			members = append(members, buyer(t, club, db, m, fmt.Sprintf("FN%d", i), 10000))
		}
		clock.Advance(time.Hour)
		openids := make([]string, 4)
		for i := range 3 {
			openids[i] = ritualtest.RandomID("o")
			mustHandle(t, club, m, scanEvent(clock, openids[i], "claim:"+members[i].ClaimCode, false))
		}
		clock.Advance(2 * time.Hour)
		for i := range 2 {
			mustHandle(t, club, m, text(clock, openids[i], members[i].Phone[7:], int64(i+1)))
		}
		clock.Advance(24 * time.Hour)
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "FN-again", OpenID: openids[0], AmountFen: 100})
		coupons, _ := club.Coupons(ctx, m, openids[0])
		if _, err := club.UseCoupon(ctx, m, coupons[0].Code); err != nil {
			t.Fatal(err)
		}

		report, err := club.Funnel(ctx, m, start.Add(-time.Minute), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"recognized": 4, "card_scanned": 3, "followed": 3, "activated": 2, "benefit_claimed": 1, "first_repeat_order": 1}
		for _, s := range report.Stages {
			if s.Members != want[s.Stage] {
				t.Errorf("%s: %d members, want %d", s.Stage, s.Members, want[s.Stage])
			}
		}
		scanned, activated := report.Stages[1], report.Stages[3]
		if scanned.Conversion == nil || *scanned.Conversion != 0.75 || scanned.MedianSeconds == nil || *scanned.MedianSeconds != 3600 {
			t.Fatalf("card_scanned = %+v, want 75%% after a median hour", scanned)
		}
		if *activated.MedianSeconds != 7200 {
			t.Fatalf("activated median %v s, want 7200", *activated.MedianSeconds)
		}
		empty, _ := club.Funnel(ctx, m, start.Add(-48*time.Hour), start.Add(-24*time.Hour))
		if empty.Stages[0].Members != 0 || empty.Stages[1].Conversion != nil {
			t.Fatalf("an empty window = %+v", empty.Stages[:2])
		}
	})
}

// wrongDigits returns n different four-digit guesses, none the end of phone.
func wrongDigits(phone string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if d := fmt.Sprintf("%04d", i*7+1); !strings.HasSuffix(phone, d) {
			out = append(out, d)
		}
	}
	return out
}

// concurrently sends each message at once and returns the replies.
func concurrently(t *testing.T, club *ritual.Club, m *ritual.Merchant, msgs []ritual.InboundMessage) []string {
	t.Helper()
	replies := make([]string, len(msgs))
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, msg := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r ritual.Reply
			r, errs[i] = club.HandleMessage(context.Background(), m, msg)
			replies[i] = r.Text
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return replies
}

func TestCodeAloneShowsAndSpendsNothing(t *testing.T) {
	for _, method := range []string{ritual.ActivatePhoneLast4, ritual.ActivateBirthday} {
		t.Run(method, func(t *testing.T) {
			clock := &ritualtest.Clock{}
			modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
				club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
				m := ritualtest.Merchant(ritual.ModeCompatible)
				m.Activation.Method = method
				if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				claimed := buyer(t, club, db, m, "SN1", 40000) // 400 points: enough for a 10元券
				stranger := ritualtest.RandomID("o")
				if got := mustHandle(t, club, m, scanEvent(clock, stranger, "claim:"+claimed.ClaimCode, false)); !strings.Contains(got, "后4位") {
					t.Fatalf("binding by code = %q, want to be asked for the order phone's last four digits", got)
				}
				for i, say := range []string{"积分", "兑换", "兑换 10元券", "签到", "补签", "邀请", "绑定", "5月20日", "1990-05-20"} {
					clock.Advance(time.Minute)
					got := mustHandle(t, club, m, text(clock, stranger, say, int64(100+i)))
					if strings.Contains(got, "400") || strings.Contains(got, "券码") || strings.Contains(got, "激活成功") || strings.Contains(got, "签到成功") {
						t.Fatalf("%q from a WeChat user bound by code alone = %q: shows or moves the buyer's points", say, got)
					}
					if say == "积分" && !strings.Contains(got, "后4位") {
						t.Fatalf("积分 before the proof = %q, want how to activate", got)
					}
				}
				member, err := db.Members().ByID(ctx, claimed.ID)
				if err != nil || member.Points != 400 || member.Funnel.ActivatedAt != nil {
					t.Fatalf("the buyer's membership is %+v (%v), want 400 points, not activated", member, err)
				}
				if coupons, _ := club.Coupons(ctx, m, stranger); len(coupons) != 0 {
					t.Fatalf("the stranger holds coupons %+v", coupons)
				}
				msgs, _ := db.Outbox().ForMember(ctx, claimed.ID, 50)
				for _, msg := range msgs {
					if msg.Status != ritual.OutboxWaitingFollow && msg.Status != ritual.OutboxMerged {
						t.Fatalf("message %s is %s: it would tell the stranger the buyer's balance", msg.Purpose, msg.Status)
					}
				}
				checkBalanced(t, db, m)
			})
		})
	}
}

func TestBuyerTakesTheCardBack(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		claimed := buyer(t, club, db, m, "TB1", 20000)
		stranger, owner := ritualtest.RandomID("o"), ritualtest.RandomID("o")
		mustHandle(t, club, m, scanEvent(clock, stranger, "claim:"+claimed.ClaimCode, false))

		clock.Advance(time.Hour)
		got := mustHandle(t, club, m, scanEvent(clock, owner, "claim:"+claimed.ClaimCode, false))
		if !strings.Contains(got, claimed.ClaimCode+" 1234") {
			t.Fatalf("the buyer's scan of a card bound by someone else = %q, want how to take it back", got)
		}
		if got := mustHandle(t, club, m, text(clock, owner, claimed.ClaimCode+" "+wrongDigits(claimed.Phone, 1)[0], 1)); !strings.Contains(got, "不对") {
			t.Fatalf("taking back with wrong digits = %q", got)
		}
		if got := mustHandle(t, club, m, text(clock, owner, strings.ToLower(claimed.ClaimCode)+" "+claimed.Phone[7:], 2)); !strings.Contains(got, "激活成功") {
			t.Fatalf("taking back with the order phone's digits = %q, want activation", got)
		}
		bound, err := db.Members().ByOpenID(ctx, m.ID, owner)
		if err != nil || bound.ID != claimed.ID || bound.Points != 300 || bound.Funnel.ActivatedAt == nil {
			t.Fatalf("the buyer is %+v (%v), want the card's membership, activated, 300 points", bound, err)
		}
		if got := mustHandle(t, club, m, text(clock, owner, "积分", 3)); !strings.Contains(got, "300") {
			t.Fatalf("the buyer's 积分 = %q, want 300", got)
		}
		if got := mustHandle(t, club, m, text(clock, stranger, "积分", 4)); strings.Contains(got, "300") {
			t.Fatalf("the stranger still sees the buyer's balance: %q", got)
		}
		if s, err := db.Members().ByOpenID(ctx, m.ID, stranger); err != nil || s.ID == claimed.ID || s.Points != 0 {
			t.Fatalf("the stranger is %+v (%v), want a member of their own with nothing", s, err)
		}
		// Once proven, the card is the buyer's: the code and the digits do not take it again.
		other := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, other, ""))
		if got := mustHandle(t, club, m, text(clock, other, claimed.ClaimCode+" "+claimed.Phone[7:], 5)); !strings.Contains(got, "另一个微信号") {
			t.Fatalf("taking an activated card = %q, want refused", got)
		}
		msgs, _ := db.Outbox().ForMember(ctx, claimed.ID, 50)
		for _, msg := range msgs {
			if msg.Status == ritual.OutboxWaitingFollow {
				t.Fatalf("message %s still waits after the proof", msg.Purpose)
			}
		}
		checkBalanced(t, db, m)
	})
}

func TestProofGuessesAreLimitedPerMembership(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		claimed := buyer(t, club, db, m, "PL1", 20000)
		mustHandle(t, club, m, scanEvent(clock, ritualtest.RandomID("o"), "claim:"+claimed.ClaimCode, false))
		// Eight WeChat accounts guess the digits at once, one try each.
		var msgs []ritual.InboundMessage
		for i, d := range wrongDigits(claimed.Phone, 8) {
			openid := ritualtest.RandomID("o")
			mustHandle(t, club, m, subscribe(clock, openid, ""))
			msgs = append(msgs, text(clock, openid, claimed.ClaimCode+" "+d, int64(i+1)))
		}
		mismatched, locked := 0, 0
		for _, got := range concurrently(t, club, m, msgs) {
			switch {
			case strings.Contains(got, "不对"):
				mismatched++
			case strings.Contains(got, "30 天"):
				locked++
			default:
				t.Fatalf("a guess got %q", got)
			}
		}
		if mismatched != 5 || locked != 3 {
			t.Fatalf("%d guesses checked and %d refused, want 5 and 3 (five a month per card)", mismatched, locked)
		}
		owner := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, owner, ""))
		if got := mustHandle(t, club, m, text(clock, owner, claimed.ClaimCode+" "+claimed.Phone[7:], 20)); !strings.Contains(got, "30 天") {
			t.Fatalf("the right digits past the limit = %q, want refused too (else the limit tells the answer)", got)
		}
		clock.Advance(31 * 24 * time.Hour)
		if got := mustHandle(t, club, m, text(clock, owner, claimed.ClaimCode+" "+claimed.Phone[7:], 21)); !strings.Contains(got, "激活成功") {
			t.Fatalf("a month later = %q, want the buyer to take the card", got)
		}
	})
}

func TestTypedCodesAreLimitedPerMerchant(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		claimed := buyer(t, club, db, m, "TL1", 20000)
		// Seventy WeChat accounts each guess one code at once.
		var msgs []ritual.InboundMessage
		for i := range 70 {
			openid := ritualtest.RandomID("o")
			mustHandle(t, club, m, subscribe(clock, openid, ""))
			guess := fmt.Sprintf("ZZZ%c%c%c", "23456789"[i/64], "23456789"[i/8%8], "23456789"[i%8])
			msgs = append(msgs, text(clock, openid, guess, int64(i+1)))
		}
		unknown, slowed := 0, 0
		for _, got := range concurrently(t, club, m, msgs) {
			switch {
			case strings.Contains(got, "没有找到"):
				unknown++
			case strings.Contains(got, "一小时后再试"):
				slowed++
			default:
				t.Fatalf("a guess got %q", got)
			}
		}
		if unknown != 60 || slowed != 10 {
			t.Fatalf("%d guesses answered and %d slowed, want 60 and 10 (sixty an hour per merchant)", unknown, slowed)
		}
		typist := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, typist, ""))
		if got := mustHandle(t, club, m, text(clock, typist, claimed.ClaimCode, 100)); !strings.Contains(got, "一小时后再试") {
			t.Fatalf("a live code past the limit = %q, want the same answer as a dead one", got)
		}
		// Scanning the card is no guess: the QR code was made for a real card.
		if got := mustHandle(t, club, m, scanEvent(clock, typist, "claim:"+claimed.ClaimCode, true)); !strings.Contains(got, "你已经是") {
			t.Fatalf("scanning past the typing limit = %q, want the card bound", got)
		}
	})
}
