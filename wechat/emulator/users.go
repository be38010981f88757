package emulator

import (
	"sort"
	"strconv"
	"time"
)

// user is what an account knows of one openid.
type user struct {
	openid    string
	following bool
	since     time.Time // subscribe_time of the current follow
	scene     string    // subscribe_scene
	qrScene   int
	qrStr     string
	tags      []int    // tag ids, in the order they were added
	window    csWindow // customer-service allowance, see custom.go
}

// subscribe_scene values of user/info (api_getuserinfo: "返回用户关注的渠道来源").
const (
	sceneQRCode = "ADD_SCENE_QR_CODE"
	sceneOthers = "ADD_SCENE_OTHERS"
)

// follow records a subscription; qrScene is "" for a plain follow.
func (u *user) follow(now time.Time, code *qrCode, qrScene string) {
	u.following, u.since = true, now
	u.scene, u.qrScene, u.qrStr = sceneOthers, 0, ""
	if qrScene == "" {
		return
	}
	u.scene = sceneQRCode
	// WeChat fills qr_scene for integer codes and qr_scene_str for string
	// codes; without a known code, a number counts as an integer scene.
	n, err := strconv.Atoi(qrScene)
	numeric := err == nil && (code == nil || code.sceneID != 0)
	if numeric {
		u.qrScene = n
	} else {
		u.qrStr = qrScene
	}
}

// unfollow ends the subscription. Tags stay with the openid, as WeChat
// keeps them for a returning follower, but the reply window closes.
func (u *user) unfollow() {
	u.following = false
	u.window = csWindow{}
}

// SetFollowing changes follow state without a delivery (a test helper).
// Nothing is delivered, so it opens no customer-service window. It does
// nothing for an unknown account.
func (e *Emulator) SetFollowing(appID, openid string, following bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.lookup(appID)
	if err != nil {
		e.log.Warn("SetFollowing: unknown account", "account", appID)
		return
	}
	u := a.user(openid)
	switch {
	case following && !u.following:
		u.follow(e.now(), nil, "")
	case !following && u.following:
		u.unfollow()
	}
}

// Followers lists the openids following the account (by AppID or Name),
// sorted.
func (e *Emulator) Followers(appID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.lookup(appID)
	if err != nil {
		return nil
	}
	return a.followers()
}

type userInfoFollower struct {
	Subscribe      int    `json:"subscribe"`
	OpenID         string `json:"openid"`
	Language       string `json:"language"`
	SubscribeTime  int64  `json:"subscribe_time"`
	Remark         string `json:"remark"`
	GroupID        int    `json:"groupid"`
	TagIDList      []int  `json:"tagid_list"`
	SubscribeScene string `json:"subscribe_scene"`
	QrScene        int    `json:"qr_scene"`
	QrSceneStr     string `json:"qr_scene_str"`
}

// userInfoNotFollowing is all WeChat says of a user who does not follow
// (api_getuserinfo: "值为0时，代表此用户没有关注该公众号，拉取不到其余信息").
type userInfoNotFollowing struct {
	Subscribe int    `json:"subscribe"`
	OpenID    string `json:"openid"`
}

// userInfo serves GET /cgi-bin/user/info?openid=&lang=. Since the
// 2021-12-27 change WeChat no longer returns nickname, sex, city or
// headimgurl here, so neither does the emulator.
func (e *Emulator) userInfo(a *account, c *call) (any, *apiError) {
	u, ok := a.users[c.query.Get("openid")]
	if !ok {
		return nil, wxErr(codeInvalidOpenID)
	}
	if !u.following {
		return userInfoNotFollowing{Subscribe: 0, OpenID: u.openid}, nil
	}
	lang := c.query.Get("lang")
	if lang == "" {
		lang = "zh_CN"
	}
	return userInfoFollower{
		Subscribe: 1, OpenID: u.openid, Language: lang, SubscribeTime: u.since.Unix(),
		TagIDList: nonNil(append([]int(nil), u.tags...)), SubscribeScene: u.scene,
		QrScene: u.qrScene, QrSceneStr: u.qrStr,
	}, nil
}

type openidPage struct {
	Count      int         `json:"count"`
	Data       *openidList `json:"data,omitempty"`
	NextOpenID string      `json:"next_openid"`
}

type openidList struct {
	OpenID []string `json:"openid"`
}

// pageSize is how many openids user/get and user/tag/get return at once
// (api_getfans: "一次拉取调用最多拉取10000个关注者的OpenID").
const pageSize = 10000

// page cuts the sorted openids after next into a WeChat page.
func page(sorted []string, next string) openidPage {
	start := 0
	if next != "" {
		start = sort.SearchStrings(sorted, next)
		if start < len(sorted) && sorted[start] == next {
			start++
		}
	}
	rest := sorted[start:]
	if len(rest) > pageSize {
		rest = rest[:pageSize]
	}
	p := openidPage{Count: len(rest)}
	if len(rest) > 0 {
		p.Data = &openidList{OpenID: rest}
		p.NextOpenID = rest[len(rest)-1]
	}
	return p
}

// userGet serves GET /cgi-bin/user/get?next_openid=.
func (e *Emulator) userGet(a *account, c *call) (any, *apiError) {
	all := a.followers()
	return struct {
		Total int `json:"total"`
		openidPage
	}{len(all), page(all, c.query.Get("next_openid"))}, nil
}
