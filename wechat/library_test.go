package wechat_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/silenceper/wechat/v2" // its init turns logrus to debug level; ConfigureLibrary must undo that
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/util"
	"github.com/sirupsen/logrus"

	"github.com/wxclub/wxclub/wechat"
)

// These tests change silenceper's process-global state, as main does once;
// they run sequentially in this package's own process.

func TestLibraryLoggingNeverShowsBodiesOrSecrets(t *testing.T) {
	var out bytes.Buffer
	wechat.ConfigureLibrary(wechat.LibraryOptions{Logger: slog.New(slog.NewTextHandler(&out, nil))})

	// What silenceper's server logs at debug: whole message bodies.
	logrus.Debugf("request msg =%s", "<xml><FromUserName>oyORnuP8q7ou2gfYjqLzSIWZf0rs</FromUserName><Content>我的手机号13800138000</Content></xml>")
	logrus.Infof("response msg =%s", "<xml>secret reply</xml>")
	if out.Len() != 0 {
		t.Fatalf("debug/info output reached the log: %q", out.String())
	}

	// Errors still reach the operator, with secrets masked.
	logrus.Errorf("http get error : uri=https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s3cr3t , statusCode=502")
	logrus.Errorf("send to oyORnuP8q7ou2gfYjqLzSIWZf0rs failed: access_token=ACCESS123&x=1")
	got := out.String()
	for _, leaked := range []string{"s3cr3t", "ACCESS123", "oyORnuP8q7ou2gfYjqLzSIWZf0rs"} {
		if strings.Contains(got, leaked) {
			t.Fatalf("log shows %q: %s", leaked, got)
		}
	}
	if !strings.Contains(got, "statusCode=502") || !strings.Contains(got, "component=silenceper") {
		t.Fatalf("the error itself is lost: %q", got)
	}
}

func TestLibraryHTTPClientTimesOutAndCallsTheConfiguredBase(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Query().Get("appid") == "slow" {
			<-release
		}
		w.Write([]byte(`{"access_token":"T","expires_in":7200}`))
	}))
	defer srv.Close()
	defer close(release)
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: srv.URL + "/emu", Timeout: 300 * time.Millisecond})

	tok, err := credential.GetTokenFromServer("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s")
	if err != nil || tok.AccessToken != "T" {
		t.Fatalf("token = %+v, %v; want silenceper to reach the configured base", tok, err)
	}
	mu.Lock()
	got := append([]string(nil), paths...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "/emu/cgi-bin/token" {
		t.Fatalf("paths = %v, want /emu/cgi-bin/token", got)
	}

	start := time.Now()
	_, err = util.HTTPGet("https://api.weixin.qq.com/cgi-bin/token?appid=slow")
	if err == nil {
		t.Fatal("a hung WeChat call returned without error")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a hung call took %s; the client has no working timeout", took)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"uri=https://x/cgi-bin/user/info?access_token=abc&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs": "uri=https://x/cgi-bin/user/info?access_token=***&openid=***",
		"touser oyORnuP8q7ou2gfYjqLzSIWZf0rs not following":                                    "touser o*** not following",
		"appsecret=zzz&code=123":                   "appsecret=***&code=***",
		"errcode=40001, errmsg=invalid credential": "errcode=40001, errmsg=invalid credential",
	} {
		if got := wechat.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
