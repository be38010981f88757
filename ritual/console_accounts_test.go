package ritual_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
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

// signInBurst runs the sign-ins at once, split between two clubs on the
// same database (two replicas), and counts what each came back with:
// "ok", "unauthorized" (the password was checked and was wrong) or
// "rate_limited" (refused before any check).
func signInBurst(t *testing.T, replicas [2]*ritual.Club, merchantID string, tries []signInTry) map[string]int {
	t.Helper()
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, try := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := replicas[i%2].SignIn(context.Background(), merchantID, try.user, try.password, try.ip)
			outcome := ritual.ErrorCode(err)
			switch outcome {
			case "":
				outcome = "ok"
			case ritual.EUNAUTHORIZED, ritual.ERATELIMITED:
			default:
				t.Errorf("sign-in as %s: %v", try.user, err)
			}
			mu.Lock()
			got[outcome]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

type signInTry struct{ user, password, ip string }

func TestConsoleSignInLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		replicas := [2]*ritual.Club{club, ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})}
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 24, 2, 0, 30, 0, time.UTC))

		// 30 guesses at once for the owner from 30 addresses, the right
		// password among them: no more than 5 wrong ones are checked, and
		// the rest are refused unchecked.
		var tries []signInTry
		for i := range 30 {
			password := fmt.Sprintf("guess-%02d-wrong", i)
			if i == 17 {
				password = "boss-password-123"
			}
			tries = append(tries, signInTry{"boss", password, fmt.Sprintf("10.1.0.%d", i+1)})
		}
		got := signInBurst(t, replicas, m.ID, tries)
		if got["unauthorized"] > 5 || got["ok"] > 1 || got["unauthorized"]+got["ok"]+got["rate_limited"] != 30 {
			t.Fatalf("30 concurrent sign-ins for one user: %v; want at most 5 wrong passwords checked, the rest refused", got)
		}
		if got["unauthorized"] < 5 {
			// The right password got through and gave its place back; the
			// wrong guesses still filled the user's allowance.
			if _, err := club.SignIn(ctx, m.ID, "boss", "another-guess-1", "10.1.1.1"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
				t.Fatalf("after %v, a sixth wrong guess: %v, want it checked", got, err)
			}
		}
		if _, err := club.SignIn(ctx, m.ID, "boss", "another-guess-2", "10.1.1.2"); ritual.ErrorCode(err) != ritual.ERATELIMITED {
			t.Fatalf("after the burst (%v) another guess: %v, want rate limited", got, err)
		}
	})
}

func TestConsoleSignInAddressLimitHoldsUnderConcurrentGuesses(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		replicas := [2]*ritual.Club{club, ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})}
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 24, 2, 0, 30, 0, time.UTC))

		// 30 sign-ins at once from one address, for 30 names (none of them
		// locked out on its own): no more than 20 are checked.
		var tries []signInTry
		for i := range 30 {
			tries = append(tries, signInTry{fmt.Sprintf("someone-%02d", i), "a-wrong-password", "10.2.0.1"})
		}
		got := signInBurst(t, replicas, m.ID, tries)
		if got["unauthorized"] != 20 || got["rate_limited"] != 10 {
			t.Fatalf("30 concurrent sign-ins from one address: %v; want 20 checked and 10 refused", got)
		}
		if _, err := club.SignIn(ctx, m.ID, "ops", "ops-password-1234", "10.2.0.1"); ritual.ErrorCode(err) != ritual.ERATELIMITED {
			t.Fatalf("the address after the burst: %v, want rate limited", err)
		}
		if _, err := club.SignIn(ctx, m.ID, "ops", "ops-password-1234", "10.2.0.2"); err != nil {
			t.Fatalf("ops from another address: %v (a locked-out address used up the user's allowance)", err)
		}
	})
}

// Signing in is no failure: the owner may sign in as often as they like,
// and a success does not wipe out the failures before it.
func TestConsoleSignInSuccessesDoNotLockTheOwnerOut(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := consoleClub(t, db, clock)
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 24, 2, 0, 30, 0, time.UTC))
		for i := range 25 {
			if _, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.3.0.1"); err != nil {
				t.Fatalf("sign-in %d within one window: %v", i+1, err)
			}
		}
		for i := range 4 {
			if _, err := club.SignIn(ctx, m.ID, "boss", "a-wrong-password", "10.3.0.1"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if _, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.3.0.1"); err != nil {
			t.Fatalf("the right password after 4 failures: %v", err)
		}
		if _, err := club.SignIn(ctx, m.ID, "boss", "a-wrong-password", "10.3.0.1"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
			t.Fatalf("the fifth failure: %v", err)
		}
		if _, err := club.SignIn(ctx, m.ID, "boss", "boss-password-123", "10.3.0.1"); ritual.ErrorCode(err) != ritual.ERATELIMITED {
			t.Fatalf("after 5 failures with a success between them: %v, want rate limited", err)
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
