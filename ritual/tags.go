package ritual

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Tags mirrors a group or a level to a WeChat user tag, so the merchant
// can reach that segment from WeChat's own tools.
type Tags struct {
	store Store
	log   *slog.Logger
}

// Tagger manages WeChat user tags (用户标签) of a merchant's official
// account; package wechat's Client implements it. Failures are
// *SendError carrying WeChat's errcode.
type Tagger interface {
	// Tags lists the account's tags.
	Tags(ctx context.Context, m *Merchant) ([]Tag, error)
	// CreateTag creates a tag: 45056 when the account has its 100 tags,
	// 45157 when the name is taken or invalid, 45158 when it is over 30
	// bytes.
	CreateTag(ctx context.Context, m *Merchant, name string) (Tag, error)
	// TagUsers puts up to 50 followers under a tag, all or none: 45059
	// when one of them carries 20 tags already, 40003 when one does not
	// follow.
	TagUsers(ctx context.Context, m *Merchant, tagID int, openids []string) error
}

// Tag is a WeChat user tag.
type Tag struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// WeChat's tag limits and the errcodes SyncTag acts on.
const (
	maxTagNameBytes     = 30
	tagBatch            = 50
	errcodeTooManyTags  = 45056
	errcodeUserTagsFull = 45059
	errcodeTagNameTaken = 45157
	errcodeNotFollowing = 40003
)

// TagSyncRequest names the segment to mirror: a group or a level (key or
// nickname), exactly one of them.
type TagSyncRequest struct {
	GroupID string `json:"group_id"`
	Level   string `json:"level"`
}

// TagSyncReport says what a sync did.
type TagSyncReport struct {
	Tag      Tag       `json:"tag"`
	Created  bool      `json:"created"`  // the tag was made now, not reused
	Audience int       `json:"audience"` // following members in the segment
	Tagged   int       `json:"tagged"`
	Skipped  []TagSkip `json:"skipped"`
}

// TagSkip is a member the tag could not be given to, and why.
type TagSkip struct {
	OpenID  string `json:"openid"`
	ErrCode int    `json:"errcode"`
	Reason  string `json:"reason"`
}

// SyncTag mirrors a group (its linked, following members) or a level (its
// following members) to a WeChat user tag named after the group or the
// level's nickname, made if the account has none by that name. Members are
// tagged in batches of 50; one who already carries WeChat's 20 tags, or
// stopped following, is skipped and reported. With the account's 100 tags
// used up it is ECONFLICT; WeChat unreachable is EUNAVAILABLE.
func (c *Tags) SyncTag(ctx context.Context, m *Merchant, tagger Tagger, req TagSyncRequest) (*TagSyncReport, error) {
	req.GroupID, req.Level = strings.TrimSpace(req.GroupID), strings.TrimSpace(req.Level)
	if (req.GroupID == "") == (req.Level == "") {
		return nil, FieldErrorf("group_id", "give exactly one of group_id and level")
	}
	name, audience, err := c.tagAudience(ctx, m, req)
	if err != nil {
		return nil, err
	}
	if tagger == nil {
		return nil, Errorf(EUNAVAILABLE, "no WeChat connection to manage tags")
	}
	tag, created, err := findOrCreateTag(ctx, m, tagger, name)
	if err != nil {
		return nil, err
	}
	report := &TagSyncReport{Tag: tag, Created: created, Audience: len(audience), Skipped: []TagSkip{}}
	for start := 0; start < len(audience); start += tagBatch {
		batch := audience[start:min(start+tagBatch, len(audience))]
		err := tagger.TagUsers(ctx, m, tag.ID, batch)
		if err == nil {
			report.Tagged += len(batch)
			continue
		}
		if code := sendErrCode(err); code != errcodeUserTagsFull && code != errcodeNotFollowing {
			return nil, tagError(err)
		}
		// WeChat refuses the whole batch for one user: tag them one by one.
		for _, openid := range batch {
			err := tagger.TagUsers(ctx, m, tag.ID, []string{openid})
			switch sendErrCode(err) {
			case 0:
				if err != nil {
					return nil, tagError(err)
				}
				report.Tagged++
			case errcodeUserTagsFull:
				report.Skipped = append(report.Skipped, TagSkip{OpenID: openid, ErrCode: errcodeUserTagsFull, Reason: "the user already carries WeChat's 20 tags"})
			case errcodeNotFollowing:
				report.Skipped = append(report.Skipped, TagSkip{OpenID: openid, ErrCode: errcodeNotFollowing, Reason: "the user does not follow the account"})
			default:
				return nil, tagError(err)
			}
		}
	}
	c.log.InfoContext(ctx, "tag synced", "merchant", m.ID, "tag", tag.ID, "tagged", report.Tagged, "skipped", len(report.Skipped))
	return report, nil
}

// tagAudience resolves the segment to the tag's name and the openids of
// its following members.
func (c *Tags) tagAudience(ctx context.Context, m *Merchant, req TagSyncRequest) (string, []string, error) {
	if req.GroupID != "" {
		g, err := c.store.Groups().Group(ctx, m.ID, req.GroupID, false)
		if err != nil {
			return "", nil, err
		}
		name := g.Name
		if strings.TrimSpace(name) == "" {
			name = g.GroupID
		}
		openids, err := c.store.Groups().LinkedOpenIDs(ctx, m.ID, g.GroupID)
		return tagName(name), openids, err
	}
	for i, lv := range m.Membership.Levels {
		if lv.Key == req.Level || lv.Nickname == req.Level {
			openids, err := c.store.Groups().TagAudienceAtLevel(ctx, m.ID, lv.Key, i == 0)
			return tagName(lv.Nickname), openids, err
		}
	}
	return "", nil, &Error{Code: ENOTFOUND, Field: "level", Message: fmt.Sprintf("no level %q", req.Level)}
}

// tagName cuts name to WeChat's 30 bytes without splitting a character.
func tagName(name string) string {
	name = strings.TrimSpace(name)
	for len(name) > maxTagNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// findOrCreateTag reuses the account's tag called name or makes it.
func findOrCreateTag(ctx context.Context, m *Merchant, tagger Tagger, name string) (Tag, bool, error) {
	find := func() (Tag, bool, error) {
		tags, err := tagger.Tags(ctx, m)
		if err != nil {
			return Tag{}, false, tagError(err)
		}
		for _, t := range tags {
			if t.Name == name {
				return t, true, nil
			}
		}
		return Tag{}, false, nil
	}
	if t, ok, err := find(); ok || err != nil {
		return t, false, err
	}
	t, err := tagger.CreateTag(ctx, m, name)
	if sendErrCode(err) == errcodeTagNameTaken {
		// Made by someone else since we looked, or a name WeChat refuses.
		if t, ok, err := find(); ok || err != nil {
			return t, false, err
		}
	}
	if err != nil {
		return Tag{}, false, tagError(err)
	}
	return t, true, nil
}

// sendErrCode is the WeChat errcode of a failed call, 0 for none.
func sendErrCode(err error) int {
	var se *SendError
	if errors.As(err, &se) {
		return se.ErrCode
	}
	return 0
}

// tagError turns WeChat's refusal of a tag call into what the merchant
// can act on.
func tagError(err error) error {
	var se *SendError
	switch {
	case !errors.As(err, &se):
		return err
	case se.ErrCode == errcodeTooManyTags:
		return Errorf(ECONFLICT, "the official account has WeChat's maximum of 100 tags: delete one in WeChat's console (用户管理 → 标签) and sync again")
	case se.Class == SendRetry || se.Class == SendQuota:
		return Errorf(EUNAVAILABLE, "WeChat could not manage tags now; try again (%s)", se.Message)
	default:
		return Errorf(EINVALID, "WeChat refused the tag: %s", se.Message)
	}
}
