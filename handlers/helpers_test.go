package handlers_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/handlers"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// env is one service under test: a real club on a real database behind the
// real router, with a clock the test moves.
type env struct {
	t        *testing.T
	db       *models.DB
	club     *ritual.Club
	clock    *ritualtest.Clock
	server   *httptest.Server
	merchant *ritual.Merchant
	apiKey   string
}

func newEnv(t *testing.T, db *models.DB, clock *ritualtest.Clock, mode string, window time.Duration) *env {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	e := &env{t: t, db: db, club: club, clock: clock}
	e.merchant, e.apiKey = e.seed(ritualtest.Merchant(mode))
	opts := clubOptions(club)
	opts.ReplayWindow = window
	e.server = httptest.NewServer(handlers.New(opts))
	t.Cleanup(e.server.Close)
	return e
}

// clubOptions puts club behind every route, as cmd/wxclub does.
func clubOptions(club *ritual.Club) handlers.Options {
	if club == nil {
		club = &ritual.Club{}
	}
	return handlers.Options{
		Merchants: club.Directory, Chat: club.Chat, GroupChat: club.GroupChat, Members: club.Reports,
		Cards: club.Cards, Orders: club.Shop, Rewards: club.Shop, Reports: club.Reports,
		Campaigns: club.Calendar, Groups: club.Reports, Tags: club.Tags, Ceremonies: club.Upgrades,
		Settings: club.Admin,
	}
}

// noDomain returns options for a router with no domain behind it, for
// what needs none (the OpenAPI document): every domain field holds a nil
// *ritual.Club, so New builds every route and any call into the domain
// panics.
func noDomain() handlers.Options { return clubOptions(nil) }

func (e *env) seed(m *ritual.Merchant) (*ritual.Merchant, string) {
	e.t.Helper()
	key := "key-" + m.ID
	if _, err := e.club.SeedMerchant(context.Background(), m, key); err != nil {
		e.t.Fatal(err)
	}
	return m, key
}

// delivery is one request as WeChat would send it.
type delivery struct {
	acct      ritual.OfficialAccount
	merchant  string
	plain     string
	safe      bool
	timestamp int64
	nonce     string
	// tampering
	signature    string
	msgSignature string
	sealAppID    string
}

func (e *env) textXML(openid, content string, msgID int64) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
		openid, e.clock.Now().Unix(), content, msgID)
}

func (e *env) eventXML(openid, event, key string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event><EventKey><![CDATA[%s]]></EventKey></xml>`,
		openid, e.clock.Now().Unix(), event, key)
}

func (e *env) deliver(plain string, safe bool) delivery {
	return delivery{acct: e.merchant.OfficialAccount, merchant: e.merchant.ID, plain: plain, safe: safe,
		timestamp: e.clock.Now().Unix(), nonce: "n" + strconv.FormatInt(e.clock.Now().UnixNano(), 10)}
}

// request builds the HTTP request of d: query signed, body sealed in safe mode.
func (d delivery) request(base string) *http.Request {
	ts := strconv.FormatInt(d.timestamp, 10)
	q := url.Values{"timestamp": {ts}, "nonce": {d.nonce}, "openid": {"ignored"}}
	q.Set("signature", util.Signature(d.acct.Token, ts, d.nonce))
	if d.signature != "" {
		q.Set("signature", d.signature)
	}
	body := []byte(d.plain)
	if d.safe {
		appID := d.acct.AppID
		if d.sealAppID != "" {
			appID = d.sealAppID
		}
		enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(d.plain), appID, d.acct.EncodingAESKey)
		if err != nil {
			panic(err)
		}
		body = []byte(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[` + string(enc) + `]]></Encrypt></xml>`)
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", util.Signature(d.acct.Token, ts, d.nonce, string(enc)))
		if d.msgSignature != "" {
			q.Set("msg_signature", d.msgSignature)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/wechat/"+d.merchant+"?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	return req
}

type response struct {
	status int
	body   string
	header http.Header
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func (e *env) send(d delivery) response { return e.do(d.request(e.server.URL)) }

// passiveReply is WeChat's view of a text reply.
type passiveReply struct {
	ToUserName   string
	FromUserName string
	CreateTime   int64
	MsgType      string
	Content      string
}

// open reads a reply as WeChat does: verify msg_signature and decrypt in
// safe mode, parse the XML.
func (e *env) open(r response, safe bool) passiveReply {
	e.t.Helper()
	if r.status != http.StatusOK {
		e.t.Fatalf("status %d (%s), want 200", r.status, r.body)
	}
	plain := []byte(r.body)
	if safe {
		var env struct {
			Encrypt, MsgSignature, Nonce string
			TimeStamp                    string
		}
		if err := xml.Unmarshal(plain, &env); err != nil || env.Encrypt == "" {
			e.t.Fatalf("safe-mode reply is not an encrypted envelope: %q", r.body)
		}
		if got := util.Signature(e.merchant.OfficialAccount.Token, env.TimeStamp, env.Nonce, env.Encrypt); got != env.MsgSignature {
			e.t.Fatalf("reply msg_signature %s, want %s", env.MsgSignature, got)
		}
		_, raw, err := util.DecryptMsg(e.merchant.OfficialAccount.AppID, env.Encrypt, e.merchant.OfficialAccount.EncodingAESKey)
		if err != nil {
			e.t.Fatalf("decrypt reply: %v", err)
		}
		plain = raw
	}
	var reply passiveReply
	if err := xml.Unmarshal(plain, &reply); err != nil {
		e.t.Fatalf("reply is not XML: %q", plain)
	}
	return reply
}

// memberExists reports whether the merchant has a member with openid.
func (e *env) memberExists(openid string) bool {
	e.t.Helper()
	_, err := e.db.Members().ByOpenID(context.Background(), e.merchant.ID, openid)
	if ritual.ErrorCode(err) == ritual.ENOTFOUND {
		return false
	} else if err != nil {
		e.t.Fatal(err)
	}
	return true
}
