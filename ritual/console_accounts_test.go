package ritual_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// consoleClub returns a club with a merchant that has an owner (boss) and
// an operator (ops).
func consoleClub(t *testing.T, db *models.DB, clock *ritualtest.Clock) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	addConsoleUser(t, db, m.ID, "boss", "boss-password-123", ritual.RoleOwner)
	addConsoleUser(t, db, m.ID, "ops", "ops-password-1234", ritual.RoleOperator)
	return club, m
}

// addConsoleUser stores a user whose password is hashed at bcrypt's lowest
// cost: at the default cost each check takes a second under the race
// detector, and these tests check many. (SeedConsoleUser, which hashes at
// the default cost, is tested on its own.)
func addConsoleUser(t *testing.T, db *models.DB, merchantID, username, password, role string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	u := &ritual.ConsoleUser{MerchantID: merchantID, Username: username, PasswordHash: string(hash), Role: role, CreatedAt: time.Now()}
	if err := db.Accounts().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
}

func TestConsolePasswordsAreHashedAndNeverOverwritten(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
		m := ritualtest.Merchant(ritual.ModeCompatible)
		ctx := context.Background()
		if _, err := club.SeedMerchant(ctx, m, "key-"+m.ID); err != nil {
			t.Fatal(err)
		}
		if created, err := club.SeedConsoleUser(ctx, m.ID, "boss", "boss-password-123", ritual.RoleOwner); err != nil || !created {
			t.Fatalf("seed: created=%v err=%v", created, err)
		}
		if _, err := club.SeedConsoleUser(ctx, ritualtest.RandomID("nomerchant"), "boss", "boss-password-123", ritual.RoleOwner); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("seeding a user of no merchant: %v", err)
		}
		u, err := db.Accounts().User(ctx, m.ID, "boss")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(u.PasswordHash, "boss-password-123") || !strings.HasPrefix(u.PasswordHash, "$2") {
			t.Fatalf("stored password = %q, want a bcrypt hash", u.PasswordHash)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("boss-password-123")) != nil {
			t.Fatal("the stored hash does not match the password")
		}

		// Seeding again (the next start, with a changed file) leaves the
		// account as it is.
		if created, err := club.SeedConsoleUser(ctx, m.ID, "boss", "a-new-password-99", ritual.RoleOperator); err != nil || created {
			t.Fatalf("second seed: created=%v err=%v", created, err)
		}
		if _, err := club.SignIn(ctx, m.ID, "boss", "a-new-password-99", "10.0.0.1"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
			t.Fatalf("the file's new password signs in: %v", err)
		}
		s, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.0.1")
		if err != nil || s.Role != ritual.RoleOwner || !s.CanChangeSettings() {
			t.Fatalf("original password: %+v %v; want an owner's session", s, err)
		}

		for _, bad := range []struct{ user, password, role, field string }{
			{"Boss", "long-enough-pw", ritual.RoleOwner, "username"},
			{"short", "short", ritual.RoleOwner, "password"},
			{"admin", "long-enough-pw", "admin", "role"},
		} {
			if _, err := club.SeedConsoleUser(ctx, m.ID, bad.user, bad.password, bad.role); ritual.ErrorField(err) != bad.field {
				t.Errorf("seed %+v: %v, want an error naming %s", bad, err, bad.field)
			}
		}
	})
}

func TestConsoleSignInRefusesWrongCredentials(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		other := ritualtest.Merchant(ritual.ModePlaintext)
		ctx := context.Background()
		if _, err := club.SeedMerchant(ctx, other, "key-"+other.ID); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ what, merchant, user, password string }{
			{"wrong password", m.ID, "boss", "boss-password-124"},
			{"no such user", m.ID, "nobody", "boss-password-123"},
			{"another merchant's name for the user", other.ID, "boss", "boss-password-123"},
			{"empty password", m.ID, "boss", ""},
		} {
			if s, err := club.SignIn(ctx, c.merchant, c.user, c.password, "10.0.0.2"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED || s != nil {
				t.Errorf("%s: %+v %v, want unauthorized", c.what, s, err)
			}
		}
		s, err := club.SignIn(ctx, m.ID, " BOSS ", "boss-password-123", "10.0.0.2")
		if err != nil || s.Username != "boss" || s.MerchantID != m.ID {
			t.Fatalf("sign-in with the name typed loosely: %+v %v", s, err)
		}
		// The cookie's token is not what the database keeps.
		if _, err := db.Accounts().Session(ctx, s.Token); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("the sessions table holds the token itself (%v)", err)
		}
		sum := sha256.Sum256([]byte(s.Token))
		if _, err := db.Accounts().Session(ctx, hex.EncodeToString(sum[:])); err != nil {
			t.Fatalf("no session under the token's hash: %v", err)
		}
	})
}

func TestConsoleSignInLocksOutAfterRepeatedFailures(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 24, 2, 0, 30, 0, time.UTC)) // the start of a 15-minute window
		for i := range 5 {
			if _, err := club.SignIn(ctx, m.ID, "boss", "guess-"+string(rune('a'+i)), "10.0.1.1"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if _, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.1.2"); ritual.ErrorCode(err) != ritual.ERATELIMITED {
			t.Fatalf("the right password after 5 failures (from another address): %v, want rate limited", err)
		}
		if _, err := club.SignIn(ctx, m.ID, "ops", "ops-password-1234", "10.0.1.2"); err != nil {
			t.Fatalf("another user is locked out too: %v", err)
		}
		clock.Advance(15 * time.Minute)
		if _, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.1.2"); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		// One address failing for many names is stopped too: 4 users, 5
		// failures each, none of them locked out on their own.
		clock.Advance(15 * time.Minute)
		for u := range 4 {
			name := "user" + string(rune('a'+u))
			addConsoleUser(t, db, m.ID, name, "the-right-password", ritual.RoleOperator)
			for i := range 5 {
				if _, err := club.SignIn(ctx, m.ID, name, "a-wrong-password", "10.0.2.1"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
					t.Fatalf("%s's failure %d from one address: %v", name, i+1, err)
				}
			}
		}
		if _, err := club.SignIn(ctx, m.ID, "ops", "ops-password-1234", "10.0.2.1"); ritual.ErrorCode(err) != ritual.ERATELIMITED {
			t.Fatalf("the address after 20 failures: %v, want rate limited", err)
		}
		if _, err := club.SignIn(ctx, m.ID, "ops", "ops-password-1234", "10.0.2.2"); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})
}

func TestConsoleSessionsExpire(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		ctx := context.Background()

		// Idle: 30 minutes without a request ends it.
		s, err := club.SignIn(ctx, m.ID, "ops", "ops-password-1234", "10.0.3.1")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(29 * time.Minute)
		if got, err := club.ConsoleSession(ctx, s.Token); err != nil || got.Role != ritual.RoleOperator || got.CanChangeSettings() {
			t.Fatalf("after 29 idle minutes: %+v %v, want the operator's session", got, err)
		}
		clock.Advance(29 * time.Minute) // 58 minutes after sign-in, 29 after the last request
		if _, err := club.ConsoleSession(ctx, s.Token); err != nil {
			t.Fatalf("a session in use expired: %v", err)
		}
		clock.Advance(30 * time.Minute)
		if _, err := club.ConsoleSession(ctx, s.Token); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
			t.Fatalf("after 30 idle minutes: %v, want unauthorized", err)
		}

		// Absolute: 12 hours after sign-in, however busy.
		s, err = club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.3.1")
		if err != nil {
			t.Fatal(err)
		}
		for elapsed := 20 * time.Minute; elapsed < ritual.SessionLifetime; elapsed += 20 * time.Minute {
			clock.Advance(20 * time.Minute)
			if _, err := club.ConsoleSession(ctx, s.Token); err != nil {
				t.Fatalf("%s after sign-in, in use: %v", elapsed, err)
			}
		}
		clock.Advance(20 * time.Minute)
		if _, err := club.ConsoleSession(ctx, s.Token); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
			t.Fatalf("12 hours after sign-in: %v, want unauthorized", err)
		}

		// Signing out ends it at once.
		s, err = club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.3.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := club.SignOut(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := club.ConsoleSession(ctx, s.Token); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
			t.Fatalf("after signing out: %v", err)
		}
		if _, err := club.ConsoleSession(ctx, "made-up-token"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
			t.Fatalf("a made-up token: %v", err)
		}
	})
}

func TestConsoleCSRFToken(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		ctx := context.Background()
		a, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.4.1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.0.4.1")
		if err != nil {
			t.Fatal(err)
		}
		live, err := club.ConsoleSession(ctx, a.Token)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !live.ValidCSRF(a.CSRFToken):
			t.Error("the session's own token is refused")
		case live.ValidCSRF(b.CSRFToken):
			t.Error("another session's token is accepted")
		case live.ValidCSRF(""), live.ValidCSRF(a.CSRFToken[:len(a.CSRFToken)-1]):
			t.Error("an empty or truncated token is accepted")
		case a.CSRFToken == a.Token:
			t.Error("the CSRF token is the session token")
		}
	})
}

func TestConsoleSessionSeesOnlyItsMerchant(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, a := consoleClub(t, db, clock)
		_, b := consoleClub(t, db, clock)
		ctx := context.Background()
		openid := ritualtest.RandomID("oB")
		mustOrder(t, club, b, ritual.OrderInput{OrderNo: "X-1", OpenID: openid, AmountFen: 12000})

		s, err := club.SignIn(ctx, a.ID, "boss", "boss-password-123", "10.0.5.1")
		if err != nil {
			t.Fatal(err)
		}
		live, err := club.ConsoleSession(ctx, s.Token)
		if err != nil || live.MerchantID != a.ID {
			t.Fatalf("session %+v %v, want merchant %s", live, err, a.ID)
		}
		mine, err := club.Merchant(ctx, live.MerchantID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := club.MemberPage(ctx, mine, openid); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("merchant A's session reads merchant B's member: %v, want not found", err)
		}
		if page, err := club.MemberPage(ctx, b, openid); err != nil || page.View.OpenID != openid {
			t.Fatalf("merchant B reads its own member: %+v %v", page.View, err)
		}
		// Merchant B's users are B's: A's user names sign in to A only.
		if _, err := club.SignIn(ctx, b.ID, "boss", "boss-password-123", "10.0.5.1"); err != nil {
			t.Fatalf("B's own boss: %v", err)
		}
	})
}
