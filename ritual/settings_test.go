package ritual_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// settingsClub returns a club with one seeded merchant.
func settingsClub(t *testing.T, db *models.DB, clock *ritualtest.Clock) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return club, m
}

// section reads one section of the merchant's settings into v and returns
// the version.
func section(t *testing.T, club *ritual.Club, m *ritual.Merchant, name string, v any) int {
	t.Helper()
	raw, version, err := club.Section(context.Background(), m, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
	return version
}

// put changes one section; body is marshalled unless it is a string.
func put(club *ritual.Club, m *ritual.Merchant, name string, body any, by string, ifVersion int) (*ritual.SettingsVersion, error) {
	raw, ok := body.(string)
	if !ok {
		b, _ := json.Marshal(body)
		raw = string(b)
	}
	return club.UpdateSettings(context.Background(), m, name, []byte(raw), by, ifVersion)
}

func TestSettingsRejectBadInputNamingTheField(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := settingsClub(t, db, clock)
		var ms ritual.Membership
		before := section(t, club, m, "membership", &ms)

		lowVIP := ms
		lowVIP.Levels = append([]ritual.Level(nil), ms.Levels...)
		lowVIP.Levels[2].MinAmountFen = 40000 // below senior's 50000
		longField := map[string]ritual.TemplateRef{
			ritual.PurposePointsChanged: {ID: "TPL_POINTS", Fields: map[string]string{"keyword1": "{{.Nickname}}您好，本次积分变动已经到账，请查收并常来看看"}},
		}
		badCron := ritual.Campaigns{MemberDay: &ritual.MemberDayJob{Schedule: ritual.Schedule{Spec: "0 10 32 * *"}, Multiplier: 2}}
		cases := []struct {
			name, section string
			body          any
			field, words  string
		}{
			{"threshold below the level beneath", "membership", lowVIP, "membership.levels[2].min_amount_fen", "lower than the level below"},
			{"template field over 20 characters", "templates", longField, "templates.points_changed.fields.keyword1", "20"},
			{"bad cron spec", "campaigns", badCron, "campaigns.member_day.schedule", "bad cron spec"},
			{"unknown field", "signin", `{"points": 5, "pionts_bonus": 1}`, "signin.pionts_bonus", "not a setting"},
			{"wrong type", "referral", `{"points": "two hundred"}`, "referral.points", "wrong type"},
			{"nickname too long", "membership", withNickname(ms, 1, "一二三四五六七八九十一"), "membership.levels[1].nickname", "at most 10"},
		}
		for _, tc := range cases {
			_, err := put(club, m, tc.section, tc.body, "alice", 0)
			if ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != tc.field || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("%s: got %v (field %q), want invalid %s saying %q", tc.name, err, ritual.ErrorField(err), tc.field, tc.words)
			}
		}
		if _, err := put(club, m, "loyalty", map[string]int{"x": 1}, "alice", 0); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Errorf("unknown section: %v, want not found", err)
		}
		if _, err := put(club, m, "signin", `{"points": 5`, "alice", 0); ritual.ErrorCode(err) != ritual.EBADREQUEST {
			t.Errorf("broken JSON: %v, want bad request", err)
		}

		var after ritual.Membership
		if v := section(t, club, m, "membership", &after); v != before || after.Levels[2].MinAmountFen != 300000 {
			t.Errorf("after bad input: version %d (was %d), vip threshold %d; want nothing changed", v, before, after.Levels[2].MinAmountFen)
		}
		if list, _ := club.SettingsVersions(context.Background(), m, 50); len(list) != 0 {
			t.Errorf("versions after bad input: %d, want none", len(list))
		}
	})
}

func withNickname(ms ritual.Membership, i int, nickname string) ritual.Membership {
	ms.Levels = append([]ritual.Level(nil), ms.Levels...)
	ms.Levels[i].Nickname = nickname
	return ms
}

func TestSettingsAreVersionedWithWhoAndWhen(t *testing.T) {
	start := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start)
		club, m := settingsClub(t, db, clock)
		ctx := context.Background()
		var ms ritual.Membership
		v0 := section(t, club, m, "membership", &ms)

		v1, err := put(club, m, "membership", withNickname(ms, 1, "茶客"), "alice", v0)
		if err != nil || v1.Version != v0+1 {
			t.Fatalf("rename: %+v, %v; want version %d", v1, err, v0+1)
		}
		clock.Advance(time.Hour)
		if _, err := put(club, m, "signin", ritual.SignIn{Points: 7}, "bob", 0); err != nil {
			t.Fatal(err)
		}
		// The same value again is no change and no version.
		if same, err := put(club, m, "signin", ritual.SignIn{Points: 7}, "bob", 0); err != nil || same.Version != v0+2 {
			t.Fatalf("unchanged put: %+v, %v; want version %d kept", same, err, v0+2)
		}
		// A stale If-Match loses, and changes nothing.
		if _, err := put(club, m, "signin", ritual.SignIn{Points: 9}, "carol", v0+1); ritual.ErrorCode(err) != ritual.ECONFLICT {
			t.Fatalf("stale version: %v, want conflict", err)
		}

		list, err := club.SettingsVersions(ctx, m, 50)
		if err != nil || len(list) != 2 {
			t.Fatalf("versions: %+v, %v; want 2", list, err)
		}
		newest, oldest := list[0], list[1]
		if newest.ChangedBy != "bob" || newest.Section != "signin" || !newest.ChangedAt.Equal(start.Add(time.Hour)) ||
			oldest.ChangedBy != "alice" || oldest.Section != "membership" || !oldest.ChangedAt.Equal(start) {
			t.Errorf("versions: %+v / %+v; want bob's sign-in change an hour after alice's rename", newest, oldest)
		}
		if !strings.Contains(string(oldest.Before), "茶友") || !strings.Contains(string(oldest.After), "茶客") {
			t.Errorf("rename kept before %s after %s; want 茶友 then 茶客", oldest.Before, oldest.After)
		}

		// Effective at once, without a restart: the club's merchant has it.
		fresh, err := club.Merchant(ctx, m.ID)
		if err != nil || fresh.Membership.Levels[1].Nickname != "茶客" || fresh.SignIn.Points != 7 {
			t.Errorf("merchant after changes: %+v, %v", fresh, err)
		}
	})
}

func TestSettingsMaskSecretsAndKeepThem(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := settingsClub(t, db, clock)
		ctx := context.Background()
		doc, err := club.Settings(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(doc.Merchant), m.OfficialAccount.AppSecret) || strings.Contains(string(doc.Merchant), ritualtest.AESKey) {
			t.Fatalf("settings show a secret: %s", doc.Merchant)
		}
		var oa ritual.OfficialAccount
		section(t, club, m, "official_account", &oa)
		oa.Token = "newtoken123"
		if _, err := put(club, m, "official_account", oa, "alice", 0); err != nil {
			t.Fatal(err)
		}
		fresh, _ := club.Merchant(ctx, m.ID)
		if fresh.OfficialAccount.AppSecret != m.OfficialAccount.AppSecret || fresh.OfficialAccount.EncodingAESKey != ritualtest.AESKey || fresh.OfficialAccount.Token != "newtoken123" {
			t.Errorf("after writing the masked secrets back: %+v; want the token changed and the secrets kept", fresh.OfficialAccount)
		}
		list, _ := club.SettingsVersions(ctx, m, 1)
		if strings.Contains(string(list[0].Before)+string(list[0].After), m.OfficialAccount.AppSecret) {
			t.Errorf("the version history shows a secret: %s → %s", list[0].Before, list[0].After)
		}
	})
}

func TestSettingsOfOneMerchantLeaveAnotherAlone(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, a := settingsClub(t, db, clock)
		b := ritualtest.Merchant(ritual.ModeCompatible)
		if _, err := club.SeedMerchant(context.Background(), b, "key-"+b.ID); err != nil {
			t.Fatal(err)
		}
		var ms ritual.Membership
		section(t, club, a, "membership", &ms)
		if _, err := put(club, a, "membership", withNickname(ms, 2, "茶王"), "alice", 0); err != nil {
			t.Fatal(err)
		}
		var other ritual.Membership
		section(t, club, b, "membership", &other)
		if other.Levels[2].Nickname != "茶仙" {
			t.Errorf("merchant b's vip nickname = %q after a's change, want 茶仙", other.Levels[2].Nickname)
		}
		if list, _ := club.SettingsVersions(context.Background(), b, 50); len(list) != 0 {
			t.Errorf("merchant b sees %d versions, want none of a's", len(list))
		}
	})
}

func TestThresholdChangeReevaluatesMembers(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		ctx := context.Background()
		riser, faller, stayer := ritualtest.RandomID("o"), ritualtest.RandomID("o"), ritualtest.RandomID("o")
		for _, who := range []string{riser, faller, stayer} {
			mustHandle(t, club, m, subscribe(clock, who, ""))
		}
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "R1", OpenID: riser, AmountFen: 20000})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "R2", OpenID: riser, AmountFen: 20000})
		for i := range 5 {
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "F" + string(rune('0'+i)), OpenID: faller, AmountFen: 70000})
		}
		grantOpenCeremony(t, club, m, faller)
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "S1", OpenID: stayer, AmountFen: 1000})
		if lv := view(t, club, m, faller).Level.Key; lv != "vip" {
			t.Fatalf("faller starts at %s, want vip", lv)
		}

		var ms ritual.Membership
		section(t, club, m, "membership", &ms)
		ms.Levels[1].MinAmountFen = 40000 // the riser's 400元 now reaches senior
		ms.Levels[2].MinAmountFen = 400000
		if _, err := put(club, m, "membership", ms, "alice", 0); err != nil {
			t.Fatal(err)
		}
		n, err := club.ReevaluateAfterChanges(ctx, "replica-a")
		if err != nil || n != 1 {
			t.Fatalf("re-evaluation: %d, %v; want the one change done", n, err)
		}
		if again, err := club.ReevaluateAfterChanges(ctx, "replica-b"); err != nil || again != 0 {
			t.Fatalf("second re-evaluation: %d, %v; want nothing left", again, err)
		}

		// The riser gets the senior ceremony, not a silent upgrade.
		if v := view(t, club, m, riser); v.Level.Key != "ordinary" || v.Ceremony == nil || v.Ceremony.Nickname != "茶友" {
			t.Errorf("riser: level %s ceremony %+v; want the 茶友 ceremony opened", v.Level.Key, v.Ceremony)
		}
		// The faller moves down at once and is told.
		if v := view(t, club, m, faller); v.Level.Key != "senior" {
			t.Errorf("faller: level %s, want senior", v.Level.Key)
		}
		if p := outboxPurposes(t, db, m, faller); p[ritual.PurposeLevelChanged] != 2 {
			t.Errorf("faller's messages %v, want the rise and the fall announced", p)
		}
		if v := view(t, club, m, stayer); v.Level.Key != "ordinary" || v.Ceremony != nil {
			t.Errorf("stayer: level %s ceremony %+v; want unchanged", v.Level.Key, v.Ceremony)
		}
		checkBalanced(t, db, m)
	})
}

// grantOpenCeremony grants, by hand, the open ceremony of the member.
func grantOpenCeremony(t *testing.T, club *ritual.Club, m *ritual.Merchant, openid string) {
	t.Helper()
	open, err := club.Ceremonies(context.Background(), m, "open", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range open {
		if c.OpenID == openid {
			if _, err := club.GrantCeremony(context.Background(), m, c.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no open ceremony for %s", openid)
}

func TestNicknameChangeDoesNotReevaluate(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := settingsClub(t, db, clock)
		var ms ritual.Membership
		section(t, club, m, "membership", &ms)
		if _, err := put(club, m, "membership", withNickname(ms, 0, "新芽"), "alice", 0); err != nil {
			t.Fatal(err)
		}
		if n, err := club.ReevaluateAfterChanges(context.Background(), "replica-a"); err != nil || n != 0 {
			t.Errorf("re-evaluations after a rename: %d, %v; want none", n, err)
		}
	})
}

func TestRemovedLevelMovesItsMembersDownWithoutRewards(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		ctx := context.Background()
		vip, waiting := ritualtest.RandomID("o"), ritualtest.RandomID("o")
		for _, who := range []string{vip, waiting} {
			mustHandle(t, club, m, subscribe(clock, who, ""))
			for i := range 5 {
				mustOrder(t, club, m, ritual.OrderInput{OrderNo: who + string(rune('0'+i)), OpenID: who, AmountFen: 70000})
			}
		}
		grantOpenCeremony(t, club, m, vip)
		points := view(t, club, m, vip).Points

		var ms ritual.Membership
		section(t, club, m, "membership", &ms)
		ms.Levels = ms.Levels[:2]
		if _, err := put(club, m, "membership", ms, "alice", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := club.ReevaluateAfterChanges(ctx, "replica-a"); err != nil {
			t.Fatal(err)
		}
		if v := view(t, club, m, vip); v.Level.Key != "senior" || v.Points != points || v.Ceremony != nil {
			t.Errorf("former vip: level %s, points %d (had %d), ceremony %+v; want senior, no reward, no ceremony", v.Level.Key, v.Points, points, v.Ceremony)
		}
		closed, _ := club.Ceremonies(ctx, m, "closed", 10)
		var removed []string
		for _, c := range closed {
			if c.Outcome == ritual.OutcomeLevelRemoved {
				removed = append(removed, c.OpenID+":"+c.To)
			}
		}
		if len(removed) != 1 || removed[0] != waiting+":vip" {
			t.Errorf("ceremonies closed as level_removed: %v, want only the waiting member's vip one", removed)
		}
		if v := view(t, club, m, waiting); v.Ceremony == nil || v.Ceremony.Nickname != "茶友" {
			t.Errorf("waiting member's ceremony %+v, want the senior one they now qualify for", v.Ceremony)
		}
		checkBalanced(t, db, m)
	})
}
