package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// WeChat errcodes the emulator answers with. The messages are WeChat's own
// English errmsg texts where known (global return codes:
// developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html;
// card codes: .../Cards_and_Offer/Card_coupons_error_code.html).
const (
	codeOK                 = 0
	codeSystemError        = -1
	codeInvalidCredential  = 40001 // token unknown, superseded or not latest
	codeInvalidGrantType   = 40002
	codeInvalidOpenID      = 40003 // "请确认OpenID（该用户）是否已关注公众号"
	codeInvalidMsgType     = 40008
	codeInvalidAppID       = 40013
	codeInvalidOpenIDList  = 40032 // openid list length
	codeInvalidArgs        = 40035
	codeInvalidTemplateID  = 40037
	codeInvalidActionInfo  = 40053
	codeInvalidCardCode    = 40056 // 不合法的Code码
	codeInvalidCardID      = 40073 // 不合法的 cardid
	codeInvalidAppSecret   = 40125
	codeCardDeleted        = 40127 // 卡券被用户删除或转赠中
	codeTokenMissing       = 41001
	codeMissingField       = 41011 // 缺少必填字段 (card API)
	codeTokenExpired       = 42001
	codeRequireGET         = 43001
	codeRequirePOST        = 43002
	codeRequireSubscribe   = 43004
	codeEmptyPostData      = 44002
	codeEmptyContent       = 44004
	codeContentTooLong     = 45002
	codeDailyQuota         = 45009
	codeOutOfTimeLimit     = 45015
	codeQRCodeCountLimit   = 45029
	codeOutOfResponseCount = 45047
	codeTooManyTags        = 45056
	codeTagTooManyFans     = 45057
	codeSystemTag          = 45058
	codeUserTooManyTags    = 45059
	codeInvalidTagName     = 45157
	codeTagNameTooLong     = 45158
	codeInvalidTagID       = 45159
	codeDataFormat         = 47001
	codeArgumentInvalid    = 47003
)

var errmsgs = map[int]string{
	codeOK:                 "ok",
	codeSystemError:        "system error",
	codeInvalidCredential:  "invalid credential, access_token is invalid or not latest",
	codeInvalidGrantType:   "invalid grant_type",
	codeInvalidOpenID:      "invalid openid",
	codeInvalidMsgType:     "invalid message type",
	codeInvalidAppID:       "invalid appid",
	codeInvalidOpenIDList:  "invalid openid list size",
	codeInvalidArgs:        "invalid args",
	codeInvalidTemplateID:  "invalid template_id",
	codeInvalidActionInfo:  "invalid action info",
	codeInvalidCardCode:    "invalid serial code",
	codeInvalidCardID:      "invalid card id",
	codeInvalidAppSecret:   "invalid appsecret",
	codeCardDeleted:        "user card has been deleted or is being given",
	codeTokenMissing:       "access_token missing",
	codeMissingField:       "missing required fields",
	codeTokenExpired:       "access_token expired",
	codeRequireGET:         "require GET method",
	codeRequirePOST:        "require POST method",
	codeRequireSubscribe:   "require subscribe",
	codeEmptyPostData:      "empty post data",
	codeEmptyContent:       "empty content",
	codeContentTooLong:     "content size out of limit",
	codeDailyQuota:         "reach max api daily quota limit",
	codeOutOfTimeLimit:     "response out of time limit or subscription is canceled",
	codeQRCodeCountLimit:   "qrcode count out of limit",
	codeOutOfResponseCount: "out of response count limit",
	codeTooManyTags:        "too many tags now, no need to add new",
	codeTagTooManyFans:     "can't delete the tag that has too many fans",
	codeSystemTag:          "can't modify sys tag",
	codeUserTooManyTags:    "tag list of user is too long",
	codeInvalidTagName:     "invalid tag name",
	codeTagNameTooLong:     "tag name too long",
	codeInvalidTagID:       "invalid tag id",
	codeDataFormat:         "data format error",
	codeArgumentInvalid:    "argument invalid!",
}

// apiError is a WeChat errcode answer: HTTP 200 with {"errcode","errmsg"}.
type apiError struct {
	Code   int
	Detail string // appended to the standard errmsg, e.g. "data.k.value invalid"
}

func (e *apiError) Error() string { return fmt.Sprintf("errcode %d: %s", e.Code, e.message()) }

// message is WeChat's errmsg followed by a request id, as WeChat appends
// " rid: xxxxxxxx-xxxxxxxx-xxxxxxxx" to every error so it can be looked up.
func (e *apiError) message() string {
	msg := errmsgs[e.Code]
	if msg == "" {
		msg = "error"
	}
	if e.Detail != "" {
		msg += " " + e.Detail
	}
	return msg + " rid: " + requestID()
}

func wxErr(code int) *apiError { return &apiError{Code: code} }

func wxErrf(code int, format string, args ...any) *apiError {
	return &apiError{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func requestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:16] + "-" + h[16:]
}
