package emulator

// API paths, as Fault.Path and Account.DailyQuota name them.
const (
	pathToken         = "/cgi-bin/token"
	pathStableToken   = "/cgi-bin/stable_token"
	pathTemplateSend  = "/cgi-bin/message/template/send"
	pathCustomSend    = "/cgi-bin/message/custom/send"
	pathQRCreate      = "/cgi-bin/qrcode/create"
	pathUserInfo      = "/cgi-bin/user/info"
	pathUserGet       = "/cgi-bin/user/get"
	pathTagsCreate    = "/cgi-bin/tags/create"
	pathTagsGet       = "/cgi-bin/tags/get"
	pathTagsUpdate    = "/cgi-bin/tags/update"
	pathTagsDelete    = "/cgi-bin/tags/delete"
	pathTagsBatchTag  = "/cgi-bin/tags/members/batchtagging"
	pathTagsBatchUn   = "/cgi-bin/tags/members/batchuntagging"
	pathTagsIDList    = "/cgi-bin/tags/getidlist"
	pathUserTagGet    = "/cgi-bin/user/tag/get"
	pathCardActivate  = "/card/membercard/activate"
	pathCardUpdate    = "/card/membercard/updateuser"
	pathShowQRCode    = "/showqrcode"
	pathCgiShowQRCode = "/cgi-bin/showqrcode"
)

// defaultDailyQuota is WeChat's per-account daily call limit of a path:
// getAccessToken 2000 a day (api_getaccesstoken), stable_token 500 000
// (api_getstableaccesstoken: "每天限制调用 50万 次"), template messages
// 100 000 ("模板消息的日调用上限为10万次"), customer-service messages
// 500 000. Other paths get 100 000.
var defaultDailyQuota = map[string]int{
	pathToken:        2000,
	pathStableToken:  500000,
	pathTemplateSend: 100000,
	pathCustomSend:   500000,
}

const fallbackDailyQuota = 100000

type dayCount struct {
	day string
	n   int
}

// spendQuota counts one call of path against the account's daily quota and
// refuses it with 45009 once the quota is spent. Every authenticated call
// counts, whether or not it then succeeds. Callers hold e.mu.
func (e *Emulator) spendQuota(a *account, path string) *apiError {
	limit := a.cfg.DailyQuota[path]
	if limit <= 0 {
		limit = defaultDailyQuota[path]
	}
	if limit <= 0 {
		limit = fallbackDailyQuota
	}
	day := cstDay(e.now())
	c := a.quota[path]
	if c == nil || c.day != day {
		c = &dayCount{day: day}
		a.quota[path] = c
	}
	if c.n >= limit {
		return wxErr(codeDailyQuota)
	}
	c.n++
	return nil
}
