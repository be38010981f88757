package emulator

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"time"
)

// QR code rules (doc/offiaccount/Account_Management/Generating_a_Parametric_QR_Code.html):
//   - temporary codes live expire_seconds, 60 when absent, at most 2592000
//     (30 days); a longer request is cut to 30 days, which the answer's
//     expire_seconds shows;
//   - scene_id: "临时二维码时为32位非0整型，永久二维码时最大值为100000（目前参数只支持1--100000）";
//   - scene_str: "长度限制为1到64";
//   - at most 100 000 permanent codes ("目前为最多10万个"); past that
//     WeChat answers 45029 "qrcode count out of limit" (reported on the
//     developer forum for QR_LIMIT_STR_SCENE). A permanent code asked again
//     for the same scene is the same ticket and does not count twice, as
//     WeChat counts codes, not calls ("之前的参数生成过，就不再累计");
//   - a bad scene is 40053 "invalid action info", a bad action_name 40035.
const (
	qrDefaultExpire = 60
	qrMaxExpire     = 2592000
	qrMaxPermanent  = 100000
	qrMaxLimitID    = 100000
	qrMaxSceneStr   = 64
	qrMaxTempID     = 1<<32 - 1
	qrPruneAbove    = 10000 // tickets kept before expired ones are swept
)

const (
	qrScene         = "QR_SCENE"
	qrStrScene      = "QR_STR_SCENE"
	qrLimitScene    = "QR_LIMIT_SCENE"
	qrLimitStrScene = "QR_LIMIT_STR_SCENE"
)

type qrCode struct {
	ticket   string
	appID    string
	sceneID  int64
	sceneStr string
	url      string
	expires  time.Time // zero for a permanent code
}

// scene is the code's scene as EventKey carries it.
func (q *qrCode) scene() string {
	if q.sceneStr != "" {
		return q.sceneStr
	}
	return strconv.FormatInt(q.sceneID, 10)
}

func (q *qrCode) expired(now time.Time) bool {
	return !q.expires.IsZero() && !now.Before(q.expires)
}

type qrRequest struct {
	ExpireSeconds int64  `json:"expire_seconds"`
	ActionName    string `json:"action_name"`
	ActionInfo    struct {
		Scene struct {
			SceneID  int64  `json:"scene_id"`
			SceneStr string `json:"scene_str"`
		} `json:"scene"`
	} `json:"action_info"`
}

// qrResponse has no errcode on success: silenceper's GetQRTicket treats
// any errmsg as an error.
type qrResponse struct {
	Ticket        string `json:"ticket"`
	ExpireSeconds int64  `json:"expire_seconds,omitempty"`
	URL           string `json:"url"`
}

// qrCreate serves POST /cgi-bin/qrcode/create.
func (e *Emulator) qrCreate(a *account, c *call) (any, *apiError) {
	var req qrRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	code, err := parseQRRequest(req)
	if err != nil {
		return nil, err
	}
	code.appID = a.cfg.AppID
	now := e.now()
	if req.ActionName == qrLimitScene || req.ActionName == qrLimitStrScene {
		return e.permanentQR(a, code)
	}
	expire := req.ExpireSeconds
	if expire <= 0 {
		expire = qrDefaultExpire
	}
	expire = min(expire, qrMaxExpire)
	code.expires = now.Add(time.Duration(expire) * time.Second)
	e.keepQR(code)
	return qrResponse{Ticket: code.ticket, ExpireSeconds: expire, URL: code.url}, nil
}

// parseQRRequest checks the action and scene and returns an unsaved code.
func parseQRRequest(req qrRequest) (*qrCode, *apiError) {
	s := req.ActionInfo.Scene
	code := &qrCode{ticket: newTicket(), url: "http://weixin.qq.com/q/" + randomString(18)}
	switch req.ActionName {
	case qrScene:
		if s.SceneID <= 0 || s.SceneID > qrMaxTempID {
			return nil, wxErrf(codeInvalidActionInfo, "(scene_id must be a nonzero 32-bit integer)")
		}
		code.sceneID = s.SceneID
	case qrLimitScene:
		if s.SceneID < 1 || s.SceneID > qrMaxLimitID {
			return nil, wxErrf(codeInvalidActionInfo, "(scene_id of a permanent code is 1..%d)", qrMaxLimitID)
		}
		code.sceneID = s.SceneID
	case qrStrScene, qrLimitStrScene:
		if len(s.SceneStr) < 1 || len(s.SceneStr) > qrMaxSceneStr {
			return nil, wxErrf(codeInvalidActionInfo, "(scene_str is 1..%d characters)", qrMaxSceneStr)
		}
		code.sceneStr = s.SceneStr
	default:
		return nil, wxErrf(codeInvalidArgs, "(action_name %q)", req.ActionName)
	}
	return code, nil
}

// permanentQR returns the account's code for the scene, creating it within
// the 100 000 cap. Callers hold e.mu.
func (e *Emulator) permanentQR(a *account, code *qrCode) (any, *apiError) {
	for _, q := range e.tickets {
		if q.appID == a.cfg.AppID && q.expires.IsZero() && q.sceneID == code.sceneID && q.sceneStr == code.sceneStr {
			return qrResponse{Ticket: q.ticket, URL: q.url}, nil
		}
	}
	if a.permanentQR >= qrMaxPermanent {
		return nil, wxErr(codeQRCodeCountLimit)
	}
	a.permanentQR++
	e.keepQR(code)
	return qrResponse{Ticket: code.ticket, URL: code.url}, nil
}

// keepQR remembers a code, sweeping expired ones once there are many so a
// load run does not grow without bound. Callers hold e.mu.
func (e *Emulator) keepQR(code *qrCode) {
	if len(e.tickets) >= qrPruneAbove {
		now := e.now()
		for t, q := range e.tickets {
			if q.expired(now) {
				delete(e.tickets, t)
			}
		}
	}
	e.tickets[code.ticket] = code
}

// codeForScan finds the code a shopper scans for the scene: the newest
// live one. With no code at all for the scene it returns nil (the shopper
// scanned a code made elsewhere, as demos do); with only expired ones it
// fails, as WeChat tells the user the code has expired. Callers hold e.mu.
func (e *Emulator) codeForScan(a *account, scene string) (*qrCode, error) {
	now := e.now()
	var best *qrCode
	seen := false
	for _, q := range e.tickets {
		if q.appID != a.cfg.AppID || q.scene() != scene {
			continue
		}
		seen = true
		if q.expired(now) {
			continue
		}
		if best == nil || q.expires.IsZero() || (!best.expires.IsZero() && q.expires.After(best.expires)) {
			best = q
		}
	}
	if seen && best == nil {
		return nil, ErrQRCodeExpired
	}
	return best, nil
}

// serveShowQRCode serves GET /showqrcode?ticket= (mp.weixin.qq.com's path;
// /cgi-bin/showqrcode is the same image): a PNG for a known, live ticket,
// 404 otherwise.
func (e *Emulator) serveShowQRCode(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e.applyFault(w, r, path) {
			return
		}
		ticket := r.URL.Query().Get("ticket")
		e.mu.Lock()
		q, ok := e.tickets[ticket]
		live := ok && !q.expired(e.now())
		e.mu.Unlock()
		if !live {
			http.NotFound(w, r)
			return
		}
		img, err := qrImage(ticket)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "max-age=604800")
		_, _ = w.Write(img)
	}
}

// qrImage draws a QR-looking 29×29 grid derived from the ticket: not a
// scannable code, but a real PNG that differs per ticket.
func qrImage(ticket string) ([]byte, error) {
	const modules, scale, quiet = 29, 4, 4
	size := (modules + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	seed := sha256.Sum256([]byte(ticket))
	for y := range modules {
		for x := range modules {
			if !qrModule(seed, x, y, modules) {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray((x+quiet)*scale+dx, (y+quiet)*scale+dy, color.Gray{})
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// qrModule says whether module (x, y) is dark: finder squares in three
// corners, pseudo-random bits elsewhere.
func qrModule(seed [32]byte, x, y, n int) bool {
	for _, c := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
		fx, fy := x-c[0], y-c[1]
		if fx >= 0 && fx < 7 && fy >= 0 && fy < 7 {
			ring := min(fx, fy, 6-fx, 6-fy)
			return ring != 1
		}
	}
	bit := (y*n + x) % 256
	return seed[bit/8]>>(bit%8)&1 == 1
}

// newTicket looks like WeChat's "gQ…" tickets but uses the URL-safe
// alphabet, so a ticket pasted into ?ticket= unescaped still works.
func newTicket() string { return "gQ" + randomString(72) }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
