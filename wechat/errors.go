package wechat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"

	"github.com/wxclub/wxclub/ritual"
)

// WeChat errcodes the client acts on (global return codes,
// developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html).
const (
	codeSystemBusy        = -1    // 系统繁忙，此时请开发者稍候再试
	codeInvalidCredential = 40001 // access_token invalid or superseded by a newer one
	codeInvalidAppID      = 40013
	codeInvalidToken      = 40014 // 不合法的 access_token
	codeInvalidAppSecret  = 40125
	codeIPNotWhitelisted  = 40164 // 调用接口的IP地址不在白名单中
	codeTokenExpired      = 42001
	codeRequireSubscribe  = 43004
	codeDailyQuota        = 45009
	codeCallTooFrequent   = 45011 // API 调用太频繁，请稍候再试
)

// tokenRefused reports an errcode that means the access token itself was
// refused: the cached one is dropped and the call retried once.
func tokenRefused(code int) bool {
	return code == codeInvalidCredential || code == codeInvalidToken || code == codeTokenExpired
}

// credentialsRefused reports an errcode by which WeChat refuses the
// merchant's app id, secret or server IP when a token is asked for. The
// merchant can fix that in WeChat's console or in wxclub, so messages wait
// (SendRetry) rather than fail for good.
func credentialsRefused(code int) bool {
	return code == codeInvalidAppID || code == codeInvalidAppSecret || code == codeIPNotWhitelisted
}

// classifySend turns WeChat's non-zero answer to a template send into a
// *ritual.SendError. errmsg must already be redacted.
func classifySend(code int, errmsg string) *ritual.SendError {
	switch {
	case code == codeSystemBusy:
		return sendErrorf(ritual.SendRetry, code, "WeChat is busy: %s", errmsg)
	case code == codeCallTooFrequent:
		// Not in the relay's contract by name, but WeChat's own advice for
		// it is "try again later": failing the message for good would lose
		// it over a minute's burst.
		return sendErrorf(ritual.SendRetry, code, "calls too frequent: %s", errmsg)
	case code == codeIPNotWhitelisted:
		// Usually met at the token call; seen here it is the same
		// misconfiguration, which the merchant can fix.
		return sendErrorf(ritual.SendRetry, code, "server IP not in the account's whitelist: %s", errmsg)
	case tokenRefused(code):
		return sendErrorf(ritual.SendRetry, code, "access token refused again after a refresh: %s", errmsg)
	case code == codeDailyQuota:
		return sendErrorf(ritual.SendQuota, code, "daily quota spent: %s", errmsg)
	case code == codeRequireSubscribe:
		return sendErrorf(ritual.SendNotFollowing, code, "user does not follow the account: %s", errmsg)
	default:
		// 43101 user refused, 45015/45047 outside the window, 40003 openid,
		// 40037 template, 47001/47003 data, 41028 ... and anything unknown:
		// sending the same message again would get the same answer.
		return sendErrorf(ritual.SendFinal, code, "refused: %s", errmsg)
	}
}

// errcodeInText finds the errcode silenceper formats into its errors
// ("get access_token error : errcode=40125 , errormsg=...").
var errcodeInText = regexp.MustCompile(`errcode=(-?\d+)`)

// classifyToken turns a failure to get an access token into a
// *ritual.SendError. Every such failure is SendRetry: the message itself
// was never judged by WeChat.
func classifyToken(ctx context.Context, err error) *ritual.SendError {
	msg := Redact(err.Error())
	if m := errcodeInText.FindStringSubmatch(err.Error()); m != nil {
		code, convErr := strconv.Atoi(m[1])
		if convErr == nil && code != 0 {
			if credentialsRefused(code) {
				return sendErrorf(ritual.SendRetry, code, "get access token: the merchant's app id, secret or server IP is refused; fix the credentials: %s", msg)
			}
			return sendErrorf(ritual.SendRetry, code, "get access token: %s", msg)
		}
	}
	return transportError(ctx, "get access token", err)
}

// transportError is a call that got no WeChat answer: network, timeout,
// cancellation, a non-200 status or a body that is not WeChat's JSON.
func transportError(ctx context.Context, what string, err error) *ritual.SendError {
	msg := Redact(err.Error())
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		return sendErrorf(ritual.SendRetry, 0, "%s: gave up: %v: %s", what, ctx.Err(), msg)
	case errors.As(err, &netErr) && netErr.Timeout():
		return sendErrorf(ritual.SendRetry, 0, "%s: timed out: %s", what, msg)
	default:
		return sendErrorf(ritual.SendRetry, 0, "%s: %s", what, msg)
	}
}

func sendErrorf(class ritual.SendClass, code int, format string, args ...any) *ritual.SendError {
	return &ritual.SendError{Class: class, ErrCode: code, Message: fmt.Sprintf(format, args...)}
}
