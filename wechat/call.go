package wechat

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/ritual"
)

// apiStatus is the part of an answer every WeChat API shares; a success
// may leave it out (qrcode/create does).
type apiStatus struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// withToken runs call with merchant m's access token and turns WeChat's
// answer into a *ritual.SendError (nil for errcode 0). call makes one
// request with the token it is given and returns WeChat's errcode and
// errmsg, or a failure that got no answer. what names the call in errors.
//
// A refused token (40001, 40014, 42001) is dropped from the shared cache
// and call run once more with a fresh one. The drop is compare-and-delete,
// so replicas refused the same token leave the one that replaced it alone:
// a refusal costs the fleet one token fetch, not one per replica. A second
// refusal is not retried again, as a fresh token refused means something
// else is wrong.
func (c *Client) withToken(ctx context.Context, m *ritual.Merchant, what string, call func(token string) (apiStatus, *ritual.SendError)) *ritual.SendError {
	a := c.account(m)
	status, token, err := attempt(ctx, a, what, call)
	if err == nil && tokenRefused(status.ErrCode) {
		c.log.Info("access token refused; fetching a new one", "merchant", m.ID, "errcode", status.ErrCode)
		if err := a.token.Refused(ctx, token); err != nil {
			// The retry meets the same token and fails the same way.
			c.log.Warn("refused access token not dropped", "merchant", m.ID, "err", err)
		}
		status, _, err = attempt(ctx, a, what, call)
	}
	switch {
	case err != nil:
		return err
	case status.ErrCode != 0:
		return classifySend(status.ErrCode, Redact(status.ErrMsg))
	}
	return nil
}

// attempt runs call once with a's cached token, fetched first if there is
// none, and returns the token it used so a refusal drops that one and not
// a newer one.
func attempt(ctx context.Context, a *officialAccount, what string, call func(token string) (apiStatus, *ritual.SendError)) (apiStatus, string, *ritual.SendError) {
	if err := ctx.Err(); err != nil {
		return apiStatus{}, "", sendErrorf(ritual.SendRetry, 0, "%s: gave up: %v", what, err)
	}
	token, err := a.oa.GetAccessTokenContext(ctx)
	if err != nil {
		return apiStatus{}, "", classifyToken(ctx, err)
	}
	status, serr := call(token)
	return status, token, serr
}

// post posts body to the WeChat API at path with merchant m's access token
// and, on success, decodes the answer into out (nil: nothing to read).
func (c *Client) post(ctx context.Context, m *ritual.Merchant, what, path string, body, out any) *ritual.SendError {
	return c.withToken(ctx, m, what, func(token string) (apiStatus, *ritual.SendError) {
		return postAPI(ctx, what, path, token, body, out)
	})
}

// get is post for the APIs WeChat serves by GET, the token in the query.
func (c *Client) get(ctx context.Context, m *ritual.Merchant, what, path string, out any) *ritual.SendError {
	return c.withToken(ctx, m, what, func(token string) (apiStatus, *ritual.SendError) {
		return getAPI(ctx, what, path, token, out)
	})
}

// postAPI makes one call with token and decodes errcode and errmsg, and
// out when errcode is 0.
func postAPI(ctx context.Context, what, path, token string, body, out any) (apiStatus, *ritual.SendError) {
	raw, err := util.PostJSONContext(ctx, WeChatOrigin+path+"?access_token="+token, body)
	if err != nil {
		return apiStatus{}, transportError(ctx, what, err)
	}
	undecodable := func(err error) *ritual.SendError {
		return sendErrorf(ritual.SendRetry, 0, "%s: undecodable answer %q: %s",
			what, Redact(truncate(string(raw), 200)), Redact(err.Error()))
	}
	var status apiStatus
	if err := json.Unmarshal(raw, &status); err != nil {
		return apiStatus{}, undecodable(err)
	}
	if status.ErrCode == 0 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return apiStatus{}, undecodable(err)
		}
	}
	return status, nil
}

// getAPI is postAPI by GET, into an out that must not be nil.
func getAPI(ctx context.Context, what, path, token string, out any) (apiStatus, *ritual.SendError) {
	raw, err := util.HTTPGetContext(ctx, WeChatOrigin+path+"?access_token="+token)
	if err != nil {
		return apiStatus{}, transportError(ctx, what, err)
	}
	var status apiStatus
	if err := json.Unmarshal(raw, &status); err != nil {
		return apiStatus{}, sendErrorf(ritual.SendRetry, 0, "%s: undecodable answer %q: %s", what, Redact(truncate(string(raw), 200)), Redact(err.Error()))
	}
	if status.ErrCode == 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return apiStatus{}, sendErrorf(ritual.SendRetry, 0, "%s: %s", what, Redact(fmt.Sprint(err)))
		}
	}
	return status, nil
}
