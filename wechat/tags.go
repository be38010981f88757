package wechat

import (
	"context"

	"github.com/wxclub/wxclub/ritual"
)

// User tags (doc/offiaccount/User_Management/User_Tag_Management.html).
const (
	pathTagsCreate   = "/cgi-bin/tags/create"
	pathTagsGet      = "/cgi-bin/tags/get"
	pathTagsBatchTag = "/cgi-bin/tags/members/batchtagging"
	// maxTagBatch is batchtagging's limit; more is 40032.
	maxTagBatch = 50
)

var _ ritual.Tagger = (*Client)(nil)

type tagJSON struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

type tagBody struct {
	Tag tagJSON `json:"tag"`
}

// CreateTag creates a user tag on merchant m's account. A failure is a
// *ritual.SendError: 45056 when the account has its 100 tags, 45157 for a
// name taken (or 星标组), 45158 for a name over 30 bytes; all SendFinal.
func (c *Client) CreateTag(ctx context.Context, m *ritual.Merchant, name string) (ritual.Tag, error) {
	if m == nil {
		return ritual.Tag{}, sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	var res tagBody
	if err := c.post(ctx, m, "create tag", pathTagsCreate, tagBody{Tag: tagJSON{Name: name}}, &res); err != nil {
		c.log.Warn("tag not created", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return ritual.Tag{}, err
	}
	if res.Tag.ID == 0 {
		return ritual.Tag{}, sendErrorf(ritual.SendRetry, 0, "create tag: WeChat answered without a tag id")
	}
	return ritual.Tag{ID: res.Tag.ID, Name: res.Tag.Name}, nil
}

// Tags lists merchant m's tags with their follower counts, WeChat's own
// 星标组 included.
func (c *Client) Tags(ctx context.Context, m *ritual.Merchant) ([]ritual.Tag, error) {
	if m == nil {
		return nil, sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	var res struct {
		Tags []tagJSON `json:"tags"`
	}
	if err := c.get(ctx, m, "list tags", pathTagsGet, &res); err != nil {
		c.log.Warn("tags not listed", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return nil, err
	}
	out := make([]ritual.Tag, len(res.Tags))
	for i, t := range res.Tags {
		out[i] = ritual.Tag{ID: t.ID, Name: t.Name, Count: t.Count}
	}
	return out, nil
}

type batchTagBody struct {
	OpenIDList []string `json:"openid_list"`
	TagID      int      `json:"tagid"`
}

// TagUsers puts up to 50 followers under tagID; WeChat does it for all of
// them or none. A failure is a *ritual.SendError: 45059 when one of them
// carries 20 tags already, 40003 when one does not follow, 45159 for an
// unknown tag.
func (c *Client) TagUsers(ctx context.Context, m *ritual.Merchant, tagID int, openids []string) error {
	if m == nil {
		return sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	if n := len(openids); n == 0 || n > maxTagBatch {
		return sendErrorf(ritual.SendFinal, 0, "tag users: 1 to %d openids at a time, got %d", maxTagBatch, n)
	}
	if err := c.post(ctx, m, "tag users", pathTagsBatchTag, batchTagBody{OpenIDList: openids, TagID: tagID}, nil); err != nil {
		c.log.Warn("users not tagged", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode, "users", len(openids))
		return err
	}
	return nil
}
