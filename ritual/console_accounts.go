package ritual

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Console roles. An owner changes the merchant's settings; an operator
// reads everything and grants ceremonies by hand. Both may chat in the
// phone preview, as test shoppers only (test_shopper.go): no role acts as
// a real shopper.
const (
	RoleOwner    = "owner"
	RoleOperator = "operator"
)

// ConsoleUser is a merchant's account on the web console. The password is
// kept only as a bcrypt hash.
type ConsoleUser struct {
	ID           int64
	MerchantID   string
	Username     string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
}

// ConsoleSession is a signed-in console user, bound to one merchant. The
// browser holds Token in a cookie; the database keeps only its SHA-256
// (ID), so a copy of the sessions table signs no one in.
type ConsoleSession struct {
	// Token is set only on the session SignIn returns.
	Token      string
	ID         string
	MerchantID string
	UserID     int64
	Username   string
	Role       string
	// CSRFToken is the per-session token every form posts back.
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// CanChangeSettings reports whether the session's user may change the
// merchant's settings: owners only.
func (s *ConsoleSession) CanChangeSettings() bool { return s.Role == RoleOwner }

// ValidCSRF reports, in constant time, whether token is the session's
// CSRF token.
func (s *ConsoleSession) ValidCSRF(token string) bool {
	return s.CSRFToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) == 1
}

// ConsoleAccounts stores console users and their sessions. Sessions live
// in the database so every replica honours them.
type ConsoleAccounts interface {
	// CreateUser returns ECONFLICT if the merchant has a user of that name.
	CreateUser(ctx context.Context, u *ConsoleUser) error
	// User returns ENOTFOUND if the merchant has no user of that name.
	User(ctx context.Context, merchantID, username string) (*ConsoleUser, error)
	// UserByID returns ENOTFOUND if there is no such user.
	UserByID(ctx context.Context, id int64) (*ConsoleUser, error)
	CreateSession(ctx context.Context, s *ConsoleSession) error
	// Session returns ENOTFOUND for an unknown id.
	Session(ctx context.Context, id string) (*ConsoleSession, error)
	// TouchSession records activity on the session at at.
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions deletes sessions idle since before idleBefore
	// or created before createdBefore, and returns how many.
	DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
}

// How long a console session lasts: it ends after SessionIdle without a
// request, and SessionLifetime after sign-in whatever happens.
const (
	SessionIdle     = 30 * time.Minute
	SessionLifetime = 12 * time.Hour
)

// Sign-in limits, in fixed windows, per user and per address. An address
// may fail more often than a user, since an office behind one address has
// several people typing.
const (
	signInWindow          = 15 * time.Minute
	signInFailuresPerUser = 5
	signInFailuresPerIP   = 20
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ValidateConsoleUser checks a console user as configured; fields are
// named username, password and role.
func ValidateConsoleUser(username, password, role string) error {
	switch {
	case !usernamePattern.MatchString(username):
		return FieldErrorf("username", "must be 1-64 lower-case letters, digits, '.', '-' or '_', got %q", username)
	case len(password) < 12:
		return FieldErrorf("password", "must be at least 12 characters")
	case len(password) > 72:
		return FieldErrorf("password", "must be at most 72 bytes (bcrypt reads no further)")
	case role != RoleOwner && role != RoleOperator:
		return FieldErrorf("role", "must be owner or operator, got %q", role)
	}
	return nil
}

// SeedConsoleUser creates a console user of the merchant with password
// (stored as a bcrypt hash) unless one of that name exists: configuration
// seeds accounts once, and a user already there is never overwritten. It
// reports whether the user was created.
func (c *Admin) SeedConsoleUser(ctx context.Context, merchantID, username, password, role string) (bool, error) {
	if err := ValidateConsoleUser(username, password, role); err != nil {
		return false, err
	}
	if _, err := c.store.Merchants().ByID(ctx, merchantID); err != nil {
		return false, err
	}
	if _, err := c.store.Accounts().User(ctx, merchantID, username); err == nil {
		return false, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return false, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return false, err
	}
	u := &ConsoleUser{MerchantID: merchantID, Username: username, PasswordHash: string(hash), Role: role, CreatedAt: c.clock()}
	if err := c.store.Accounts().CreateUser(ctx, u); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return false, nil // another replica seeded it first
		}
		return false, err
	}
	return true, nil
}

// noSuchUser is compared against when the user does not exist, so a wrong
// name takes as long as a wrong password and names cannot be probed. It is
// made on first use, not at start: every command would pay for it.
var noSuchUser = sync.OnceValue(func() []byte {
	hash, _ := bcrypt.GenerateFromPassword([]byte("wxclub: no such console user"), bcrypt.DefaultCost)
	return hash
})

// SignIn checks a console user's password and opens a session for them,
// bound to merchantID. A wrong name or password is EUNAUTHORIZED, the same
// for both; after too many failures for the user or from the address ip
// within the window, every attempt is ERATELIMITED until the window ends,
// the right password included. The returned session carries its Token.
//
// Each attempt reserves its place under both limits before the password
// is checked, so parallel guesses cannot all reach bcrypt while the
// failures are still being counted: at most signInFailuresPerUser wrong
// passwords per user, and signInFailuresPerIP per address, are ever
// checked in a window, across replicas. An attempt that succeeds gives its
// place back: the owner signing in often is never locked out by it, while
// every failure, the attacker's included, stays counted until the window
// ends (a success does not wipe them, which would hand a guesser racing
// the owner a fresh allowance).
func (c *Admin) SignIn(ctx context.Context, merchantID, username, password, ip string) (*ConsoleSession, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	now := c.clock()
	attempt, err := c.reserveSignIn(ctx, merchantID, username, ip, now)
	if err != nil {
		return nil, err
	}
	u, err := c.store.Accounts().User(ctx, merchantID, username)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, err
	}
	hash := noSuchUser()
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil {
		c.log.InfoContext(ctx, "console sign-in refused", "merchant", merchantID)
		return nil, Errorf(EUNAUTHORIZED, "wrong username or password")
	}
	c.releaseSignIn(ctx, attempt)
	token, id := newSessionToken()
	s := &ConsoleSession{
		Token: token, ID: id, MerchantID: merchantID, UserID: u.ID, Username: u.Username, Role: u.Role,
		CSRFToken: randomToken(), CreatedAt: now, LastSeenAt: now,
	}
	if err := c.store.Accounts().CreateSession(ctx, s); err != nil {
		return nil, err
	}
	if _, err := c.store.Accounts().DeleteExpiredSessions(ctx, now.Add(-SessionIdle), now.Add(-SessionLifetime)); err != nil {
		c.log.WarnContext(ctx, "pruning console sessions", "err", err)
	}
	c.log.InfoContext(ctx, "console sign-in", "merchant", merchantID, "user", u.Username, "role", u.Role)
	return s, nil
}

// signInAttempt is the places one sign-in holds under the limits.
type signInAttempt struct {
	keys []string
	at   time.Time
}

// reserveSignIn takes a place for the attempt under the user's limit and
// the address's, or returns ERATELIMITED holding neither: a place taken
// under one limit is given back when the other refuses, so an address
// that is locked out uses up none of a user's allowance.
func (c *Admin) reserveSignIn(ctx context.Context, merchantID, username, ip string, now time.Time) (signInAttempt, error) {
	attempt := signInAttempt{at: now}
	for _, limit := range []struct {
		key string
		max int
	}{{"console-signin:" + merchantID + ":" + username, signInFailuresPerUser}, {"console-signin-ip:" + ip, signInFailuresPerIP}} {
		ok, err := c.store.Limits().Reserve(ctx, limit.key, limit.max, signInWindow, now)
		if err == nil && !ok {
			err = Errorf(ERATELIMITED, "too many failed sign-ins; try again in %d minutes", int(signInWindow.Minutes()))
		}
		if err != nil {
			c.releaseSignIn(ctx, attempt)
			return signInAttempt{}, err
		}
		attempt.keys = append(attempt.keys, limit.key)
	}
	return attempt, nil
}

// releaseSignIn gives back the attempt's places. Failing to is logged, not
// returned: the cost is one place in the window, not a refused sign-in.
func (c *Admin) releaseSignIn(ctx context.Context, a signInAttempt) {
	for _, key := range a.keys {
		if err := c.store.Limits().Release(ctx, key, signInWindow, a.at); err != nil {
			c.log.WarnContext(ctx, "giving back a sign-in attempt", "err", err)
		}
	}
}

// ConsoleSession returns the live session whose cookie token is token,
// with the user's current role, and records the activity. An unknown,
// idle or too old session, or one whose user is gone, is EUNAUTHORIZED
// (and deleted).
func (c *Admin) ConsoleSession(ctx context.Context, token string) (*ConsoleSession, error) {
	if token == "" {
		return nil, Errorf(EUNAUTHORIZED, "not signed in")
	}
	id := hashToken(token)
	s, err := c.store.Accounts().Session(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUNAUTHORIZED, "not signed in")
	} else if err != nil {
		return nil, err
	}
	now := c.clock()
	if now.Sub(s.LastSeenAt) >= SessionIdle || now.Sub(s.CreatedAt) >= SessionLifetime {
		if err := c.store.Accounts().DeleteSession(ctx, id); err != nil {
			return nil, err
		}
		return nil, Errorf(EUNAUTHORIZED, "the session has expired")
	}
	u, err := c.store.Accounts().UserByID(ctx, s.UserID)
	if ErrorCode(err) == ENOTFOUND || (err == nil && u.MerchantID != s.MerchantID) {
		_ = c.store.Accounts().DeleteSession(ctx, id)
		return nil, Errorf(EUNAUTHORIZED, "not signed in")
	} else if err != nil {
		return nil, err
	}
	s.Username, s.Role = u.Username, u.Role
	// Activity is recorded at most once a minute: idle expiry needs no
	// finer grain, and most requests then write nothing.
	if now.Sub(s.LastSeenAt) >= time.Minute {
		if err := c.store.Accounts().TouchSession(ctx, id, now); err != nil {
			return nil, err
		}
		s.LastSeenAt = now
	}
	return s, nil
}

// SignOut ends the session whose cookie token is token; an unknown token is
// not an error.
func (c *Admin) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	err := c.store.Accounts().DeleteSession(ctx, hashToken(token))
	if ErrorCode(err) == ENOTFOUND {
		return nil
	}
	return err
}

// newSessionToken returns a cookie token and the id it is stored under.
func newSessionToken() (token, id string) {
	token = randomToken()
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken returns 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(errors.Join(errors.New("ritual: no randomness"), err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
