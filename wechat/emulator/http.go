package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiPrefix is where the emulator is mounted: a service points silenceper
// at it by replacing https://api.weixin.qq.com with http://host/emu.
const apiPrefix = "/emu"

// maxRequestBody bounds what an API call may post; WeChat's own limit for
// JSON bodies is far below this.
const maxRequestBody = 1 << 20

// call is one WeChat API request, read in full before any lock is taken so
// a slow client never holds the emulator up.
type call struct {
	r     *http.Request
	query url.Values
	body  []byte
}

// decode reads the JSON body into v the way WeChat complains about it: no
// body is 44002 "empty post data", bad JSON is 47001 "data format error".
func (c *call) decode(v any) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return wxErr(codeEmptyPostData)
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return wxErrf(codeDataFormat, "(%v)", err)
	}
	return nil
}

// apiFunc serves one WeChat API path and answers a JSON value or an
// errcode.
type apiFunc func(c *call) (any, *apiError)

// authedFunc serves an API that takes ?access_token=; it runs with e.mu
// held, after the token and the daily quota were checked.
type authedFunc func(a *account, c *call) (any, *apiError)

type api struct {
	method string
	serve  apiFunc
}

// apis lists every WeChat API the emulator serves, by the path silenceper
// calls (prefixed with /emu on the wire).
func (e *Emulator) apis() map[string]api {
	get := func(f apiFunc) api { return api{http.MethodGet, f} }
	post := func(f apiFunc) api { return api{http.MethodPost, f} }
	authed := e.authed
	return map[string]api{
		pathToken:        get(e.getToken),
		pathStableToken:  post(e.stableToken),
		pathTemplateSend: post(authed(pathTemplateSend, e.templateSend)),
		pathCustomSend:   post(authed(pathCustomSend, e.customSend)),
		pathQRCreate:     post(authed(pathQRCreate, e.qrCreate)),
		pathUserInfo:     get(authed(pathUserInfo, e.userInfo)),
		pathUserGet:      get(authed(pathUserGet, e.userGet)),
		pathTagsCreate:   post(authed(pathTagsCreate, e.tagsCreate)),
		pathTagsGet:      get(authed(pathTagsGet, e.tagsGet)),
		pathTagsUpdate:   post(authed(pathTagsUpdate, e.tagsUpdate)),
		pathTagsDelete:   post(authed(pathTagsDelete, e.tagsDelete)),
		pathTagsBatchTag: post(authed(pathTagsBatchTag, e.tagsBatchTag)),
		pathTagsBatchUn:  post(authed(pathTagsBatchUn, e.tagsBatchUntag)),
		pathTagsIDList:   post(authed(pathTagsIDList, e.tagsIDList)),
		pathUserTagGet:   post(authed(pathUserTagGet, e.userTagGet)),
		pathCardActivate: post(authed(pathCardActivate, e.cardActivate)),
		pathCardUpdate:   post(authed(pathCardUpdate, e.cardUpdateUser)),
	}
}

func (e *Emulator) authed(path string, f authedFunc) apiFunc {
	return func(c *call) (any, *apiError) {
		e.mu.Lock()
		defer e.mu.Unlock()
		a, err := e.authenticate(c.r)
		if err != nil {
			return nil, err
		}
		if err := e.spendQuota(a, path); err != nil {
			return nil, err
		}
		return f(a, c)
	}
}

// Handler serves the emulator: WeChat's API under /emu/cgi-bin and
// /emu/card, the QR image under /emu/showqrcode, and the emulator's own
// routes (accounts, shopper, inbox, faults).
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /emu/accounts", e.serveListAccounts)
	mux.HandleFunc("POST /emu/accounts", e.serveRegister)
	mux.HandleFunc("POST /emu/shopper", e.serveShopper)
	mux.HandleFunc("GET /emu/inbox", e.serveInbox)
	mux.HandleFunc("POST /emu/faults", e.serveAddFault)
	mux.HandleFunc("DELETE /emu/faults", e.serveClearFaults)
	mux.HandleFunc("GET /emu/stats", e.serveStats)
	mux.HandleFunc("POST /emu/groups/bridges", e.serveGroupBridges)
	mux.HandleFunc("POST /emu/groups/say", e.serveGroupSay)
	mux.HandleFunc("POST /emu/groups/callback", e.serveGroupCallback)
	mux.HandleFunc("GET /emu/groups/{group_id}/messages", e.serveGroupMessages)
	mux.HandleFunc(apiPrefix+pathShowQRCode, e.serveShowQRCode(pathShowQRCode))
	mux.HandleFunc(apiPrefix+pathCgiShowQRCode, e.serveShowQRCode(pathCgiShowQRCode))
	apis := e.apis()
	serveAPI := func(w http.ResponseWriter, r *http.Request) { e.serveAPI(w, r, apis) }
	mux.HandleFunc(apiPrefix+"/cgi-bin/", serveAPI)
	mux.HandleFunc(apiPrefix+"/card/", serveAPI)
	mux.HandleFunc(apiPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("emulator: no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// serveAPI answers one WeChat API call: faults first, then the method,
// then the API itself.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request, apis map[string]api) {
	path := strings.TrimPrefix(r.URL.Path, apiPrefix)
	e.countCall(path)
	if e.applyFault(w, r, path) {
		return
	}
	a, ok := apis[path]
	if !ok {
		// Real WeChat answers an unknown cgi-bin path with an HTML 404
		// page. A JSON 404 keeps that status (silenceper fails on any
		// non-200) while saying what is missing.
		writeWeChat(w, http.StatusNotFound, errBody{Code: codeSystemError,
			Msg: "emulator: " + path + " is not a WeChat API the emulator serves"})
		return
	}
	if r.Method != a.method {
		code := codeRequirePOST
		if a.method == http.MethodGet {
			code = codeRequireGET
		}
		writeAPIError(w, wxErr(code))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeAPIError(w, wxErr(codeSystemError))
		return
	}
	start := time.Now()
	out, apiErr := a.serve(&call{r: r, query: r.URL.Query(), body: body})
	if apiErr != nil {
		e.log.Debug("api refused", "path", path, "errcode", apiErr.Code, "detail", apiErr.Detail)
		writeAPIError(w, apiErr)
		return
	}
	e.log.Debug("api served", "path", path, "took", time.Since(start))
	writeWeChat(w, http.StatusOK, out)
}

// applyFault plays the next fault queued for path. It reports whether it
// answered the request; a pure delay lets the call go on normally.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, path string) bool {
	f, ok := e.takeFault(path)
	if !ok {
		return false
	}
	e.log.Info("fault applied", "path", path, "errcode", f.ErrCode, "status", f.Status, "delay_ms", f.DelayMS)
	if f.DelayMS > 0 {
		if err := sleep(r.Context(), time.Duration(f.DelayMS)*time.Millisecond); err != nil {
			return true // the caller gave up; nobody reads an answer
		}
	}
	switch {
	case f.Status != 0:
		writeWeChat(w, f.Status, errBody{Code: codeSystemError, Msg: fmt.Sprintf("emulator fault: HTTP %d", f.Status)})
		return true
	case f.ErrCode != 0:
		writeAPIError(w, &apiError{Code: f.ErrCode, Detail: "(emulator fault)"})
		return true
	}
	return false
}

type errBody struct {
	Code int    `json:"errcode"`
	Msg  string `json:"errmsg"`
}

// okBody is the {"errcode":0,"errmsg":"ok"} most write APIs answer.
func okBody() errBody { return errBody{Code: codeOK, Msg: errmsgs[codeOK]} }

func writeAPIError(w http.ResponseWriter, err *apiError) {
	writeWeChat(w, http.StatusOK, errBody{Code: err.Code, Msg: err.message()})
}

// writeWeChat writes JSON the way WeChat does: UTF-8, no HTML escaping.
func writeWeChat(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	body := []byte(`{"errcode":-1,"errmsg":"system error"}`)
	if err := enc.Encode(v); err == nil {
		body = buf.Bytes()
	} else {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON answers the emulator's own routes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// readJSON decodes an emulator-route body, refusing unknown fields so a
// typo in a test's request is not silently ignored.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("emulator: empty request body")
		}
		return fmt.Errorf("emulator: bad request body: %w", err)
	}
	return nil
}

func (e *Emulator) serveListAccounts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.publicAccounts())
}

func (e *Emulator) serveRegister(w http.ResponseWriter, r *http.Request) {
	var a Account
	if err := readJSON(r, &a); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := e.Register(a); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	for _, p := range e.publicAccounts() {
		if p.AppID == a.AppID {
			writeJSON(w, http.StatusCreated, p)
			return
		}
	}
}

func (e *Emulator) serveAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := readJSON(r, &f); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if f.Path == "" {
		writeError(w, http.StatusBadRequest, errors.New("emulator: a fault needs a path"))
		return
	}
	e.AddFault(f)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) serveClearFaults(w http.ResponseWriter, r *http.Request) {
	e.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

// Stats is what the emulator has served, for load runs and tests that
// count calls across processes (token fetches by a fleet of replicas).
type Stats struct {
	Calls map[string]int `json:"calls"` // API path -> calls, faults included
}

// Stats returns a copy of the call counts.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{Calls: cloneMap(e.calls)}
}

func (e *Emulator) countCall(path string) {
	e.mu.Lock()
	e.calls[path]++
	e.mu.Unlock()
}

func (e *Emulator) serveStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.Stats())
}
