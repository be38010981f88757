package handlers_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/handlers"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// The fuzz targets feed the inbound parsers whatever the fuzzer makes up,
// correctly signed so that it gets past authentication, and hold every
// answer to three properties: nothing panics (the router would answer
// 500), nothing answers 5xx, and a rejected request stores nothing. The
// seed corpora are in testdata/fuzz; .ci/run fuzzes each target briefly.

// fuzzEnv is the whole service on a SQLite database of its own, driven
// without a network.
type fuzzEnv struct {
	db      *models.DB
	club    *ritual.Club
	clock   *ritualtest.Clock
	handler http.Handler
	tables  []string // those with a merchant_id
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	clock := &ritualtest.Clock{}
	db := modelstest.Open(f, models.DriverSQLite, clock.Now)
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	opts := clubOptions(club)
	opts.ReplayWindow = 5 * time.Minute
	return &fuzzEnv{db: db, club: club, clock: clock, handler: handlers.New(opts), tables: merchantTables(f, db)}
}

// merchant seeds a fresh merchant, so that every input starts from the same
// state and a failure replays as it happened.
func (fe *fuzzEnv) merchant(t *testing.T, mode string) (*ritual.Merchant, string) {
	m := ritualtest.Merchant(mode)
	m.Groups = ritual.Groups{Secret: "bridge-secret-" + m.ID, Operators: []string{"op-1"}}
	m.SignIn = ritual.SignIn{Points: 10}
	key := "key-" + m.ID
	if _, err := fe.club.SeedMerchant(context.Background(), m, key); err != nil {
		t.Fatal(err)
	}
	return m, key
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// noServerError fails on a 5xx, which is also what a recovered panic is.
func noServerError(t *testing.T, what string, rec *httptest.ResponseRecorder, input []byte) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s answered %d %q to %q", what, rec.Code, rec.Body.String(), input)
	}
}

// merchantTables lists the tables that hold merchants' rows.
func merchantTables(tb testing.TB, db *models.DB) []string {
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'merchant_id'`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, name)
	}
	if len(tables) < 10 {
		tb.Fatalf("only %d tables have merchant_id: %v", len(tables), tables)
	}
	return tables
}

// merchantRows counts, per table, the rows of merchant id: what a rejected
// request must leave as it found.
func (fe *fuzzEnv) merchantRows(t *testing.T, id string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range fe.tables {
		var n int
		if err := fe.db.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM "`+table+`" WHERE merchant_id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

func sameRows(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// fuzzMerchants is the one merchant the webhook envelope target talks to.
type fuzzMerchants struct{ m *ritual.Merchant }

func (f fuzzMerchants) Merchant(_ context.Context, id string) (*ritual.Merchant, error) {
	if id != f.m.ID {
		return nil, ritual.Errorf(ritual.ENOTFOUND, "no merchant %s", id)
	}
	return f.m, nil
}

func (f fuzzMerchants) MerchantByAPIKey(context.Context, string) (*ritual.Merchant, error) {
	return nil, ritual.Errorf(ritual.EUNAUTHORIZED, "no API here")
}

func (f fuzzMerchants) Ready(context.Context) error { return nil }

// countingChat answers every delivery by echoing its content and counts
// the deliveries that reached it: the domain, where storing happens.
type countingChat struct {
	mu    sync.Mutex
	calls int
}

func (c *countingChat) Now() time.Time { return (&ritualtest.Clock{}).Now() }

func (c *countingChat) HandleMessage(_ context.Context, _ *ritual.Merchant, msg ritual.InboundMessage) (ritual.Reply, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return ritual.Reply{Text: msg.Content}, nil
}

func (c *countingChat) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls = 0
	return n
}

// sealRaw encrypts payload, the decrypted form of an Encrypt element
// (16 random bytes, a 4-byte length, the message, the AppID), as WeChat
// does: AES-256-CBC with the key's first 16 bytes as IV. A payload that is
// not whole blocks gets WeChat's PKCS#7 padding to 32 bytes; one that is
// goes as it is, so the fuzzer controls the padding too.
func sealRaw(key, payload []byte) []byte {
	data := append([]byte(nil), payload...)
	if len(data)%aes.BlockSize != 0 {
		pad := 32 - len(data)%32
		data = append(data, bytes.Repeat([]byte{byte(pad)}, pad)...)
	}
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(out, data)
	return out
}

// signedDelivery signs a safe- or plaintext-mode delivery of body at now,
// msg_signature over whatever Encrypt element body holds.
func signedDelivery(acct ritual.OfficialAccount, merchant string, now time.Time, body []byte, safe bool) *http.Request {
	ts, nonce := strconv.FormatInt(now.Unix(), 10), "fuzz"
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {util.Signature(acct.Token, ts, nonce)}}
	if safe {
		var env struct {
			Encrypt string `xml:"Encrypt"`
		}
		_ = xml.Unmarshal(body, &env)
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", util.Signature(acct.Token, ts, nonce, env.Encrypt))
	}
	req := httptest.NewRequest(http.MethodPost, "/wechat/"+merchant+"?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	return req
}

// FuzzWechatEnvelope: a safe-mode delivery, signed, whose envelope (raw)
// or decrypted payload (sealed) the fuzzer makes up. Whatever it holds,
// the answer is not 5xx, a rejection never reaches the domain, and an
// accepted delivery gets a body.
func FuzzWechatEnvelope(f *testing.F) {
	m := ritualtest.Merchant(ritual.ModeSafe)
	m.OfficialAccount.AppID = "wxfuzz" // the sealed seeds name it
	chat := &countingChat{}
	opts := noDomain()
	opts.Merchants, opts.Chat = fuzzMerchants{m}, chat
	h := handlers.New(opts)
	key, err := base64.StdEncoding.DecodeString(ritualtest.AESKey + "=")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		body := data
		if sealed {
			enc := base64.StdEncoding.EncodeToString(sealRaw(key, data))
			body = []byte(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[` + enc + `]]></Encrypt></xml>`)
		}
		chat.take()
		rec := serve(h, signedDelivery(m.OfficialAccount, m.ID, chat.Now(), body, true))
		noServerError(t, "safe-mode delivery", rec, data)
		calls := chat.take()
		switch {
		case rec.Code != http.StatusOK && calls != 0:
			t.Fatalf("rejected with %d %q, but the domain saw the delivery", rec.Code, rec.Body.String())
		case rec.Code == http.StatusOK && (calls != 1 || rec.Body.Len() == 0):
			t.Fatalf("accepted with %q after %d domain calls, want one and a body", rec.Body.String(), calls)
		}
	})
}

// FuzzWechatMessage: a delivery whose plaintext XML the fuzzer makes up,
// plain or correctly sealed, handled by the real domain on SQLite. No
// answer is 5xx, and a rejected one leaves the merchant's rows as they
// were.
func FuzzWechatMessage(f *testing.F) {
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, plain []byte, safe bool) {
		mode := ritual.ModePlaintext
		if safe {
			mode = ritual.ModeSafe
		}
		m, _ := fe.merchant(t, mode)
		body := plain
		if safe {
			enc, err := util.EncryptMsg([]byte("0123456789abcdef"), plain, m.OfficialAccount.AppID, m.OfficialAccount.EncodingAESKey)
			if err != nil {
				t.Fatal(err)
			}
			body = []byte(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[` + string(enc) + `]]></Encrypt></xml>`)
		}
		before := fe.merchantRows(t, m.ID)
		rec := serve(fe.handler, signedDelivery(m.OfficialAccount, m.ID, fe.clock.Now(), body, safe))
		noServerError(t, "delivery", rec, plain)
		if rec.Code == http.StatusOK && rec.Body.Len() == 0 {
			t.Fatalf("accepted with an empty body")
		}
		if rec.Code != http.StatusOK && !sameRows(before, fe.merchantRows(t, m.ID)) {
			t.Fatalf("rejected with %d %q, but rows changed: %v → %v", rec.Code, rec.Body.String(), before, fe.merchantRows(t, m.ID))
		}
	})
}

// FuzzGroupMessage: a bridge message whose JSON the fuzzer makes up,
// correctly signed, handled by the real domain on SQLite.
func FuzzGroupMessage(f *testing.F) {
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, _ := fe.merchant(t, ritual.ModePlaintext)
		ts := strconv.FormatInt(fe.clock.Now().Unix(), 10)
		req := httptest.NewRequest(http.MethodPost, "/group/"+m.ID, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(ritual.GroupTimestampHeader, ts)
		req.Header.Set(ritual.GroupSignatureHeader, ritual.GroupSignature(m.Groups.Secret, ts, body))
		before := fe.merchantRows(t, m.ID)
		rec := serve(fe.handler, req)
		noServerError(t, "bridge message", rec, body)
		if rec.Code != http.StatusOK && !sameRows(before, fe.merchantRows(t, m.ID)) {
			t.Fatalf("rejected with %d %s, but rows changed: %v → %v", rec.Code, rec.Body.String(), before, fe.merchantRows(t, m.ID))
		}
		if rec.Code == http.StatusOK {
			if !json.Valid(body) || !utf8.Valid(body) {
				t.Fatalf("accepted %q, which is not one JSON value in UTF-8", body)
			}
			var answer struct {
				Replies []struct{ Text string } `json:"replies"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Replies == nil {
				t.Fatalf("accepted with %q, not {\"replies\":[...]}", rec.Body.String())
			}
		}
	})
}

// FuzzSettingsSection: a settings section whose JSON the fuzzer makes up,
// put through the API. No answer is 5xx; a refused one changes nothing;
// an accepted one was one JSON value in UTF-8, reads back, and that
// reading put back is no change.
func FuzzSettingsSection(f *testing.F) {
	fe := newFuzzEnv(f)
	sections := ritual.SettingsSections()
	call := func(method, path, key string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return serve(fe.handler, req)
	}
	f.Fuzz(func(t *testing.T, section uint8, body []byte) {
		_, key := fe.merchant(t, ritual.ModeSafe)
		name := sections[int(section)%len(sections)]
		before := call("GET", "/api/v1/settings", key, nil)
		rec := call("PUT", "/api/v1/settings/"+name, key, body)
		noServerError(t, "PUT "+name, rec, body)
		after := call("GET", "/api/v1/settings", key, nil)
		noServerError(t, "GET settings after PUT "+name, after, body)
		if rec.Code != http.StatusOK {
			if after.Body.String() != before.Body.String() {
				t.Fatalf("PUT %s refused with %d %s, but the settings changed:\n%s\n%s", name, rec.Code, rec.Body.String(), before.Body.String(), after.Body.String())
			}
			return
		}
		if !json.Valid(body) || !utf8.Valid(body) {
			t.Fatalf("PUT %s accepted %q, which is not one JSON value in UTF-8", name, body)
		}
		read := call("GET", "/api/v1/settings/"+name, key, nil)
		noServerError(t, "GET "+name, read, body)
		var got struct {
			Version int             `json:"version"`
			Value   json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(read.Body.Bytes(), &got); err != nil {
			t.Fatalf("GET %s: %q", name, read.Body.String())
		}
		again := call("PUT", "/api/v1/settings/"+name, key, got.Value)
		if again.Code != http.StatusOK || !bytes.Contains(again.Body.Bytes(), []byte(fmt.Sprintf(`"version":%d`, got.Version))) {
			t.Fatalf("%s accepted %q and reads back %s, but putting that back answers %d %s, want 200 at version %d",
				name, body, got.Value, again.Code, again.Body.String(), got.Version)
		}
	})
}
