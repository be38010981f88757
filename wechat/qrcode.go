package wechat

import (
	"context"
	"net/url"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// Parametric QR codes (doc/offiaccount/Account_Management/Generating_a_Parametric_QR_Code.html).
const (
	pathQRCreate = "/cgi-bin/qrcode/create"
	// showQRCodeURL is where WeChat serves a ticket's image. It is not an
	// API call, so the URI modifier never rewrites it: the URL goes into
	// print files and pages as it is.
	showQRCodeURL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
	// qrMaxExpire is WeChat's cap for temporary codes, 30 days, and our
	// default: a printed card should stay scannable as long as it can.
	qrMaxExpire = 30 * 24 * time.Hour
	// qrMaxScene is scene_str's limit, "长度限制为1到64" (bytes, as WeChat
	// counts them).
	qrMaxScene = 64
	// codeQRCodeCountLimit: the account has made all 100 000 permanent
	// codes WeChat allows.
	codeQRCodeCountLimit = 45029
)

type qrScene struct {
	SceneStr string `json:"scene_str"`
}

type qrActionInfo struct {
	Scene qrScene `json:"scene"`
}

// qrCreateBody is qrcode/create's request; a permanent code has no
// expire_seconds.
type qrCreateBody struct {
	ExpireSeconds int64        `json:"expire_seconds,omitempty"`
	ActionName    string       `json:"action_name"`
	ActionInfo    qrActionInfo `json:"action_info"`
}

type qrCreateResult struct {
	Ticket        string `json:"ticket"`
	ExpireSeconds int64  `json:"expire_seconds"`
	URL           string `json:"url"`
}

// CreateQRCode asks WeChat for a QR code carrying req.Scene (1 to 64
// bytes). A temporary code lives req.Expire, rounded up to whole seconds;
// zero (or less) or more than 30 days means 30 days. A failure is a
// *ritual.SendError; permanent codes over WeChat's limit are SendFinal
// with errcode 45029.
func (c *Client) CreateQRCode(ctx context.Context, m *ritual.Merchant, req ritual.QRRequest) (ritual.QRCode, error) {
	if m == nil {
		return ritual.QRCode{}, sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	if n := len(req.Scene); n < 1 || n > qrMaxScene {
		return ritual.QRCode{}, sendErrorf(ritual.SendFinal, 0,
			"create QR code: the scene must be 1 to %d bytes, got %d", qrMaxScene, n)
	}
	body := qrCreateBody{ActionName: "QR_LIMIT_STR_SCENE", ActionInfo: qrActionInfo{Scene: qrScene{SceneStr: req.Scene}}}
	if !req.Permanent {
		body.ActionName = "QR_STR_SCENE"
		body.ExpireSeconds = qrExpireSeconds(req.Expire)
	}
	// Taken before the call, so ExpiresAt is never later than WeChat's
	// own expiry.
	now := time.Now()
	var res qrCreateResult
	if err := c.post(ctx, m, "create QR code", pathQRCreate, body, &res); err != nil {
		if err.ErrCode == codeQRCodeCountLimit {
			err = sendErrorf(ritual.SendFinal, err.ErrCode,
				"create QR code: permanent QR codes are exhausted (WeChat allows 100000 per account); use temporary codes: %s",
				err.Message)
		}
		c.log.Warn("QR code not created", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return ritual.QRCode{}, err
	}
	if res.Ticket == "" {
		err := sendErrorf(ritual.SendRetry, 0, "create QR code: WeChat answered without a ticket")
		c.log.Warn("QR code not created", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return ritual.QRCode{}, err
	}
	qr := ritual.QRCode{Ticket: res.Ticket, ImageURL: showQRCodeURL + url.QueryEscape(res.Ticket)}
	if !req.Permanent {
		// WeChat's answer says how long the code really lives; it may
		// have cut what was asked.
		secs := res.ExpireSeconds
		if secs <= 0 {
			secs = body.ExpireSeconds
		}
		at := now.Add(time.Duration(secs) * time.Second)
		qr.ExpiresAt = &at
	}
	c.log.Debug("QR code created", "merchant", m.ID, "errcode", 0, "permanent", req.Permanent)
	return qr, nil
}

// qrExpireSeconds is the expire_seconds to ask for d.
func qrExpireSeconds(d time.Duration) int64 {
	if d <= 0 || d > qrMaxExpire {
		d = qrMaxExpire
	}
	return int64((d + time.Second - 1) / time.Second)
}
