package ritual_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// groupStart is a Tuesday, 10:00 in Shanghai: the week began on Monday
// 2026-11-23 00:00 Shanghai (2026-11-22 16:00 UTC).
var groupStart = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

// groupEnv is a club whose merchant has a group bridge, one of its groups,
// and helpers to speak in it.
type groupEnv struct {
	t     *testing.T
	db    *models.DB
	club  *ritual.Club
	clock *ritualtest.Clock
	m     *ritual.Merchant
	group string
}

// groupMerchant is a merchant with a bridge, the operator "op-1", 10
// points a sign-in, 50 more on the day a streak reaches 3, and 补签 at 20.
func groupMerchant(edit func(m *ritual.Merchant)) *ritual.Merchant {
	m := ritualtest.Merchant(ritual.ModeCompatible)
	m.Groups = ritual.Groups{Secret: "group-secret-" + m.ID, Operators: []string{"op-1"}}
	m.SignIn = ritual.SignIn{Points: 10, Streaks: []ritual.StreakBonus{{Days: 3, Points: 50}}, MakeupCost: 20}
	if edit != nil {
		edit(m)
	}
	return m
}

func newGroupEnv(t *testing.T, db *models.DB, clock *ritualtest.Clock, edit func(m *ritual.Merchant)) *groupEnv {
	t.Helper()
	clock.Set(groupStart)
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := groupMerchant(edit)
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return &groupEnv{t: t, db: db, club: club, clock: clock, m: m, group: ritualtest.RandomID("g")}
}

var groupMsgs atomic.Int64

func nextGroupMsgID() string { return fmt.Sprintf("gm-%d", groupMsgs.Add(1)) }

// message is text from sender in the env's group.
func (e *groupEnv) message(msgID, sender, nickname, text string) ritual.GroupMessage {
	return ritual.GroupMessage{MsgID: msgID, GroupID: e.group, GroupName: "茶友一群", Sender: ritual.Sender{ID: sender, Nickname: nickname},
		Text: text, Time: e.clock.Now()}
}

// sayIn has sender write text in group and returns the replies, joined.
func (e *groupEnv) sayIn(group, sender, text string) string {
	e.t.Helper()
	msg := e.message(nextGroupMsgID(), sender, "昵称"+sender, text)
	msg.GroupID = group
	replies, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
	if err != nil {
		e.t.Fatalf("%s says %q: %v", sender, text, err)
	}
	return joinReplies(replies)
}

func (e *groupEnv) say(sender, text string) string {
	e.t.Helper()
	return e.sayIn(e.group, sender, text)
}

func joinReplies(replies []ritual.Reply) string {
	texts := make([]string, len(replies))
	for i, r := range replies {
		texts[i] = r.Text
	}
	return strings.Join(texts, "\n")
}

// follower returns the openid of a new member who follows the account.
func (e *groupEnv) follower() string {
	e.t.Helper()
	openid := ritualtest.RandomID("o")
	mustHandle(e.t, e.club, e.m, subscribe(e.clock, openid, ""))
	return openid
}

var linkCodeInReply = regexp.MustCompile(`绑定码：([A-Z0-9]{6})`)

// linkCode asks the official account for a 绑定 code for openid.
func (e *groupEnv) linkCode(openid string) (code, reply string) {
	e.t.Helper()
	r := mustHandle(e.t, e.club, e.m, text(e.clock, openid, "绑定", nextMsgID()))
	if m := linkCodeInReply.FindStringSubmatch(r); m != nil {
		return m[1], r
	}
	return "", r
}

// linked returns a following member linked to sender.
func (e *groupEnv) linked(sender string) string {
	e.t.Helper()
	openid := e.follower()
	code, reply := e.linkCode(openid)
	if code == "" {
		e.t.Fatalf("绑定 on the official account = %q, want a code", reply)
	}
	if got := e.say(sender, "绑定 "+code); !strings.Contains(got, "绑定成功") {
		e.t.Fatalf("绑定 %s in the group = %q", code, got)
	}
	return openid
}

func (e *groupEnv) member(openid string) *ritual.Member {
	e.t.Helper()
	member, err := e.db.Members().ByOpenID(context.Background(), e.m.ID, openid)
	if err != nil {
		e.t.Fatal(err)
	}
	return member
}

// entries returns the member's ledger entries from source.
func (e *groupEnv) entries(openid, source string) []*ritual.PointsEntry {
	e.t.Helper()
	all, err := e.db.Ledger().Entries(context.Background(), e.member(openid).ID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*ritual.PointsEntry
	for _, en := range all {
		if en.Source == source {
			out = append(out, en)
		}
	}
	return out
}

func TestLinkingAGroupSender(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		ctx := context.Background()
		openid := e.follower()

		if got := e.say("wx-anna", "签到"); !strings.Contains(got, "回复「绑定」") {
			t.Fatalf("签到 before linking = %q, want how to link", got)
		}
		code, reply := e.linkCode(openid)
		if code == "" || !strings.Contains(reply, "绑定 "+code) || !strings.Contains(reply, "10分钟") {
			t.Fatalf("绑定 on the official account = %q, want a code to post and its life", reply)
		}
		if again, _ := e.linkCode(openid); again != code {
			t.Fatalf("asking twice gave %s then %s; an unused code is given again", code, again)
		}
		if got := e.say("wx-anna", "绑定 "+strings.ToLower(code)); !strings.Contains(got, "绑定成功") {
			t.Fatalf("绑定 with the code = %q", got)
		}
		link, err := db.GroupLinks().LinkOfSender(ctx, e.m.ID, "wx-anna")
		if err != nil || link.MemberID != e.member(openid).ID {
			t.Fatalf("link = %+v, %v; want wx-anna linked to the member", link, err)
		}
		if got := e.say("wx-anna", "绑定 "+code); !strings.Contains(got, "已经绑定过") {
			t.Fatalf("绑定 again = %q, want already linked", got)
		}
		if _, reply := e.linkCode(openid); !strings.Contains(reply, "已经绑定") {
			t.Fatalf("绑定 on the official account once linked = %q", reply)
		}

		t.Run("a code works once", func(t *testing.T) {
			if got := e.say("wx-bob", "绑定 "+code); !strings.Contains(got, "已经用过") {
				t.Fatalf("the used code from another sender = %q, want refused", got)
			}
			assertUnlinked(t, db, e.m, "wx-bob")
		})
		t.Run("codes expire", func(t *testing.T) {
			other := e.follower()
			code, _ := e.linkCode(other)
			clock.Advance(10*time.Minute + time.Second)
			if got := e.say("wx-carl", "绑定 "+code); !strings.Contains(got, "过期") {
				t.Fatalf("an expired code = %q, want expired", got)
			}
			assertUnlinked(t, db, e.m, "wx-carl")
			fresh, _ := e.linkCode(other)
			if fresh == code {
				t.Fatal("after expiry the same code was given again")
			}
			if got := e.say("wx-carl", "绑定 "+fresh); !strings.Contains(got, "绑定成功") {
				t.Fatalf("a fresh code = %q", got)
			}
		})
		t.Run("unknown and other merchants' codes", func(t *testing.T) {
			if got := e.say("wx-dora", "绑定 ZZZZ99"); !strings.Contains(got, "不对") {
				t.Fatalf("an unknown code = %q", got)
			}
			other := newGroupEnv(t, db, clock, nil)
			theirs, _ := other.linkCode(other.follower())
			if got := e.say("wx-dora", "绑定 "+theirs); !strings.Contains(got, "不对") {
				t.Fatalf("another merchant's code = %q, want unknown here", got)
			}
			assertUnlinked(t, db, e.m, "wx-dora")
		})
		t.Run("one sender is one member", func(t *testing.T) {
			// wx-anna is linked; a code of another member posted by
			// wx-anna does not move the link.
			other := e.follower()
			code, _ := e.linkCode(other)
			if got := e.say("wx-anna", "绑定 "+code); !strings.Contains(got, "已经绑定过") {
				t.Fatalf("a linked sender posting another member's code = %q", got)
			}
			if link, _ := db.GroupLinks().LinkOfSender(ctx, e.m.ID, "wx-anna"); link.MemberID != e.member(openid).ID {
				t.Fatal("the link moved")
			}
		})
		t.Run("guessing is slowed down", func(t *testing.T) {
			for i := range 5 {
				e.say("wx-eve", fmt.Sprintf("绑定 AAAA%02d", i))
			}
			good, _ := e.linkCode(e.follower())
			if got := e.say("wx-eve", "绑定 "+good); !strings.Contains(got, "一小时后") {
				t.Fatalf("the sixth try in an hour = %q, want slowed down", got)
			}
		})
	})
}

func assertUnlinked(t *testing.T, db *models.DB, m *ritual.Merchant, sender string) {
	t.Helper()
	if link, err := db.GroupLinks().LinkOfSender(context.Background(), m.ID, sender); ritual.ErrorCode(err) != ritual.ENOTFOUND {
		t.Fatalf("%s is linked: %+v, %v", sender, link, err)
	}
}

func TestConcurrentLinksOfOneCode(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		code, _ := e.linkCode(e.follower())
		const n = 8
		var wg sync.WaitGroup
		replies := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := e.message(nextGroupMsgID(), fmt.Sprintf("wx-racer-%d", i), "racer", "绑定 "+code)
				r, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
				if err != nil {
					t.Errorf("racer %d: %v", i, err)
				}
				replies[i] = joinReplies(r)
			}()
		}
		wg.Wait()
		won := 0
		for _, r := range replies {
			if strings.Contains(r, "绑定成功") {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d senders linked with one code, want 1: %q", won, replies)
		}
	})
}

func TestRepeatedGroupMessageHasNoSecondEffect(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		openid := e.linked("wx-anna")
		msg := e.message(nextGroupMsgID(), "wx-anna", "安娜", "签到")
		first, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
		if err != nil || len(first) != 1 || !strings.Contains(first[0].Text, "签到成功") {
			t.Fatalf("签到 = %v, %v", first, err)
		}
		// The next day the bridge retries the same message: a new day, but
		// the same delivery.
		clock.Advance(24 * time.Hour)
		again, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
		if err != nil || joinReplies(again) != joinReplies(first) {
			t.Fatalf("repeat = %v, %v; want the first replies %v", again, err, first)
		}
		if got := e.member(openid).Points; got != 10 {
			t.Fatalf("points after a repeated 签到 = %d, want 10", got)
		}

		// Twenty copies of one new message at once: one sign-in.
		msg = e.message(nextGroupMsgID(), "wx-anna", "安娜", "签到")
		const n = 20
		out := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
				if err != nil {
					t.Errorf("copy %d: %v", i, err)
				}
				out[i] = joinReplies(r)
			}()
		}
		wg.Wait()
		for i := range n {
			if out[i] != out[0] || !strings.Contains(out[0], "连续签到2天") {
				t.Fatalf("copy %d = %q, copy 0 = %q; want the same sign-in reply for every copy", i, out[i], out[0])
			}
		}
		if got := e.member(openid).Points; got != 20 {
			t.Fatalf("points after 20 copies = %d, want 20", got)
		}
		if got := len(e.entries(openid, ritual.SourceSignIn)); got != 2 {
			t.Fatalf("%d sign-in entries, want 2", got)
		}

		// Chatter is stored too, as an empty answer.
		chat := e.message(nextGroupMsgID(), "wx-anna", "安娜", "今天的茶真好喝")
		for range 2 {
			if r, err := e.club.HandleGroupMessage(context.Background(), e.m, chat); err != nil || r == nil || len(r) != 0 {
				t.Fatalf("chatter = %#v, %v; want an empty, non-nil answer", r, err)
			}
		}
	})
}

func TestHundredMembersSignInAtOnce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		const n = 100
		openids := make([]string, n)
		for i := range n {
			openids[i] = e.linked(fmt.Sprintf("wx-m%03d", i))
		}
		var wg sync.WaitGroup
		replies := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := e.message(nextGroupMsgID(), fmt.Sprintf("wx-m%03d", i), "群友", "签到")
				r, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
				if err != nil {
					t.Errorf("member %d: %v", i, err)
				}
				replies[i] = joinReplies(r)
			}()
		}
		wg.Wait()
		for i, openid := range openids {
			if !strings.Contains(replies[i], "签到成功") {
				t.Fatalf("member %d: %q", i, replies[i])
			}
			if got := e.member(openid).Points; got != 10 {
				t.Fatalf("member %d has %d points, want 10", i, got)
			}
			if got := len(e.entries(openid, ritual.SourceSignIn)); got != 1 {
				t.Fatalf("member %d has %d sign-in entries, want 1", i, got)
			}
		}
		checkBalanced(t, db, e.m)
	})
}

func TestPointsInAGroupArePrivate(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		openid := e.linked("wx-anna")
		mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("o"), OpenID: openid, AmountFen: 73900}) // 739 points
		balance := e.member(openid).Points
		msg := e.message(nextGroupMsgID(), "wx-anna", "安娜", "积分")
		replies, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
		if err != nil {
			t.Fatal(err)
		}
		got := joinReplies(replies)
		if !strings.Contains(got, "私信") || strings.ContainsAny(got, "0123456789") {
			t.Fatalf("积分 in the group = %q, want a pointer to the private message and no digits", got)
		}
		var private *ritual.OutboxMessage
		msgs, err := db.Outbox().ForMember(context.Background(), e.member(openid).ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Purpose == ritual.PurposeCustomText {
				private = m
			}
		}
		if private == nil || !strings.Contains(private.Notice.Reason, fmt.Sprint(balance)) || private.Status != ritual.OutboxPending {
			t.Fatalf("custom_text outbox row = %+v, want a pending one with the balance %d", private, balance)
		}
		// A repeat of the same message queues nothing more.
		if _, err := e.club.HandleGroupMessage(context.Background(), e.m, msg); err != nil {
			t.Fatal(err)
		}
		again, _ := db.Outbox().ForMember(context.Background(), e.member(openid).ID, 50)
		if len(again) != len(msgs) {
			t.Fatalf("outbox grew from %d to %d on a repeat", len(msgs), len(again))
		}

		if got := e.say("wx-bob", "积分"); !strings.Contains(got, "绑定") {
			t.Fatalf("积分 by an unlinked sender = %q, want how to link", got)
		}

		public := newGroupEnv(t, db, clock, func(m *ritual.Merchant) { m.Groups.ShowBalances = true })
		carl := public.linked("wx-carl")
		mustOrder(t, public.club, public.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("o"), OpenID: carl, AmountFen: 12300})
		if got := public.say("wx-carl", "积分"); !strings.Contains(got, "123 积分") {
			t.Fatalf("积分 with show_balances = %q, want the balance", got)
		}
	})
}

func TestGroupLeaderboard(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, func(m *ritual.Merchant) { m.SignIn.Points = 0 })
		earn := func(openid string, fen int64) {
			mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("b"), OpenID: openid, AmountFen: fen})
		}
		if got := e.say("wx-anna", "排行"); !strings.Contains(got, "还没有人") {
			t.Fatalf("an empty board = %q", got)
		}
		anna := e.linked("wx-anna") // the earlier member: first on a tie
		bob := e.linked("wx-bob")
		carl := e.linked("wx-carl")
		dora := e.linked("wx-dora")
		other := e.group
		e.group = ritualtest.RandomID("g")
		eve := e.linked("wx-eve") // speaks only in another group
		e.group = other

		clock.Set(time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)) // Sunday 23:00 Shanghai: last week
		earn(dora, 90000)
		earn(anna, 50000)
		clock.Set(time.Date(2026, 11, 22, 16, 30, 0, 0, time.UTC)) // Monday 00:30 Shanghai: this week
		earn(bob, 3000)
		earn(carl, 1000)
		clock.Set(groupStart)
		earn(anna, 3000)
		earn(eve, 100000)
		// Spending does not lower what was earned this week.
		spend(t, e.club, e.m, anna, 200, "spend-1")

		board := e.say("wx-carl", "排行")
		lines := strings.Split(board, "\n")
		want := []string{"1. 昵称wx-anna +30", "2. 昵称wx-bob +30", "3. 昵称wx-carl +10"}
		if len(lines) != len(want)+2 || !strings.Contains(lines[0], "本周积分榜") || !strings.Contains(lines[len(lines)-1], "同分") {
			t.Fatalf("board = %q, want a title, three places and the tie rule", board)
		}
		for i, w := range want {
			if lines[i+1] != w {
				t.Fatalf("place %d = %q, want %q (board %q)", i+1, lines[i+1], w, board)
			}
		}
		for _, leak := range []string{anna, bob, carl, "wx-dora", "wx-eve", "昵称wx-eve", fmt.Sprint(e.member(anna).Points)} {
			if strings.Contains(board, leak) {
				t.Fatalf("board shows %q: %q", leak, board)
			}
		}
	})
}

func TestGroupActivities(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, func(m *ritual.Merchant) { m.SignIn.Points = 0 })
		anna, bob := e.linked("wx-anna"), e.linked("wx-bob")
		carl := e.linked("wx-carl")

		if got := e.say("wx-anna", "#活动 品茶会 积分=30 名额=2 截止=12-01"); !strings.Contains(got, "管理员") {
			t.Fatalf("#活动 by a member = %q, want refused politely", got)
		}
		if got := e.say("op-1", "#活动 品茶会 积分=30 截止=12-01"); !strings.Contains(got, "名额") {
			t.Fatalf("#活动 without 名额 = %q, want what is missing", got)
		}
		if got := e.say("op-1", "#活动 品茶会 积分=30 名额=2 截止=2026-11-20 10:00"); !strings.Contains(got, "已经过了") {
			t.Fatalf("#活动 with a past deadline = %q", got)
		}
		created := e.say("op-1", "#活动 品茶会 积分=30 名额=2 截止=2026-12-01 20:00")
		if !strings.Contains(created, "品茶会") || !strings.Contains(created, "12-01 20:00") || !strings.Contains(created, "报名 品茶会") {
			t.Fatalf("#活动 = %q", created)
		}
		if got := e.say("op-1", "#活动 品茶会 积分=10 名额=5 截止=12-02"); !strings.Contains(got, "还没确认") {
			t.Fatalf("a second open 品茶会 = %q, want refused", got)
		}

		if got := e.say("wx-anna", "报名 品茶会"); !strings.Contains(got, "报名成功") || !strings.Contains(got, "1/2") {
			t.Fatalf("报名 = %q", got)
		}
		if got := e.say("wx-anna", "报名 品茶会"); !strings.Contains(got, "已经报名") {
			t.Fatalf("报名 twice = %q", got)
		}
		if got := e.say("wx-stranger", "报名 品茶会"); !strings.Contains(got, "绑定") {
			t.Fatalf("报名 by an unlinked sender = %q, want how to link", got)
		}
		if got := e.say("wx-bob", "报名 茶山行"); !strings.Contains(got, "没有找到") {
			t.Fatalf("报名 for an unknown activity = %q", got)
		}
		e.say("wx-bob", "报名 品茶会")
		if got := e.say("wx-carl", "报名 品茶会"); !strings.Contains(got, "报满") {
			t.Fatalf("报名 when full = %q", got)
		}

		if got := e.say("wx-anna", "#确认 品茶会"); !strings.Contains(got, "管理员") {
			t.Fatalf("#确认 by a member = %q", got)
		}
		if got := e.say("op-1", "#确认 品茶会"); !strings.Contains(got, "2位参与者") || !strings.Contains(got, "30积分") {
			t.Fatalf("#确认 = %q", got)
		}
		if got := e.say("op-1", "#确认 品茶会"); !strings.Contains(got, "已经确认过") {
			t.Fatalf("#确认 twice = %q", got)
		}
		for _, who := range []string{anna, bob} {
			if n, p := len(e.entries(who, ritual.SourceActivity)), e.member(who).Points; n != 1 || p != 30 {
				t.Fatalf("a participant has %d activity entries and %d points, want 1 and 30", n, p)
			}
		}
		if p := e.member(carl).Points; p != 0 {
			t.Fatalf("the one who found it full has %d points", p)
		}
		if got := e.say("wx-carl", "报名 品茶会"); !strings.Contains(got, "截止") {
			t.Fatalf("报名 after #确认 = %q, want closed", got)
		}
		checkBalanced(t, db, e.m)

		// A confirmed title is free again; its deadline closes joins.
		if got := e.say("op-1", "#活动 品茶会 积分=5 名额=10 截止=11-25"); !strings.Contains(got, "新活动") {
			t.Fatalf("a new 品茶会 after the first was confirmed = %q", got)
		}
		clock.Set(time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)) // 11-26 00:00 Shanghai
		if got := e.say("wx-carl", "报名 品茶会"); !strings.Contains(got, "截止") {
			t.Fatalf("报名 after the deadline = %q, want closed", got)
		}
	})
}

func TestConcurrentJoinsForTheLastSeat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		const n = 10
		for i := range n {
			e.linked(fmt.Sprintf("wx-j%d", i))
		}
		e.say("op-1", "#活动 最后一席 积分=10 名额=1 截止=12-31")
		var wg sync.WaitGroup
		replies := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := e.message(nextGroupMsgID(), fmt.Sprintf("wx-j%d", i), "群友", "报名 最后一席")
				r, err := e.club.HandleGroupMessage(context.Background(), e.m, msg)
				if err != nil {
					t.Errorf("joiner %d: %v", i, err)
				}
				replies[i] = joinReplies(r)
			}()
		}
		wg.Wait()
		won, full := 0, 0
		for _, r := range replies {
			switch {
			case strings.Contains(r, "报名成功"):
				won++
			case strings.Contains(r, "报满"):
				full++
			}
		}
		if won != 1 || full != n-1 {
			t.Fatalf("%d joined and %d found it full, want 1 and %d: %q", won, full, n-1, replies)
		}
		a, err := db.Activities().LatestActivity(context.Background(), e.m.ID, e.group, "最后一席")
		if err != nil || a.Joined != 1 {
			t.Fatalf("activity = %+v, %v; want one seat taken", a, err)
		}
	})
}

func TestParseActivityDeadlines(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		for text, want := range map[string]string{
			"#活动 一 积分=1 名额=1 截止=2026-12-01":       "12-01 24:00", // the whole day, on the day written
			"#活动 二 名额=1 截止=12-01 20:00 积分=1":      "12-01 20:00",
			"#活动 三 积分=1 名额=1 截止=11-01":            "2027-11-01 24:00", // passed this year: next year's
			"#活动 四 五 积分＝1 名额：3 截止=2026/12/1 8:30": "12-01 08:30",
			"#活动 六 积分=1 名额=1 截止=12-20":            "12-20 24:00",
			"#活动 七 积分=1 名额=1 截止=12-21 00:00":      "12-20 24:00", // the same moment, read the same way
		} {
			got := e.say("op-1", text)
			if !strings.Contains(got, want) {
				t.Errorf("%q = %q, want the deadline %s", text, got, want)
			}
		}
		a, err := db.Activities().LatestActivity(context.Background(), e.m.ID, e.group, "三")
		if err != nil || a.Deadline.Year() != 2027 {
			t.Fatalf("三 = %+v, %v; want next year's 11-01", a, err)
		}
		if a, err := db.Activities().LatestActivity(context.Background(), e.m.ID, e.group, "四 五"); err != nil || a.Capacity != 3 {
			t.Fatalf("四 五 = %+v, %v; want a two-word title and 名额 3", a, err)
		}
	})
}

func TestGroupsOfMemberAndAPI(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		ctx := context.Background()
		first := e.group
		anna := e.linked("wx-anna")
		e.say("wx-bob", "大家好")
		clock.Advance(time.Minute)
		second := ritualtest.RandomID("g")
		e.sayIn(second, "wx-anna", "hi")

		groups, err := db.Groups().GroupsOfMember(ctx, e.m.ID, e.member(anna).ID)
		if err != nil || len(groups) != 2 {
			t.Fatalf("GroupsOfMember = %v, %v; want both groups", groups, err)
		}
		list, err := e.club.ListGroups(ctx, e.m)
		if err != nil || len(list) != 2 || list[0].ID != first || list[0].Members != 2 || list[0].LinkedMembers != 1 || list[0].Name != "茶友一群" {
			t.Fatalf("ListGroups = %+v, %v", list, err)
		}
		members, err := e.club.GroupMembers(ctx, e.m, first)
		if err != nil || len(members) != 2 {
			t.Fatalf("GroupMembers = %+v, %v", members, err)
		}
		if a := members[0]; a.SenderID != "wx-anna" || !a.Linked || a.OpenID != anna || a.Level != "茶苗" || a.Nickname != "昵称wx-anna" {
			t.Fatalf("linked sender = %+v", a)
		}
		if b := members[1]; b.Linked || b.OpenID != "" || b.Level != "" {
			t.Fatalf("unlinked sender = %+v", b)
		}
		other := newGroupEnv(t, db, clock, nil)
		if _, err := other.club.GroupMembers(ctx, other.m, first); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("another merchant's group: %v, want ENOTFOUND", err)
		}
	})
}

func TestSyncTagThroughWeChat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		wx.clock.Set(clock.Now())
		a := e.m.OfficialAccount
		if err := wx.emu.Register(emulator.Account{Name: e.m.ID, AppID: a.AppID, AppSecret: a.AppSecret, Token: a.Token, EncodingAESKey: a.EncodingAESKey}); err != nil {
			t.Fatal(err)
		}
		client := wechat.NewClient(wechat.ClientOptions{})
		ctx := context.Background()
		var members []string
		for i := range 55 { // more than one batch
			openid := e.linked(fmt.Sprintf("wx-t%02d", i))
			wx.emu.SetFollowing(a.AppID, openid, true)
			members = append(members, openid)
		}
		// One member carries WeChat's 20 tags already.
		full := members[7]
		for i := range 20 {
			tag, err := client.CreateTag(ctx, e.m, fmt.Sprintf("旧标签%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if err := client.TagUsers(ctx, e.m, tag.ID, []string{full}); err != nil {
				t.Fatal(err)
			}
		}
		report, err := e.club.SyncTag(ctx, e.m, client, ritual.TagSyncRequest{GroupID: e.group})
		if err != nil {
			t.Fatal(err)
		}
		if !report.Created || report.Tag.Name != "茶友一群" || report.Audience != 55 || report.Tagged != 54 ||
			len(report.Skipped) != 1 || report.Skipped[0].OpenID != full || report.Skipped[0].ErrCode != 45059 {
			t.Fatalf("report = %+v", report)
		}
		again, err := e.club.SyncTag(ctx, e.m, client, ritual.TagSyncRequest{GroupID: e.group})
		if err != nil || again.Created || again.Tag.ID != report.Tag.ID {
			t.Fatalf("second sync = %+v, %v; want the tag reused", again, err)
		}
		tags, _ := client.Tags(ctx, e.m)
		for _, tg := range tags {
			if tg.ID == report.Tag.ID && tg.Count != 54 {
				t.Fatalf("WeChat counts %d followers under the tag, want 54", tg.Count)
			}
		}

		level, err := e.club.SyncTag(ctx, e.m, client, ritual.TagSyncRequest{Level: "ordinary"})
		if err != nil || level.Tag.Name != "茶苗" || level.Audience != 55 {
			t.Fatalf("level sync = %+v, %v", level, err)
		}
		if _, err := e.club.SyncTag(ctx, e.m, client, ritual.TagSyncRequest{Level: "nobody"}); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("unknown level: %v", err)
		}
		// Fill the account's 100 tags: the next new tag is refused.
		for i := len(tags); i <= 100; i++ {
			if _, err := client.CreateTag(ctx, e.m, fmt.Sprintf("填充%d", i)); err != nil {
				break
			}
		}
		_, err = e.club.SyncTag(ctx, e.m, client, ritual.TagSyncRequest{Level: "senior"})
		if ritual.ErrorCode(err) != ritual.ECONFLICT || !strings.Contains(ritual.ErrorMessage(err), "100") {
			t.Fatalf("a sync with 100 tags used: %v, want ECONFLICT naming the limit", err)
		}
	})
}

// sayUnnamed has sender write text with no nickname, as some bridges do.
func (e *groupEnv) sayUnnamed(sender, text string) string {
	e.t.Helper()
	replies, err := e.club.HandleGroupMessage(context.Background(), e.m, e.message(nextGroupMsgID(), sender, "", text))
	if err != nil {
		e.t.Fatalf("%s says %q: %v", sender, text, err)
	}
	return joinReplies(replies)
}

// TestGroupNeverShowsTheSenderID: when the bridge sends no nickname, the
// group reads "群友" and a short tag, the same each time and different for
// two people, never the bridge's sender id (often the WeChat id).
func TestGroupNeverShowsTheSenderID(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, func(m *ritual.Merchant) { m.SignIn.Points = 0 })
		alice := e.linked("wx_alice")
		bob := e.linked("wx_bob")
		mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("n"), OpenID: alice, AmountFen: 5000})
		mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("n"), OpenID: bob, AmountFen: 3000})

		signIn := e.sayUnnamed("wx_alice", "签到")
		e.sayUnnamed("wx_bob", "大家好")
		board := e.sayUnnamed("wx_bob", "排行")
		for _, got := range []string{signIn, board} {
			if strings.Contains(got, "wx_") || strings.Contains(got, "昵称") {
				t.Fatalf("the group is shown %q", got)
			}
		}
		tag := regexp.MustCompile(`群友[A-Z0-9]{2}`)
		who := tag.FindString(signIn)
		if who == "" || !strings.HasPrefix(signIn, "@"+who+" ") {
			t.Fatalf("签到 without a nickname = %q, want @群友 and a tag", signIn)
		}
		places := tag.FindAllString(board, -1)
		if len(places) != 2 || places[0] != who || places[1] == who {
			t.Fatalf("board = %q, want alice as %s first and bob under another tag", board, who)
		}
		if again := e.sayUnnamed("wx_alice", "签到"); !strings.HasPrefix(again, "@"+who+" ") {
			t.Fatalf("alice's tag changed: %q, was %s", again, who)
		}
	})
}

// TestCeremonyAnnouncementNamesTheMember: the group hears who completed
// the ceremony, by their group nickname; a merchant who keeps
// announcements anonymous gets "一位群友".
func TestCeremonyAnnouncementNamesTheMember(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		for _, anonymous := range []bool{false, true} {
			e := newGroupEnv(t, db, clock, func(m *ritual.Merchant) {
				m.Groups.CallbackURL = "http://bridge.example/callback"
				m.Groups.AnonymousAnnouncements = anonymous
				m.Membership.Levels[1].Ceremony = &ritual.CeremonyRule{
					Steps: []string{ritual.StepGroupSignIn}, DeadlineDays: 7, Announce: true, OnDeadline: ritual.DeadlineWait,
				}
			})
			openid := e.linked("wx_cer")
			mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("AN"), OpenID: openid, AmountFen: 30000})
			mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("AN"), OpenID: openid, AmountFen: 20000})
			e.say("wx_cer", "签到")
			msgs, _ := db.Outbox().ForMember(context.Background(), e.member(openid).ID, 50)
			var post string
			for _, msg := range msgs {
				if msg.Purpose == ritual.PurposeGroupPost && msg.Notice.Group == e.group {
					post = msg.Notice.Reason
				}
			}
			want, not := "恭喜昵称wx_cer完成升级仪式", "一位群友"
			if anonymous {
				want, not = "恭喜一位群友完成升级仪式", "昵称wx_cer"
			}
			if !strings.Contains(post, want) || strings.Contains(post, not) {
				t.Fatalf("anonymous=%v: the group post = %q, want %q", anonymous, post, want)
			}
		}
	})
}
